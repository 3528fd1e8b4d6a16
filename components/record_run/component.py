"""KFP component: MLflow, the run table and the design's output records."""

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Model, Output

from sealtrain.components.runtime import RUNTIME_IMAGE


@dsl.component(base_image=RUNTIME_IMAGE, install_kfp_package=False)
def record_run(
    training_run_id: str,
    experiment_id: str,
    model_version_id: str,
    mlflow_tracking_uri: str,
    run_db_url: str,
    split_manifest: Input[Artifact],
    preprocessor: Input[Model],
    model: Input[Model],
    best_hyperparameters: Input[Artifact],
    trials: Input[Dataset],
    evaluation: Input[Artifact],
    trained_model: Output[Artifact],
    validation_metrics: Output[Artifact],
):
    """Logs the run to MLflow, writes its `completed` row and emits the output records.

    It has side effects, so the pipeline never caches it.

    Args:
        training_run_id: The KFP run's id.
        experiment_id: MLflow experiment and `ml_experiments` key.
        model_version_id: The candidate's version id, or empty to derive one.
        mlflow_tracking_uri: MLflow URI, or empty to use MLFLOW_TRACKING_URI.
        run_db_url: Run-table database URL, or empty to use SEALTRAIN_DB_URL.
        split_manifest: The split manifest.
        preprocessor: The train-fitted preprocessor.
        model: The final model.
        best_hyperparameters: The tuning result.
        trials: The trials table.
        evaluation: The test evaluation.
        trained_model: The design's TrainedModel record (JSON).
        validation_metrics: The design's ValidationMetrics record (JSON).
    """
    from pathlib import Path

    from sealtrain.components.core import recording

    trained, validation, mlflow_run = recording.record_run(
        training_run_id=training_run_id,
        experiment_id=experiment_id,
        model_version_id=model_version_id,
        tracking_uri=mlflow_tracking_uri,
        db_url=run_db_url,
        manifest_path=split_manifest.path,
        preprocessor_dir=preprocessor.path,
        model_dir=model.path,
        best_path=best_hyperparameters.path,
        trials_path=trials.path,
        evaluation_path=evaluation.path,
    )
    Path(trained_model.path).write_text(trained.to_json())
    Path(validation_metrics.path).write_text(validation.to_json())
    trained_model.metadata.update({"mlflow_run_id": mlflow_run["run_id"], "mlflow_tracking_uri": mlflow_run["tracking_uri"]})
    print(f"[sealtrain] recorded run {training_run_id}: MLflow run {mlflow_run['run_id']}")
