"""The run's life in the records: `running` at the start, then `completed` or `failed`.

Each step resolves the stores' endpoints, builds what it records (`run_rows`, `run_log`,
`records`) and writes it: an idempotent upsert keyed by the KFP run id, so a retried step
never duplicates a row.
"""

from __future__ import annotations

from . import records, run_log, run_rows, run_store, tracking
from .constants import RUN_COMPLETED
from .endpoints import DB_URL_ENV, TRACKING_URI_ENV, resolve
from .run_artifacts import RunArtifacts


def start_run(*, training_run_id: str, experiment_id: str, model_version_id: str, algorithm: str,
              hyperparameter_space: str, tracking_uri: str, db_url: str) -> None:
    """Writes the `running` row and checks that MLflow answers, before any data is read."""
    tracking_uri = resolve(tracking_uri, TRACKING_URI_ENV, "mlflow_tracking_uri")
    db_url = resolve(db_url, DB_URL_ENV, "run_db_url")
    row = run_rows.running_row(training_run_id=training_run_id, experiment_id=experiment_id,
                               model_version_id=model_version_id, algorithm=algorithm,
                               hyperparameter_space=hyperparameter_space, started_at=run_store.utcnow())
    tracking.ensure_experiment(tracking_uri, experiment_id)
    run_store.with_database(db_url, lambda engine: run_store.upsert_run(engine, row))


def fail_run(*, training_run_id: str, db_url: str, state: str, error: str) -> bool:
    """Marks a run `failed` unless it completed; returns whether it did.

    Args:
        training_run_id: The KFP run id.
        db_url: The run table (or empty for SEALTRAIN_DB_URL).
        state: The pipeline's final state (SUCCEEDED, FAILED, CANCELLED...).
        error: What the orchestrator said went wrong.
    """
    if state == "SUCCEEDED":
        return False
    db_url = resolve(db_url, DB_URL_ENV, "run_db_url")

    def write(engine) -> bool:
        existing = run_store.get_run(engine, training_run_id)
        if existing and existing["status"] == RUN_COMPLETED:
            return False
        run_store.upsert_run(engine, run_rows.failed_row(training_run_id=training_run_id, existing=existing,
                                                         error=f"{state}: {error}", completed_at=run_store.utcnow()))
        return True

    return run_store.with_database(db_url, write)


def best_configuration(*, db_url: str, experiment_id: str, algorithm: str) -> dict | None:
    """Procedural memory: the hyperparameters of the latest completed run of an algorithm.

    Returns:
        Those hyperparameters, or None when the experiment has no completed run of it.
    """
    db_url = resolve(db_url, DB_URL_ENV, "run_db_url")
    return run_store.with_database(
        db_url, lambda engine: run_store.latest_hyperparameters(engine, experiment_id, algorithm)
    )


def record(*, training_run_id: str, experiment_id: str, model_version_id: str, tracking_uri: str, db_url: str,
           artifacts: RunArtifacts) -> tuple[records.TrainedModel, records.ValidationMetrics, dict]:
    """Logs the run to MLflow, upserts its `completed` row and builds the output records.

    Args:
        training_run_id: The KFP run id.
        experiment_id: The MLflow experiment and `ml_experiments` key.
        model_version_id: The candidate's version id, or empty to derive one.
        tracking_uri: MLflow (or empty for MLFLOW_TRACKING_URI).
        db_url: The run table (or empty for SEALTRAIN_DB_URL).
        artifacts: The paths of the run's artifacts.

    Returns:
        The TrainedModel and ValidationMetrics records and the MLflow run info.
    """
    tracking_uri = resolve(tracking_uri, TRACKING_URI_ENV, "mlflow_tracking_uri")
    db_url = resolve(db_url, DB_URL_ENV, "run_db_url")
    run = artifacts.read(training_run_id, experiment_id, model_version_id)
    logged = tracking.log_training_run(tracking_uri, experiment_id, training_run_id, run_log.run_log(run, artifacts))
    completed_at = run_store.utcnow()
    trained = records.trained_model(run, logged, completed_at)
    row = run_rows.completed_row(run, trained, logged["run_id"], completed_at)
    run_store.with_database(db_url, lambda engine: run_store.upsert_run(engine, row))
    return trained, records.validation_metrics(run), {"tracking_uri": tracking_uri, **logged}

