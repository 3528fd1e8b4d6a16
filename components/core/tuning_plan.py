"""The tuning plan's checks: algorithm, objective, search space, defaults and worker count.

Kept apart from `tuning` so that the plan-tuning task and the CLI's pre-flight validate a plan
without importing Optuna, pandas or scikit-learn.
"""

from __future__ import annotations

from .algorithms import get_algorithm
from .constants import AUC, LOG_LOSS, PR_AUC
from .errors import HyperparameterTuningError, InvalidInputError
from .search_space import load_defaults, load_space

# Tuning objective -> Optuna direction of its validation score.
DIRECTIONS = {AUC: "maximize", PR_AUC: "maximize", LOG_LOSS: "minimize"}


def check_objective(metric: str) -> str:
    """Returns the Optuna direction of a tuning objective.

    Raises:
        InvalidInputError: Unknown objective.
    """
    if metric not in DIRECTIONS:
        raise InvalidInputError(f"tuning metric must be one of {sorted(DIRECTIONS)}, got {metric!r}")
    return DIRECTIONS[metric]


def plan(algorithm: str, hyperparameter_space: str, default_hyperparameters: str, n_trials: int, workers: int,
         metric: str) -> list[int]:
    """Validates a tuning plan before any trial runs and returns the worker indices.

    Raises:
        HyperparameterTuningError: A malformed space or default (naming the parameter), or
            a trial or worker count below 1, or more workers than trials.
        InvalidInputError: An unknown algorithm or objective.
    """
    algo = get_algorithm(algorithm)
    check_objective(metric)
    load_space(hyperparameter_space, algo)
    load_defaults(default_hyperparameters, algo)
    if n_trials < 1 or workers < 1:
        raise HyperparameterTuningError(f"n_trials and tuning_workers must be at least 1, got {n_trials} and {workers}")
    if workers > n_trials:
        raise HyperparameterTuningError(f"{workers} tuning workers for {n_trials} trials would leave workers idle")
    return list(range(workers))
