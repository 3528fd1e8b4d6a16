"""Stage `tune_hyperparameters`: one worker's share of the shared Optuna study."""

from __future__ import annotations

from typing import Callable

from .. import endpoints, engines, optuna_study, tuning
from . import StageResult, fit_inputs


def run(*, train_path: str, train_metadata: dict, validation_path: str, validation_metadata: dict,
        preprocessor_path: str, preprocessor_metadata: dict, algorithm: str, hyperparameter_space: str,
        default_hyperparameters: str, n_trials: int, tuning_workers: int, worker: int, seed: int,
        tuning_metric: str, tuning_timeout: float, warm_start: str, optuna_storage_url: str,
        progress: Callable[[str], None], engine: str = engines.PANDAS, dask_scheduler: str = "",
        dask_workers: int = 0) -> StageResult:
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
        engine: "pandas" (in this process) or "dask" (`engines`): each trial trains with
            xgboost.dask and is pruned as in pandas (`distributed.tuning`).
        dask_scheduler: With dask, a running scheduler's address; empty starts a cluster for the task
            (`engines.dask_session`).
        dask_workers: With dask and no scheduler, the task's cluster's workers; 0 sizes a
            LocalCluster to the machine.

    Returns:
        As `value`, how many trials this worker ran now (0 when its share was already done).

    Raises:
        DataLeakageError: An input has the wrong role or another split manifest, a split's
            content is not the manifest's split of its role, or the preprocessor was not
            fitted on the manifest's train split.
        HyperparameterTuningError: A malformed space or default.
    """
    if engines.check_engine(engine) == engines.DASK:
        from ..distributed import tuning as dask_tuning

        with engines.dask_session(dask_scheduler, dask_workers) as client:
            inputs = fit_inputs.read("tune_hyperparameters", train_path=train_path, train_metadata=train_metadata,
                                     validation_path=validation_path, validation_metadata=validation_metadata,
                                     preprocessor_path=preprocessor_path, preprocessor_metadata=preprocessor_metadata,
                                     engine=engine)
            spec = _spec(inputs.manifest.fingerprint, algorithm, hyperparameter_space, default_hyperparameters, seed,
                         tuning_metric, n_trials, warm_start)
            ran = dask_tuning.run_worker(
                spec, client, inputs.train, inputs.validation, inputs.preprocessor,
                storage=endpoints.optuna_storage(optuna_storage_url),
                n_trials=tuning.worker_share(n_trials, tuning_workers, worker), worker=worker,
                timeout=tuning_timeout or None, progress=progress,
            )
        return StageResult(value=ran)
    inputs = fit_inputs.read("tune_hyperparameters", train_path=train_path, train_metadata=train_metadata,
                             validation_path=validation_path, validation_metadata=validation_metadata,
                             preprocessor_path=preprocessor_path, preprocessor_metadata=preprocessor_metadata)
    spec = _spec(inputs.manifest.fingerprint, algorithm, hyperparameter_space, default_hyperparameters, seed,
                 tuning_metric, n_trials, warm_start)
    data = (inputs.x_train, inputs.y_train, inputs.x_val, inputs.y_val)
    ran = tuning.run_worker(
        spec, data, storage=endpoints.optuna_storage(optuna_storage_url),
        n_trials=tuning.worker_share(n_trials, tuning_workers, worker), worker=worker,
        timeout=tuning_timeout or None, progress=progress,
    )
    return StageResult(value=ran)


def _spec(manifest: str, algorithm: str, space: str, defaults: str, seed: int, metric: str, n_trials: int,
          warm_start: str) -> optuna_study.StudySpec:
    return optuna_study.study_spec(split_manifest=manifest, algorithm=algorithm, hyperparameter_space=space,
                                   default_hyperparameters=defaults, seed=seed, metric=metric, n_trials=n_trials,
                                   warm_start=warm_start)
