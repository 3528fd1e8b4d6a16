"""Fitting one model: the train split fits it, the validation split only stops it early."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .algorithms import Algorithm
from .errors import TrainingFailedError


def fit(algorithm: Algorithm, params: dict, seed: int, x_train: np.ndarray, y_train: np.ndarray,
        x_val: np.ndarray, y_val: np.ndarray, callbacks: Sequence[Any] = ()) -> Any:
    """Fits an estimator on the train split.

    Args:
        algorithm: The registry entry.
        params: Hyperparameters on top of the algorithm's fixed settings.
        seed: Random seed of the estimator.
        x_train: Transformed train features.
        y_train: Train labels.
        x_val: Transformed validation features, used only for early stopping.
        y_val: Validation labels, likewise.
        callbacks: Extra xgboost callbacks (pruning during tuning).

    Raises:
        TrainingFailedError: The estimator rejected the parameters or the data.
    """
    try:
        model = algorithm.build(params, seed)
        if algorithm.early_stopping:
            if callbacks:
                model.set_params(callbacks=list(callbacks))
            model.fit(x_train, y_train, eval_set=[(x_val, y_val)], verbose=False)
            # Callbacks hold an Optuna trial; they do not belong in the saved model.
            model.set_params(callbacks=None)
        else:
            model.fit(x_train, y_train)
    except Exception as exc:  # estimators raise ValueError, XGBoostError, MemoryError...
        raise TrainingFailedError(f"{algorithm.name} failed to fit with {params}: {exc}") from exc
    return model


def best_iteration(model: Any) -> int | None:
    """The early-stopping round of a boosted model, if it has one."""
    value = getattr(model, "best_iteration", None)
    return int(value) if value is not None else None


def scores(model: Any, x: np.ndarray) -> np.ndarray:
    """The predicted probability of the positive class."""
    return model.predict_proba(x)[:, 1]
