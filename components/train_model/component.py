"""KFP component: the final model, fitted on train with the best hyperparameters."""

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Metrics, Model, Output

from sealtrain.components.runtime import DEFAULT_IMAGE


@dsl.component(base_image=DEFAULT_IMAGE, install_kfp_package=False)
def train_model(
    train: Input[Dataset],
    validation: Input[Dataset],
    preprocessor: Input[Model],
    best_hyperparameters: Input[Artifact],
    seed: int,
    threshold_method: str,
    model: Output[Model],
    fit_metrics: Output[Metrics],
    engine: str = "pandas",
    dask_scheduler: str = "",
    dask_workers: int = 0,
):
    """Trains the final model and fixes its decision threshold on validation.

    The train split fits the model; validation only stops boosting early and chooses the
    threshold. Train and validation metrics are recorded here so that the test split stays
    unread until evaluation.

    Args:
        train: The train split.
        validation: The validation split.
        preprocessor: The train-fitted preprocessor.
        best_hyperparameters: The tuning result.
        seed: Seed of the estimator.
        threshold_method: "f1" (maximum F1) or "youden" on validation.
        engine: "pandas" or "dask" (the stage's work on a Dask cluster).
        dask_scheduler: With dask, a running scheduler's address; empty starts a cluster for the task
            (`engines.dask_session`).
        dask_workers: With dask and no scheduler, the task's cluster's workers; 0 sizes a
            LocalCluster to the machine.
        model: The model file (xgboost UBJSON or skops) with its metadata JSON.
        fit_metrics: `train_*` and `val_*` metrics.
    """
    from sealtrain.components.core.locations import table_location
    from sealtrain.components.core.stages import stamp
    from sealtrain.components.core.stages.train_model import run

    result = run(train_path=table_location(train.uri, train.path, engine), train_metadata=train.metadata,
                 validation_path=table_location(validation.uri, validation.path, engine),
                 validation_metadata=validation.metadata, preprocessor_path=preprocessor.path,
                 preprocessor_metadata=preprocessor.metadata, best_hyperparameters_path=best_hyperparameters.path,
                 seed=seed, threshold_method=threshold_method, model_path=model.path, fit_metrics_path=fit_metrics.path,
                 engine=engine, dask_scheduler=dask_scheduler, dask_workers=dask_workers)
    stamp(result, model=model, fit_metrics=fit_metrics)
