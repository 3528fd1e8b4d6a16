"""Stage `tune_hyperparameters`: one worker's share of the shared Optuna study."""

from __future__ import annotations

from typing import Callable

from .. import endpoints, optuna_study, tuning
from . import StageResult, fit_inputs


def run(*, train_path: str, train_metadata: dict, validation_path: str, validation_metadata: dict,
        preprocessor_path: str, preprocessor_metadata: dict, algorithm: str, hyperparameter_space: str,
        default_hyperparameters: str, n_trials: int, tuning_workers: int, worker: int, seed: int,
        tuning_metric: str, tuning_timeout: float, warm_start: str, optuna_storage_url: str,
        progress: Callable[[str], None]) -> StageResult:
    """Runs this worker's share of a seeded TPE study in Optuna's storage.

    Args:
        train_path: The train split, which fits every trial's model.
        train_metadata: Its artifact metadata; it must carry the train role.
        validation_path: The validation split, which scores, early-stops and prunes trials.
        validation_metadata: Its artifact metadata; it must carry the validation role.
        preprocessor_path: The train-fitted preprocessor.
        preprocessor_metadata: Its artifact metadata (the split manifest it descends from).
        algorithm: A registered algorithm name.
        hyperparameter_space: A JSON search space, or empty for the algorithm's default.
        default_hyperparameters: JSON of fixed hyperparameters under the sampled ones.
        n_trials: Trials of the whole study.
        tuning_workers: How many workers share the study.
        worker: This worker's index.
        seed: Seed of the estimators (the sampler gets seed + worker).
        tuning_metric: auc, pr_auc or log_loss on validation.
        tuning_timeout: Wall-clock limit in seconds; 0 for none.
        warm_start: Parameters to try first, JSON or `null`.
        optuna_storage_url: Optuna storage (a database URL or journal://PATH), or empty to use OPTUNA_STORAGE_URL.
        progress: Receives progress lines while the trials run; a study takes long enough
            that they cannot wait for the result.

    Returns:
        As `value`, how many trials this worker ran now (0 when its share was already done).

    Raises:
        DataLeakageError: An input has the wrong role or another split manifest, a split's
            content is not the manifest's split of its role, or the preprocessor was not
            fitted on the manifest's train split.
        HyperparameterTuningError: A malformed space or default.
    """
    inputs = fit_inputs.read("tune_hyperparameters", train_path=train_path, train_metadata=train_metadata,
                             validation_path=validation_path, validation_metadata=validation_metadata,
                             preprocessor_path=preprocessor_path, preprocessor_metadata=preprocessor_metadata)
    spec = optuna_study.study_spec(split_manifest=inputs.manifest.fingerprint, algorithm=algorithm,
                             hyperparameter_space=hyperparameter_space, default_hyperparameters=default_hyperparameters,
                             seed=seed, metric=tuning_metric, n_trials=n_trials, warm_start=warm_start)
    data = (inputs.x_train, inputs.y_train, inputs.x_val, inputs.y_val)
    ran = tuning.run_worker(
        spec, data, storage=endpoints.optuna_storage(optuna_storage_url),
        n_trials=tuning.worker_share(n_trials, tuning_workers, worker), worker=worker,
        timeout=tuning_timeout or None, progress=progress,
    )
    return StageResult(value=ran)
