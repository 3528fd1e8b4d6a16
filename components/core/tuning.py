"""The Optuna study: TPE on the validation split, with pruning of hopeless trials."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import optuna
import pandas as pd
from sklearn.metrics import roc_auc_score

from .algorithms import Algorithm
from .errors import HyperparameterTuningError
from .search_space import suggest
from .training import best_iteration, fit, scores

XGBOOST_PRUNING_METRIC = "validation_0-auc"
ERROR_ATTR = "error"
BEST_ITERATION_ATTR = "best_iteration"


@dataclass
class TuningResult:
    """What a study found.

    Attributes:
        best_params: The hyperparameters of the best trial.
        best_value: Its validation AUC.
        best_iteration: Its early-stopping round, for boosted models.
        trials: One row per trial: number, state, value, duration and params.
    """

    best_params: dict
    best_value: float
    best_iteration: int | None
    trials: pd.DataFrame

    def count(self, state: str) -> int:
        """How many trials ended in a state (COMPLETE, PRUNED, FAIL)."""
        return int((self.trials["state"] == state).sum())


def _objective(algorithm: Algorithm, space: dict, seed: int, data: tuple) -> Callable:
    x_train, y_train, x_val, y_val = data

    def objective(trial: optuna.Trial) -> float:
        params = suggest(trial, space)
        callbacks = ()
        if algorithm.early_stopping:
            from optuna_integration import XGBoostPruningCallback

            callbacks = (XGBoostPruningCallback(trial, XGBOOST_PRUNING_METRIC),)
        try:
            model = fit(algorithm, params, seed, x_train, y_train, x_val, y_val, callbacks)
        except Exception as exc:
            # Pruning travels as an exception through xgboost; it is not a failure.
            cause = exc.__cause__ if isinstance(exc.__cause__, optuna.TrialPruned) else None
            if cause is not None:
                raise cause from None
            trial.set_user_attr(ERROR_ATTR, str(exc))
            raise
        trial.set_user_attr(BEST_ITERATION_ATTR, best_iteration(model))
        return float(roc_auc_score(y_val, scores(model, x_val)))

    return objective


def trials_table(study: optuna.Study) -> pd.DataFrame:
    """One row per trial with its state, validation value, duration and parameters."""
    rows = []
    for t in study.trials:
        duration = t.duration.total_seconds() if t.duration else None
        rows.append({
            "number": t.number,
            "state": t.state.name,
            "value": t.value,
            "duration_seconds": duration,
            **{f"param_{k}": v for k, v in t.params.items()},
            ERROR_ATTR: t.user_attrs.get(ERROR_ATTR),
        })
    return pd.DataFrame(rows)


def tune(algorithm: Algorithm, space: dict, data: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
         n_trials: int, seed: int, timeout: float | None = None,
         progress: Callable[[str], None] = print) -> TuningResult:
    """Runs a seeded TPE study maximising validation AUC.

    Args:
        algorithm: The registry entry.
        space: A validated search space.
        data: (x_train, y_train, x_val, y_val), already transformed.
        n_trials: Number of trials.
        seed: Seed of the sampler and of every estimator.
        timeout: Optional wall-clock limit in seconds.
        progress: Where progress lines go.

    Raises:
        HyperparameterTuningError: No trial completed; the message carries the first error.
    """
    if n_trials < 1:
        raise HyperparameterTuningError(f"n_trials must be at least 1, got {n_trials}")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=10),
    )
    started = time.monotonic()
    step = max(1, n_trials // 10)

    def report(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        done = trial.number + 1
        if done % step == 0 or done == n_trials:
            best = study.best_value if any(t.state.name == "COMPLETE" for t in study.trials) else float("nan")
            progress(f"tuning: trial {done}/{n_trials}, best validation AUC {best:.4f}, {time.monotonic() - started:.1f}s")

    study.optimize(
        _objective(algorithm, space, seed, data),
        n_trials=n_trials,
        timeout=timeout,
        catch=(Exception,),
        callbacks=[report],
    )
    table = trials_table(study)
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not complete:
        errors = [e for e in table.get(ERROR_ATTR, pd.Series(dtype=object)).dropna()]
        first = errors[0] if errors else "no trial completed"
        raise HyperparameterTuningError(f"all {len(study.trials)} trials of {algorithm.name} failed; first error: {first}")
    best = study.best_trial
    return TuningResult(best.params, float(best.value), best.user_attrs.get(BEST_ITERATION_ATTR), table)
