"""The registry of algorithms: how to build each, its framework and default search space.

Adding an algorithm is one `Algorithm` entry in `REGISTRY`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from .errors import InvalidInputError

EARLY_STOPPING_ROUNDS = 30
XGBOOST_MAX_ROUNDS = 1000


def _xgboost(params: dict, seed: int) -> Any:
    from xgboost import XGBClassifier

    fixed = {"n_estimators": XGBOOST_MAX_ROUNDS, "early_stopping_rounds": EARLY_STOPPING_ROUNDS,
             "eval_metric": "auc", "tree_method": "hist"}
    return XGBClassifier(random_state=seed, **{**fixed, **params})


def _logistic_regression(params: dict, seed: int) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=2000, random_state=seed, **params)


def _random_forest(params: dict, seed: int) -> Any:
    from sklearn.ensemble import RandomForestClassifier

    # One job: threaded prediction sums trees in a racy order, and reruns must match bit for bit.
    return RandomForestClassifier(random_state=seed, n_jobs=1, **params)


def _hist_gradient_boosting(params: dict, seed: int) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier

    # Early stopping on a slice of train would break "validation is for tuning": off.
    return HistGradientBoostingClassifier(random_state=seed, early_stopping=False, **params)


def _float(low: float, high: float, log: bool = False) -> dict:
    return {"type": "float", "low": low, "high": high, "log": log}


def _int(low: int, high: int, step: int = 1) -> dict:
    return {"type": "int", "low": low, "high": high, "step": step}


@dataclass(frozen=True)
class Algorithm:
    """One trainable algorithm.

    Attributes:
        name: The registry key (`--algorithm`).
        framework: The library that trains it, as recorded in the run table.
        build: Makes an unfitted estimator from hyperparameters and a seed.
        default_space: The search space used when the candidate gives none.
        early_stopping: Whether fitting watches the validation split to stop early.
        grow_param: The size parameter (trees, iterations) that `warm_start` grows in
            stages, so a tuning trial can report intermediate values and be pruned.
    """

    name: str
    framework: str
    build: Callable[[dict, int], Any]
    default_space: dict = field(default_factory=dict)
    early_stopping: bool = False
    grow_param: str | None = None

    def tunable(self) -> set[str]:
        """The hyperparameter names the estimator accepts."""
        return set(self.build({}, 0).get_params())


REGISTRY = {
    a.name: a
    for a in (
        Algorithm(
            "xgboost",
            "xgboost",
            _xgboost,
            {
                "learning_rate": _float(0.01, 0.3, log=True),
                "max_depth": _int(2, 8),
                "min_child_weight": _float(1.0, 10.0, log=True),
                "subsample": _float(0.5, 1.0),
                "colsample_bytree": _float(0.5, 1.0),
                "reg_lambda": _float(1e-3, 10.0, log=True),
                "reg_alpha": _float(1e-3, 10.0, log=True),
            },
            early_stopping=True,
        ),
        Algorithm("logistic_regression", "sklearn", _logistic_regression, {"C": _float(1e-3, 100.0, log=True)}),
        Algorithm(
            "random_forest",
            "sklearn",
            _random_forest,
            {
                "n_estimators": _int(100, 400, step=50),
                "max_depth": _int(3, 16),
                "min_samples_leaf": _int(1, 20),
                "max_features": ["sqrt", "log2", 0.5],
            },
            grow_param="n_estimators",
        ),
        Algorithm(
            "hist_gradient_boosting",
            "sklearn",
            _hist_gradient_boosting,
            {
                "learning_rate": _float(0.01, 0.3, log=True),
                "max_iter": _int(50, 400, step=50),
                "max_leaf_nodes": _int(8, 64),
                "min_samples_leaf": _int(5, 100),
                "l2_regularization": _float(1e-4, 10.0, log=True),
            },
            grow_param="max_iter",
        ),
    )
}


def get_algorithm(name: str) -> Algorithm:
    """Looks an algorithm up by name.

    Raises:
        InvalidInputError: The name is not registered.
    """
    try:
        return REGISTRY[name]
    except KeyError:
        raise InvalidInputError(f"unknown algorithm {name!r}; choose one of {sorted(REGISTRY)}") from None
