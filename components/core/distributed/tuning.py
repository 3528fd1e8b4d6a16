"""A tuning worker whose trials train with xgboost.dask: the study, its storage and its seeds as `tuning`'s.

No trial is pruned on Dask: `xgboost.dask` trains on the workers, where a callback cannot
stop the boosting for an Optuna trial held by the task, so every trial boosts to its early
stop on validation and reports one value. The study is the same one (`optuna_study`), so its
trials, best value and `select_best_trial` are unchanged.
"""

from __future__ import annotations

from typing import Callable

import dask
import dask.dataframe as dd
import optuna
from distributed import Client

from ..constants import LABEL_COLUMN
from ..optuna_study import BEST_ITERATION_ATTR, ERROR_ATTR, WORKER_ATTR, StudySpec
from ..preprocessing import Preprocessor
from ..search_space import suggest
from ..training import best_iteration
from ..tuning import SCORERS, run_share
from . import training


def validation_score(model, validation: dd.DataFrame, preprocessor: Preprocessor, metric: str) -> float:
    """The tuning metric of a model on a Dask validation split (only its scores and labels are collected)."""
    scores, labels = dask.compute(training.scores(model, validation, preprocessor), validation[LABEL_COLUMN])
    return float(SCORERS[metric](labels.to_numpy(), scores.to_numpy()))


def run_worker(spec: StudySpec, client: Client, train: dd.DataFrame, validation: dd.DataFrame,
               preprocessor: Preprocessor, *, storage: str, n_trials: int, worker: int = 0,
               timeout: float | None = None, progress: Callable[[str], None] = print) -> int:
    """Runs one worker's share of a shared study on Dask, as `tuning.run_worker`; returns the trials it ran now."""
    # Before the study: a trial would only record the refusal as its failure.
    training.distributed_algorithm(spec.algorithm.name)

    def objective(trial: optuna.Trial) -> float:
        trial.set_user_attr(WORKER_ATTR, worker)
        params = {**spec.defaults, **suggest(trial, spec.space)}
        try:
            model = training.fit(client, spec.algorithm.name, params, spec.seed, train, validation, preprocessor,
                                 metric=spec.metric)
        except Exception as exc:
            trial.set_user_attr(ERROR_ATTR, str(exc))
            raise
        trial.set_user_attr(BEST_ITERATION_ATTR, best_iteration(model))
        return validation_score(model, validation, preprocessor, spec.metric)

    return run_share(spec, lambda opened: objective, storage=storage, n_trials=n_trials, worker=worker,
                     timeout=timeout, progress=progress)
