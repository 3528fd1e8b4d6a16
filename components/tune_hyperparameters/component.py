"""KFP component: one worker of the Optuna study on the validation split."""

from kfp import dsl
from kfp.dsl import Dataset, Input, Model

from sealtrain.components.runtime import DEFAULT_IMAGE


@dsl.component(base_image=DEFAULT_IMAGE, install_kfp_package=False)
def tune_hyperparameters(
    train: Input[Dataset],
    validation: Input[Dataset],
    preprocessor: Input[Model],
    algorithm: str,
    hyperparameter_space: str,
    default_hyperparameters: str,
    n_trials: int,
    tuning_workers: int,
    worker: int,
    seed: int,
    tuning_metric: str,
    tuning_timeout: float,
    warm_start: str,
    optuna_storage_url: str,
    engine: str = "pandas",
    dask_scheduler: str = "",
    dask_workers: int = 0,
) -> int:
    """Runs this worker's share of a seeded TPE study shared through Optuna's storage.

    Args:
        train: The train split, which fits every trial's model.
        validation: The validation split, which scores, early-stops and prunes trials.
        preprocessor: The train-fitted preprocessor.
        algorithm: A registered algorithm name.
        hyperparameter_space: A JSON search space, or empty for the algorithm's default.
        default_hyperparameters: JSON of fixed hyperparameters under the sampled ones.
        n_trials: Trials of the whole study.
        tuning_workers: How many workers share the study.
        worker: This worker's index.
        seed: Seed of the estimators (the sampler gets seed + worker).
        tuning_metric: auc, pr_auc or log_loss on validation.
        tuning_timeout: Wall-clock limit of this worker in seconds; 0 for none.
        warm_start: Parameters to try first (procedural memory), JSON or `null`.
        optuna_storage_url: Optuna storage (a database URL or journal://PATH), or empty to use OPTUNA_STORAGE_URL.
        engine: "pandas" or "dask" (the stage's work on a Dask cluster).
        dask_scheduler: With dask, a running scheduler's address; empty starts a cluster for the task
            (`engines.dask_session`).
        dask_workers: With dask and no scheduler, the task's cluster's workers; 0 sizes a
            LocalCluster to the machine.

    Returns:
        How many trials this worker ran now (0 when a retry finds its share done).
    """
    from sealtrain.components.core.locations import table_location
    from sealtrain.components.core.stages import say
    from sealtrain.components.core.stages.tune_hyperparameters import run

    return run(
        train_path=table_location(train.uri, train.path, engine), train_metadata=train.metadata,
        validation_path=table_location(validation.uri, validation.path, engine),
        validation_metadata=validation.metadata, preprocessor_path=preprocessor.path,
        preprocessor_metadata=preprocessor.metadata, algorithm=algorithm, hyperparameter_space=hyperparameter_space,
        default_hyperparameters=default_hyperparameters, n_trials=n_trials, tuning_workers=tuning_workers,
        worker=worker, seed=seed, tuning_metric=tuning_metric, tuning_timeout=tuning_timeout, warm_start=warm_start,
        optuna_storage_url=optuna_storage_url, progress=say, engine=engine, dask_scheduler=dask_scheduler,
        dask_workers=dask_workers,
    ).value
