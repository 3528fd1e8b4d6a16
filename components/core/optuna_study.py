"""The Optuna study itself: its name, its storage, and what it found.

A study lives in Optuna's storage (a journal file locally, Postgres on a cluster) under a
name derived from everything that defines it, so any number of workers share it, a retried
worker resumes it, and an identical rerun finds it complete instead of searching again.
Reading a study needs neither the models nor the scorers (`tuning` runs the trials), so
select-best-trial starts without loading scikit-learn or xgboost.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass

import optuna
import pandas as pd

from .algorithms import Algorithm, get_algorithm
from .endpoints import journal_path
from .errors import HyperparameterTuningError
from .search_space import load_defaults, load_space
from .tuning_plan import check_objective

ERROR_ATTR = "error"
BEST_ITERATION_ATTR = "best_iteration"
WORKER_ATTR = "worker"
# Tries, and the wait between them, of a worker that lost the race to create a fresh database's tables.
SCHEMA_ATTEMPTS = 5
SCHEMA_RETRY_SECONDS = 1.0


@dataclass
class TuningResult:
    """What a study found.

    Attributes:
        best_params: The hyperparameters of the best trial.
        best_value: Its validation objective.
        best_iteration: Its early-stopping round, for boosted models.
        trials: One row per trial: number, worker, state, value, duration and params.
    """

    best_params: dict
    best_value: float
    best_iteration: int | None
    trials: pd.DataFrame

    def count(self, state: str) -> int:
        """How many trials ended in a state (COMPLETE, PRUNED, FAIL)."""
        return int((self.trials["state"] == state).sum())


@dataclass(frozen=True)
class StudySpec:
    """Everything that defines a study; its name is derived from it and from nothing else.

    Attributes:
        split_manifest: Fingerprint of the split manifest the data comes from.
        algorithm: The registry entry.
        space: The validated search space.
        defaults: Fixed hyperparameters under the sampled ones.
        seed: Seed of the estimators (and, plus the worker index, of the sampler).
        metric: auc, pr_auc or log_loss on validation.
        n_trials: Trials of the whole study.
        warm_start: Parameters to try first (procedural memory), or None.
    """

    split_manifest: str
    algorithm: Algorithm
    space: dict
    defaults: dict
    seed: int
    metric: str
    n_trials: int
    warm_start: dict | None

    @property
    def name(self) -> str:
        """A study name that changes with anything that defines the search, and only with that."""
        identity = {"split_manifest": self.split_manifest, "algorithm": self.algorithm.name, "space": self.space,
                    "defaults": self.defaults, "seed": self.seed, "metric": self.metric, "n_trials": self.n_trials,
                    "warm_start": self.warm_start}
        digest = hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()
        return f"sealtrain-{digest[:20]}"


def study_spec(*, split_manifest: str, algorithm: str, hyperparameter_space: str, default_hyperparameters: str,
               seed: int, metric: str, n_trials: int, warm_start: str) -> StudySpec:
    """Builds a study's spec from the pipeline's text parameters, validating them.

    Args:
        warm_start: JSON of the parameters to try first, or `null`.

    Raises:
        HyperparameterTuningError: A malformed space or default, naming the parameter.
    """
    algo = get_algorithm(algorithm)
    check_objective(metric)
    return StudySpec(split_manifest, algo, load_space(hyperparameter_space, algo),
                     load_defaults(default_hyperparameters, algo), seed, metric, n_trials, json.loads(warm_start))


def open_storage(url: str) -> optuna.storages.RDBStorage | optuna.storages.JournalStorage:
    """Optuna's storage at a URL: a journal file for `journal://PATH`, else a database.

    The journal's file lock lets the workers of one machine share it. Workers that open a
    fresh database together race to create Optuna's tables; the loser retries until the
    winner has made them.
    """
    path = journal_path(url)
    if path is not None:
        return optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(path))
    import sqlalchemy as sa

    for attempt in range(1, SCHEMA_ATTEMPTS + 1):
        try:
            return optuna.storages.RDBStorage(url)
        except (sa.exc.IntegrityError, sa.exc.OperationalError) as exc:
            # SQLite reports a lost race as "table ... already exists", PostgreSQL as a unique violation.
            lost_race = isinstance(exc, sa.exc.IntegrityError) or "already exists" in str(exc)
            if not lost_race or attempt == SCHEMA_ATTEMPTS:
                raise
            time.sleep(SCHEMA_RETRY_SECONDS)


def open_study(storage: optuna.storages.BaseStorage, name: str, metric: str, seed: int) -> optuna.Study:
    """Creates or loads a study."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.create_study(
        storage=storage,
        study_name=name,
        direction=check_objective(metric),
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1),
        load_if_exists=True,
    )


def trials_table(study: optuna.Study) -> pd.DataFrame:
    """One row per trial with its worker, state, validation value, duration and parameters."""
    rows = []
    for t in study.trials:
        rows.append({
            "number": t.number,
            WORKER_ATTR: t.user_attrs.get(WORKER_ATTR),
            "state": t.state.name,
            "value": t.value,
            "duration_seconds": t.duration.total_seconds() if t.duration else None,
            **{f"param_{k}": v for k, v in t.params.items()},
            ERROR_ATTR: t.user_attrs.get(ERROR_ATTR),
        })
    return pd.DataFrame(rows)


def collect(storage: str, spec: StudySpec) -> TuningResult:
    """Reads a finished study.

    Raises:
        HyperparameterTuningError: The study is missing or no trial completed; the message
            carries the first error.
    """
    try:
        study = optuna.load_study(study_name=spec.name, storage=open_storage(storage))
    except KeyError as exc:
        raise HyperparameterTuningError(
            f"study {spec.name} is not in the tuning storage; if the storage was reset, rerun without the cache"
        ) from exc
    table = trials_table(study)
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not complete:
        errors = table[ERROR_ATTR].dropna().tolist() if len(table) else []
        first = errors[0] if errors else "no trial completed"
        raise HyperparameterTuningError(
            f"all {len(study.trials)} trials of {spec.algorithm.name} failed; first error: {first}"
        )
    best = study.best_trial
    return TuningResult(best.params, float(best.value), best.user_attrs.get(BEST_ITERATION_ATTR), table)
