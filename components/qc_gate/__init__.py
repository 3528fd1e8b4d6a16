from .component import qc_gate

__all__ = ["qc_gate"]
