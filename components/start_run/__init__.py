from .component import start_run

__all__ = ["start_run"]
