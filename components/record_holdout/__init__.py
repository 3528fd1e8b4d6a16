from .component import record_holdout

__all__ = ["record_holdout"]
