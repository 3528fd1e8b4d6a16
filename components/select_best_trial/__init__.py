from .component import select_best_trial

__all__ = ["select_best_trial"]
