"""Stage `record_run`: the holdout lock, MLflow, the run table's `completed` row and the design's records."""

from __future__ import annotations

import json
from pathlib import Path

from .. import recording
from ..run_artifacts import RunArtifacts
from . import StageResult


def run(*, training_run_id: str, experiment_id: str, model_version_id: str, tracking_uri: str, db_url: str,
        artifacts: RunArtifacts, artifact_uris: dict[str, str], trained_model_path: str,
        validation_metrics_path: str, run_record_path: str) -> StageResult:
    """Locks the run's holdout, records the run and writes the TrainedModel, ValidationMetrics and
    run-record JSON files.

    Args:
        training_run_id: The run's id.
        experiment_id: The MLflow experiment and `ml_experiments` key.
        model_version_id: The candidate's version id, or empty to derive one.
        tracking_uri: MLflow (or empty for MLFLOW_TRACKING_URI).
        db_url: The run table (or empty for SEALTRAIN_DB_URL).
        artifacts: The paths of the run's artifacts.
        artifact_uris: The URI of every artifact of the run by name, for the run record
            (the outputs of this stage included).
        trained_model_path: Where the TrainedModel record (JSON) goes.
        validation_metrics_path: Where the ValidationMetrics record (JSON) goes.
        run_record_path: Where the run record goes: the MLflow run, every artifact's URI,
            `test_evaluations` (models of the experiment evaluated on the run's test split, this
            one included) and `holdout_groups_locked` (groups the run added to the lock).

    Returns:
        Metadata of `trained_model` (its MLflow run id) and lines naming the MLflow run and the
        test split's evaluations.

    Raises:
        DataLeakageError: A group the run used outside its holdout was locked by another run
            meanwhile; nothing is logged.
    """
    trained, validation, mlflow_run, ledger = recording.record(
        training_run_id=training_run_id, experiment_id=experiment_id, model_version_id=model_version_id,
        tracking_uri=tracking_uri, db_url=db_url, artifacts=artifacts,
    )
    Path(trained_model_path).write_text(trained.to_json())
    Path(validation_metrics_path).write_text(validation.to_json())
    Path(run_record_path).write_text(json.dumps({
        "training_run_id": training_run_id,
        "mlflow": mlflow_run,
        **ledger,
        "artifacts": artifact_uris,
    }, indent=2))
    locked, count = ledger["holdout_groups_locked"], ledger["test_evaluations"]
    return StageResult(
        metadata={"trained_model": {"mlflow_run_id": mlflow_run["run_id"]}},
        lines=[f"recorded run {training_run_id}: MLflow run {mlflow_run['run_id']}",
               f"holdout: {locked} group{'' if locked == 1 else 's'} added to the experiment's lock; test split "
               f"evaluated by {count} model{'' if count == 1 else 's'}"],
    )
