from .component import holdout_gate

__all__ = ["holdout_gate"]
