"""Stage `tune_hyperparameters`: one worker's share of the shared Optuna study."""

from __future__ import annotations

from typing import Callable

from .. import endpoints, lineage, tuning
from ..constants import META_TRAIN_FINGERPRINT, TRAIN, VALIDATION
from ..preprocessing import Preprocessor, transform_split
from . import StageResult


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
    consumer = "tune_hyperparameters"
    lineage.require_role(train_metadata, TRAIN, f"{consumer} (train input)")
    lineage.require_role(validation_metadata, VALIDATION, f"{consumer} (validation input)")
    manifest = lineage.require_same_manifest(consumer, train=train_metadata, validation=validation_metadata,
                                             preprocessor=preprocessor_metadata)
    fitted = Preprocessor.load(preprocessor_path)
    lineage.verify_fitted_on_train(consumer, manifest, {
        "preprocessor": preprocessor_metadata.get(META_TRAIN_FINGERPRINT),
        "preprocessor file": fitted.train_fingerprint,
    })
    train = lineage.read_split(train_path, TRAIN, consumer, manifest)
    validation = lineage.read_split(validation_path, VALIDATION, consumer, manifest)
    spec = tuning.study_spec(split_manifest=manifest.fingerprint, algorithm=algorithm,
                             hyperparameter_space=hyperparameter_space, default_hyperparameters=default_hyperparameters,
                             seed=seed, metric=tuning_metric, n_trials=n_trials, warm_start=warm_start)
    data = (*transform_split(fitted, train), *transform_split(fitted, validation))
    ran = tuning.run_worker(
        spec, data, storage=endpoints.optuna_storage(optuna_storage_url),
        n_trials=tuning.worker_share(n_trials, tuning_workers, worker), worker=worker,
        timeout=tuning_timeout or None, progress=progress,
    )
    return StageResult(value=ran)
