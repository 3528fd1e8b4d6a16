from .component import recall_best_config

__all__ = ["recall_best_config"]
