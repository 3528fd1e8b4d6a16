"""The run's life in the records: `running` at the start, then `completed` or `failed`.

Each step resolves the stores' endpoints, builds what it records (`run_rows`, `run_log`,
`records`) and writes it through the run table's state machine (`run_store`): a run id is
used once, and a finished run is never rewritten by another.
"""

from __future__ import annotations

from . import records, run_rows, run_store, tracking
from .constants import RUN_RUNNING
from .endpoints import DB_URL_ENV, TRACKING_URI_ENV, redact, resolve
from .run_artifacts import RunArtifacts

INTERRUPTED = "interrupted"


def run_id(training_run_id: str, pipeline_job_id: str) -> str:
    """The run's id: the one minted by whoever started the run (`sealtrain run`), else the
    orchestrator's job id (a UUID on a cluster)."""
    return training_run_id or pipeline_job_id


def final_error(task: str | None, message: str | None) -> str:
    """The error of a failed pipeline as its exit task sees it: the task that produced the final
    status and the orchestrator's message (kfp.local says only that the exit handler failed;
    `sealtrain run` then writes the failing task and its error, see `fail_run(explain=True)`)."""
    if not message:
        return f"{task or 'a task'} failed"
    return message if not task or task in message else f"{task}: {message}"


def start_run(*, training_run_id: str, experiment_id: str, model_version_id: str, algorithm: str,
              hyperparameter_space: str, tracking_uri: str, db_url: str) -> None:
    """Writes the `running` row and checks that MLflow answers, before any data is read.

    Raises:
        RunStateError: The run id is taken by another run, whose row is left as it is.
    """
    tracking_uri = resolve(tracking_uri, TRACKING_URI_ENV, "mlflow_tracking_uri")
    db_url = resolve(db_url, DB_URL_ENV, "run_db_url")
    row = run_rows.running_row(training_run_id=training_run_id, experiment_id=experiment_id,
                               model_version_id=model_version_id, algorithm=algorithm,
                               hyperparameter_space=hyperparameter_space, started_at=run_store.utcnow())
    tracking.ensure_experiment(tracking_uri, experiment_id)
    run_store.with_database(db_url, lambda engine: run_store.start_run(engine, row))


def fail_run(*, training_run_id: str, db_url: str, state: str, error: str, experiment_id: str = "",
             algorithm: str = "", explain: bool = False) -> bool:
    """Marks a run `failed` unless it finished; returns whether anything was written.

    Args:
        training_run_id: The run's id.
        db_url: The run table (or empty for SEALTRAIN_DB_URL).
        state: The pipeline's final state (SUCCEEDED, FAILED, CANCELLED...).
        error: What went wrong: the failing task and its error when known.
        experiment_id: The run's experiment, kept if the run's start was never recorded.
        algorithm: The run's algorithm, likewise.
        explain: The caller is the run itself and knows better why it failed: a `failed` row
            of this id gets this error (see `run_store.fail_run`).
    """
    if state == "SUCCEEDED":
        return False
    db_url = resolve(db_url, DB_URL_ENV, "run_db_url")
    row = run_rows.failed_row(training_run_id=training_run_id, experiment_id=experiment_id, algorithm=algorithm,
                              error=error if state == "FAILED" else f"{state}: {error}",
                              completed_at=run_store.utcnow())
    return run_store.with_database(db_url, lambda engine: run_store.fail_run(engine, row, explain=explain))


def interrupt_run(*, training_run_id: str, experiment_id: str, algorithm: str, signal_name: str,
                  tracking_uri: str, db_url: str, mlflow_run_started: bool) -> None:
    """Records a run stopped by a signal after its tasks were stopped: its row `failed`
    (`interrupted by SIGINT`) and, if record_run had started, its MLflow run ended as KILLED.

    Raises:
        TrackingError, RunRecordError: A store could not be written; the row is written first.
    """
    fail_run(training_run_id=training_run_id, db_url=db_url, state="FAILED",
             error=f"{INTERRUPTED} by {signal_name}", experiment_id=experiment_id, algorithm=algorithm, explain=True)
    if mlflow_run_started:
        tracking.kill_runs(resolve(tracking_uri, TRACKING_URI_ENV, "mlflow_tracking_uri"), experiment_id,
                           training_run_id)


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
    """Logs the run to MLflow, moves its row from `running` to `completed` and builds the output records.

    Args:
        training_run_id: The run's id.
        experiment_id: The MLflow experiment and `ml_experiments` key.
        model_version_id: The candidate's version id, or empty to derive one.
        tracking_uri: MLflow (or empty for MLFLOW_TRACKING_URI).
        db_url: The run table (or empty for SEALTRAIN_DB_URL).
        artifacts: The paths of the run's artifacts.

    Returns:
        The TrainedModel and ValidationMetrics records and the MLflow run info (its tracking
        URI without a password).

    Raises:
        RunStateError: The run already finished; nothing is logged.
    """
    # The MLflow log reads the preprocessor (scikit-learn, pandas), which the other steps never need.
    from . import run_log

    tracking_uri = resolve(tracking_uri, TRACKING_URI_ENV, "mlflow_tracking_uri")
    db_url = resolve(db_url, DB_URL_ENV, "run_db_url")
    existing = run_store.with_database(db_url, lambda engine: run_store.get_run(engine, training_run_id))
    if existing and existing["status"] != RUN_RUNNING:
        raise run_store.RunStateError(f"training run {training_run_id!r} is already {existing['status']}; "
                                      "a finished run is never recorded again")
    run = artifacts.read(training_run_id, experiment_id, model_version_id)
    logged = tracking.log_training_run(tracking_uri, experiment_id, training_run_id, run_log.run_log(run, artifacts))
    completed_at = run_store.utcnow()
    trained = records.trained_model(run, logged, completed_at)
    row = run_rows.completed_row(run, trained, logged["run_id"], completed_at)
    run_store.with_database(db_url, lambda engine: run_store.complete_run(engine, row))
    return trained, records.validation_metrics(run), {"tracking_uri": redact(tracking_uri), **logged}

