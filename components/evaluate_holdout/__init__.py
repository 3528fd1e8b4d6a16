from .component import evaluate_holdout

__all__ = ["evaluate_holdout"]
