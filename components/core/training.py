"""Fitting one model: the train split fits it, the validation split only stops it early."""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from .algorithms import Algorithm
from .errors import TrainingFailedError

STAGES = 4
# The xgboost evaluation metric that early-stops (and prunes) for each tuning objective.
XGBOOST_EVAL_METRIC = {"auc": "auc", "pr_auc": "aucpr", "log_loss": "logloss"}


def fit(algorithm: Algorithm, params: dict, seed: int, x_train: np.ndarray, y_train: np.ndarray,
        x_val: np.ndarray | None, y_val: np.ndarray | None, *, metric: str = "auc",
        callbacks: Sequence[Any] = (), on_stage: Callable[[Any, int], None] | None = None) -> Any:
    """Fits an estimator on the train split.

    Args:
        algorithm: The registry entry.
        params: Hyperparameters on top of the algorithm's fixed settings.
        seed: Random seed of the estimator.
        x_train: Transformed train features.
        y_train: Train labels.
        x_val: Transformed validation features, used only for early stopping.
        y_val: Validation labels, likewise.
        metric: The tuning objective; boosting stops early on its xgboost counterpart.
        callbacks: Extra xgboost callbacks (pruning during tuning).
        on_stage: Called with the model after each of `STAGES` warm-started stages of an
            algorithm with a `grow_param`, so a tuning trial can report and be pruned.
            The staged model equals the one fitted at once (scikit-learn's warm start
            keeps the random stream).

    Raises:
        TrainingFailedError: The estimator rejected the parameters or the data.
    """
    try:
        model = algorithm.build(params, seed)
        if algorithm.early_stopping:
            model.set_params(eval_metric=XGBOOST_EVAL_METRIC[metric], callbacks=list(callbacks) or None)
            model.fit(x_train, y_train, eval_set=[(x_val, y_val)], verbose=False)
            # Callbacks hold an Optuna trial; they do not belong in the saved model.
            model.set_params(callbacks=None)
        elif algorithm.grow_param and on_stage is not None:
            target = model.get_params()[algorithm.grow_param]
            model.set_params(warm_start=True)
            for stage in range(1, STAGES + 1):
                model.set_params(**{algorithm.grow_param: max(1, round(target * stage / STAGES))})
                model.fit(x_train, y_train)
                on_stage(model, stage)
            model.set_params(warm_start=False)
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
