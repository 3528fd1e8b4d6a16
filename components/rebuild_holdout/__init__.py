from .component import rebuild_holdout

__all__ = ["rebuild_holdout"]
