"""KFP component: MLflow, the run table and the design's output records."""

from kfp import dsl
from kfp.dsl import HTML, Artifact, Dataset, Input, Model, Output

from sealtrain.components.runtime import DEFAULT_IMAGE


@dsl.component(base_image=DEFAULT_IMAGE, install_kfp_package=False)
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
    report: Input[HTML],
    tuning_history: Input[HTML],
    qc_report: Input[Artifact],
    group_splits: Input[Dataset],
    trained_model: Output[Artifact],
    validation_metrics: Output[Artifact],
    run_record: Output[Artifact],
):
    """Locks the run's holdout, logs the run to MLflow, writes its `completed` row and emits the
    output records.

    The run's holdout groups join the experiment's lock first: a run whose other groups another
    run locked meanwhile fails here, with nothing logged. The model is registered (alias
    `candidate`) only when it passed the validation gate.
    It has side effects, so the pipeline never caches it.

    Args:
        training_run_id: The run's id, as start_run recorded it.
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
        report: The evaluation report (HTML), logged to MLflow.
        tuning_history: The optimisation history (HTML), logged to MLflow.
        qc_report: The data-quality report, logged to MLflow.
        group_splits: Every group's salted hash and split, from which the lock grows.
        trained_model: The design's TrainedModel record (JSON).
        validation_metrics: The design's ValidationMetrics record (JSON).
        run_record: Where everything of this run is: MLflow run, registered model, the URI of
            every artifact, and the test split's evaluation count (JSON).
    """
    from sealtrain.components.core.run_artifacts import RunArtifacts
    from sealtrain.components.core.stages import stamp
    from sealtrain.components.core.stages.record_run import run

    inputs = {"split_manifest": split_manifest, "preprocessor": preprocessor, "model": model,
              "best_hyperparameters": best_hyperparameters, "trials": trials, "evaluation": evaluation,
              "report": report, "tuning_history": tuning_history, "qc_report": qc_report,
              "trained_model": trained_model, "validation_metrics": validation_metrics}
    result = run(
        training_run_id=training_run_id, experiment_id=experiment_id, model_version_id=model_version_id,
        tracking_uri=mlflow_tracking_uri, db_url=run_db_url,
        artifacts=RunArtifacts(manifest=split_manifest.path, preprocessor=preprocessor.path, model=model.path,
                               best_hyperparameters=best_hyperparameters.path, trials=trials.path,
                               evaluation=evaluation.path, group_splits=group_splits.path,
                               reports=(report.path, tuning_history.path, qc_report.path)),
        artifact_uris={name: artifact.uri for name, artifact in inputs.items()},
        trained_model_path=trained_model.path, validation_metrics_path=validation_metrics.path,
        run_record_path=run_record.path,
    )
    stamp(result, trained_model=trained_model)
