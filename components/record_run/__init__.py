from .component import record_run

__all__ = ["record_run"]
