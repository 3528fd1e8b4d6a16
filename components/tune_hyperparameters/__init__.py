from .component import tune_hyperparameters

__all__ = ["tune_hyperparameters"]
