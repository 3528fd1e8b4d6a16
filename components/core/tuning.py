"""Running the trials: seeded TPE on the validation split, pruning, and parallel workers.

Each worker only tops up its own share of the study's trials (`study`), so a retried worker
resumes. Pruning is decided in the worker (`pruning`).
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np
import optuna
from sklearn import metrics as skm

from .algorithms import Algorithm
from .optuna_study import BEST_ITERATION_ATTR, ERROR_ATTR, WORKER_ATTR, StudySpec, open_storage, open_study
from .pruning import TrialCurve, XGBoostRounds
from .search_space import suggest
from .training import XGBOOST_EVAL_METRIC, best_iteration, fit, scores

# Tuning objective -> score of validation labels and scores (directions: `tuning_plan`).
SCORERS = {
    "auc": skm.roc_auc_score,
    "pr_auc": skm.average_precision_score,
    "log_loss": lambda y, p: skm.log_loss(y, p, labels=[0, 1]),
}


def worker_share(n_trials: int, workers: int, worker: int) -> int:
    """How many of the study's trials one worker runs."""
    return n_trials // workers + (1 if worker < n_trials % workers else 0)


def _objective(algorithm: Algorithm, space: dict, defaults: dict, seed: int, metric: str, worker: int,
               data: tuple, storage: optuna.storages.RDBStorage | optuna.storages.JournalStorage) -> Callable:
    x_train, y_train, x_val, y_val = data
    score = SCORERS[metric]

    def objective(trial: optuna.Trial) -> float:
        trial.set_user_attr(WORKER_ATTR, worker)
        params = {**defaults, **suggest(trial, space)}
        curve = TrialCurve(trial, storage)
        callbacks = (XGBoostRounds(curve, "validation_0", XGBOOST_EVAL_METRIC[metric]),) if algorithm.early_stopping \
            else ()

        def on_stage(model, stage: int) -> None:
            curve.report(float(score(y_val, scores(model, x_val))), stage)

        try:
            model = fit(algorithm, params, seed, x_train, y_train, x_val, y_val, metric=metric,
                        callbacks=callbacks, on_stage=on_stage)
        except Exception as exc:
            # Pruning travels as an exception through the estimator; it is not a failure.
            if isinstance(exc.__cause__, optuna.TrialPruned):
                raise exc.__cause__ from None
            trial.set_user_attr(ERROR_ATTR, str(exc))
            raise
        finally:
            # Before Optuna ends the trial: a pruned trial's value is its last intermediate value.
            curve.save()
        trial.set_user_attr(BEST_ITERATION_ATTR, best_iteration(model))
        return float(score(y_val, scores(model, x_val)))

    return objective


def run_worker(spec: StudySpec, data: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], *, storage: str,
               n_trials: int, worker: int = 0, timeout: float | None = None,
               progress: Callable[[str], None] = print) -> int:
    """Runs one worker's share of a shared study; returns how many trials it ran now.

    Args:
        spec: The study.
        data: (x_train, y_train, x_val, y_val), already transformed.
        storage: Optuna storage URL: a database or `journal://PATH`.
        n_trials: This worker's share of trials; trials it already finished count.
        worker: This worker's index.
        timeout: Optional wall-clock limit in seconds.
        progress: Where progress lines go.
    """
    def objective(opened: optuna.storages.BaseStorage) -> Callable[[optuna.Trial], float]:
        return _objective(spec.algorithm, spec.space, spec.defaults, spec.seed, spec.metric, worker, data, opened)

    return run_share(spec, objective, storage=storage, n_trials=n_trials, worker=worker, timeout=timeout,
                     progress=progress)


def run_share(spec: StudySpec, objective: Callable[[optuna.storages.BaseStorage], Callable[[optuna.Trial], float]],
              *, storage: str, n_trials: int, worker: int, timeout: float | None,
              progress: Callable[[str], None]) -> int:
    """Runs one worker's share of a shared study with an objective built on the opened storage
    (whatever trains the trials: in this process, or on a Dask cluster); returns the trials it ran now."""
    metric, name = spec.metric, spec.name
    opened = open_storage(storage)
    study = open_study(opened, name, metric, spec.seed + worker)
    done = sum(1 for t in study.trials if t.user_attrs.get(WORKER_ATTR) == worker and t.state.is_finished())
    remaining = n_trials - done
    if spec.warm_start and worker == 0 and not study.trials:
        study.enqueue_trial({k: v for k, v in spec.warm_start.items() if k in spec.space}, skip_if_exists=True)
    if remaining <= 0:
        progress(f"tuning worker {worker}: its {n_trials} trials are already in study {name}")
        return 0
    started, step = time.monotonic(), max(1, remaining // 10)

    def report(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        mine = sum(1 for t in study.trials if t.user_attrs.get(WORKER_ATTR) == worker and t.state.is_finished())
        if (mine - done) % step == 0 or mine == n_trials:
            complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
            best = f"{study.best_value:.4f}" if complete else "none yet"
            progress(f"tuning worker {worker}: trial {mine}/{n_trials}, best validation {metric} {best}, "
                     f"{time.monotonic() - started:.1f}s")

    study.optimize(objective(opened), n_trials=remaining, timeout=timeout, catch=(Exception,), callbacks=[report])
    return remaining
