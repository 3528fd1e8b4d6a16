"""Stage `select_best_trial`: the best trial of the study every worker shared."""

from __future__ import annotations

import json
from pathlib import Path

from .. import endpoints, lineage, optuna_study, tuning_plan
from ..constants import META_MANIFEST_FINGERPRINT
from ..report import render_tuning_report
from . import StageResult

TRIAL_STATES = ("COMPLETE", "PRUNED", "FAIL")


def run(*, preprocessor_metadata: dict, algorithm: str, hyperparameter_space: str, default_hyperparameters: str,
        n_trials: int, seed: int, tuning_metric: str, warm_start: str, optuna_storage_url: str, workers: int,
        best_hyperparameters_path: str, trials_path: str, history_path: str) -> StageResult:
    """Reads the finished study and writes its best configuration, trials and history.

    Args:
        preprocessor_metadata: The preprocessor's artifact metadata; its split manifest names
            the study together with the other parameters.
        algorithm: The algorithm tuned.
        hyperparameter_space: The JSON search space, or empty for the default.
        default_hyperparameters: JSON of fixed hyperparameters.
        n_trials: Trials of the whole study.
        seed: The tuning seed.
        tuning_metric: The validation objective.
        warm_start: The parameters tried first (JSON or `null`).
        optuna_storage_url: Optuna storage (a database URL or journal://PATH), or empty to use OPTUNA_STORAGE_URL.
        workers: How many workers ran the study.
        best_hyperparameters_path: Where the best configuration (JSON) goes.
        trials_path: Where the trial table (CSV) goes.
        history_path: Where the optimisation history (HTML) goes.

    Returns:
        Metadata of `best_hyperparameters` (best validation value, split manifest, trial
        counts by state) and a summary line.

    Raises:
        DataLeakageError: The preprocessor names no split manifest.
        HyperparameterTuningError: The study is missing or no trial completed.
    """
    manifest = lineage.require_same_manifest("select_best_trial", preprocessor=preprocessor_metadata)
    spec = optuna_study.study_spec(split_manifest=manifest.fingerprint, algorithm=algorithm,
                             hyperparameter_space=hyperparameter_space, default_hyperparameters=default_hyperparameters,
                             seed=seed, metric=tuning_metric, n_trials=n_trials, warm_start=warm_start)
    result = optuna_study.collect(endpoints.optuna_storage(optuna_storage_url), spec)
    result.trials.to_csv(trials_path, index=False)
    counts = {state: result.count(state) for state in TRIAL_STATES}
    Path(best_hyperparameters_path).write_text(json.dumps({
        "algorithm": algorithm,
        "params": {**spec.defaults, **result.best_params},
        "best_value": result.best_value,
        "best_iteration": result.best_iteration,
        "metric": tuning_metric,
        "hyperparameter_space": spec.space,
        "study": spec.name,
        "tuning_trials": len(result.trials),
        "workers": workers,
        "trial_states": counts,
        "warm_start": spec.warm_start,
        "seed": seed,
    }, indent=2))
    Path(history_path).write_text(render_tuning_report(
        result.trials, tuning_metric, tuning_plan.check_objective(tuning_metric), f"sealtrain tuning: {algorithm}"
    ))
    return StageResult(
        metadata={"best_hyperparameters": {
            f"best_validation_{tuning_metric}": result.best_value,
            META_MANIFEST_FINGERPRINT: manifest.fingerprint,
            **{state: float(count) for state, count in counts.items()},
        }},
        lines=[f"study {spec.name}: {len(result.trials)} trials ({counts}), best validation {tuning_metric} "
               f"{result.best_value:.4f}"],
    )
