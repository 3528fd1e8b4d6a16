"""KFP component: the holdout result on the model version, its MLflow run and the split ledger."""

from kfp import dsl
from kfp.dsl import HTML, Artifact, Input, Model, Output

from sealtrain.components.runtime import DEFAULT_IMAGE


@dsl.component(base_image=DEFAULT_IMAGE, install_kfp_package=False)
def record_holdout(
    evaluation: Input[Artifact],
    report: Input[HTML],
    model: Input[Model],
    min_auc: float,
    force: bool,
    reason: str,
    mlflow_tracking_uri: str,
    run_db_url: str,
    validation_record: Output[Artifact],
):
    """Logs `holdout_*` metrics to the version's run, tags the version and appends the ledger row.

    It has side effects, so the pipeline never caches it.

    Args:
        evaluation: The holdout evaluation.
        report: Its HTML report, logged to MLflow.
        model: The version's model, as the holdout gate resolved it.
        min_auc: The lower 95% bound of holdout AUC the model must reach to pass; 0 for none.
        force: A forced re-validation.
        reason: Why, if forced; recorded.
        mlflow_tracking_uri: MLflow URI, or empty to use MLFLOW_TRACKING_URI.
        run_db_url: Run-store URL, or empty to use SEALTRAIN_DB_URL.
        validation_record: The verdict, the metrics and where they were recorded (JSON).
    """
    from sealtrain.components.core.stages import stamp
    from sealtrain.components.core.stages.record_holdout import run

    result = run(evaluation_path=evaluation.path, report_path=report.path, model_path=model.path,
                 model_metadata=model.metadata, min_auc=min_auc, force=force, reason=reason,
                 tracking_uri=mlflow_tracking_uri, db_url=run_db_url, record_path=validation_record.path)
    stamp(result)
