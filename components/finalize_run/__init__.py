from .component import finalize_run

__all__ = ["finalize_run"]
