"""The run's life in the records: `running` at the start, then `completed` or `failed`.

Each step resolves the stores' endpoints, builds what it records (`run_rows`, `run_log`,
`records`) and writes it through the run table's state machine (`run_store`): a run id is
used once, and a finished run is never rewritten by another. Across runs, the experiment's
locked holdout and test-access ledger (`split_ledger`) are read at the start, checked before
tuning and before evaluation, and grown when a run completes.
"""

from __future__ import annotations

import hashlib
import os

from . import records, run_rows, run_store, split_ledger, tracking
from .constants import RUN_ID_ENV, RUN_RUNNING, TEST
from .endpoints import DB_URL_ENV, TRACKING_URI_ENV, redact, resolve
from .errors import InvalidInputError
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
              hyperparameter_space: str, split_salt: str, group_column: str, tracking_uri: str,
              db_url: str) -> frozenset[str]:
    """Writes the `running` row, checks that MLflow answers and reads the holdout lock, before any data is read.

    Args:
        split_salt: The run's split salt, which the lock must have been made with.
        group_column: The run's group column ('' for row hashes), likewise.

    Returns:
        The experiment's locked holdout (group hashes; empty before its first completed run).

    Raises:
        RunStateError: The run id is taken by another run, whose row is left as it is.
        InvalidInputError: The experiment's holdout is locked with another salt or group column.
    """
    tracking_uri = resolve(tracking_uri, TRACKING_URI_ENV, "mlflow_tracking_uri")
    db_url = resolve(db_url, DB_URL_ENV, "run_db_url")
    row = run_rows.running_row(training_run_id=training_run_id, experiment_id=experiment_id,
                               model_version_id=model_version_id, algorithm=algorithm,
                               hyperparameter_space=hyperparameter_space, started_at=run_store.utcnow())
    tracking.check_reachable(tracking_uri, experiment_id)
    run_store.with_database(db_url, lambda engine: run_store.start_run(engine, row))
    return holdout_lock(db_url=db_url, experiment_id=experiment_id, split_salt=split_salt, group_column=group_column)


def holdout_lock(*, db_url: str, experiment_id: str, split_salt: str, group_column: str) -> frozenset[str]:
    """The experiment's locked holdout, read-only (see `split_ledger.read_lock`).

    Raises:
        InvalidInputError: The lock was made with another salt or group column.
    """
    db_url = resolve(db_url, DB_URL_ENV, "run_db_url")
    return run_store.with_database(
        db_url, lambda engine: split_ledger.read_lock(engine, experiment_id, split_salt, group_column)
    )


def lock_fingerprint(locked: frozenset[str]) -> str:
    """A SHA-256 over a holdout lock's group hashes in sorted order: it tells the split that the
    lock it reads is the one the run started with, and keys the split's cache to the lock."""
    return hashlib.sha256("\n".join(sorted(locked)).encode()).hexdigest()


def test_budget(*, db_url: str, experiment_id: str, test_fingerprint: str, max_evaluations: int,
                model_fingerprint: str = "") -> int:
    """How many other models were evaluated on this test split; refuses one beyond the budget.

    Raises:
        TestEvaluationLimitError: `max_evaluations` models (other than this one) have been
            evaluated on this test split.
    """
    db_url = resolve(db_url, DB_URL_ENV, "run_db_url")
    return run_store.with_database(db_url, lambda engine: split_ledger.require_test_budget(
        engine, experiment_id=experiment_id, test_fingerprint=test_fingerprint, max_evaluations=max_evaluations,
        model_fingerprint=model_fingerprint))


def current_run_id() -> str:
    """The id of the run this task belongs to, from RUN_ID_ENV (see constants).

    Raises:
        InvalidInputError: The variable is not set.
    """
    run_id = os.environ.get(RUN_ID_ENV, "")
    if not run_id:
        raise InvalidInputError(f"{RUN_ID_ENV} is not set: evaluate_model records the run's id in the test-access "
                                "ledger (`sealtrain run` sets it; on a cluster it comes from the pod's pipeline/runid "
                                "label)")
    return run_id


def record_test_evaluation(*, db_url: str, experiment_id: str, test_fingerprint: str, training_run_id: str,
                           model_fingerprint: str, model_version: str, metrics: dict) -> int:
    """Appends a model's evaluation on a test split to the ledger (once per model and split).

    Returns:
        How many models of the experiment have been evaluated on this test split, this one included.
    """
    db_url = resolve(db_url, DB_URL_ENV, "run_db_url")
    return run_store.with_database(db_url, lambda engine: split_ledger.record_evaluation(
        engine, experiment_id=experiment_id, split=TEST, split_fingerprint=test_fingerprint,
        training_run_id=training_run_id, model_fingerprint=model_fingerprint, model_version=model_version,
        metrics=metrics))


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
           artifacts: RunArtifacts) -> tuple[records.TrainedModel, records.ValidationMetrics, dict, dict]:
    """Logs the run to MLflow, moves its row from `running` to `completed` and builds the output records.

    Args:
        training_run_id: The run's id.
        experiment_id: The MLflow experiment and `ml_experiments` key.
        model_version_id: The candidate's version id, or empty to derive one.
        tracking_uri: MLflow (or empty for MLFLOW_TRACKING_URI).
        db_url: The run table (or empty for SEALTRAIN_DB_URL).
        artifacts: The paths of the run's artifacts.

    Before anything is logged, the run's holdout groups join the experiment's lock: a run whose
    train, validation or test groups another run locked meanwhile is refused, and logs nothing.

    Returns:
        The TrainedModel and ValidationMetrics records, the MLflow run info (its tracking URI
        without a password) and what the ledger says: `test_evaluations` (models of the
        experiment evaluated on this run's test split, this one included, counted now) and
        `holdout_groups_locked` (holdout groups this run added to the lock).

    Raises:
        RunStateError: The run already finished; nothing is logged.
        DataLeakageError: A group this run used outside its holdout is locked by another run.
        InvalidInputError: The lock was made with another salt or group column.
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
    holdout, others = artifacts.group_hashes()
    added = run_store.with_database(db_url, lambda engine: split_ledger.lock_holdout(
        engine, experiment_id=experiment_id, training_run_id=training_run_id, salt=run.manifest["salt"],
        group_column=run.manifest["dataset"]["group_column"], holdout=holdout, others=others))
    evaluated = run_store.with_database(db_url, lambda engine: split_ledger.evaluations(engine, experiment_id, TEST))
    test_fingerprint = run.manifest["splits"][TEST]["fingerprint"]
    run = run.with_test_evaluations(
        len({row["model_fingerprint"] for row in evaluated if row["split_fingerprint"] == test_fingerprint}))
    logged = tracking.log_training_run(tracking_uri, experiment_id, training_run_id, run_log.run_log(run, artifacts))
    completed_at = run_store.utcnow()
    trained = records.trained_model(run, logged, completed_at)
    row = run_rows.completed_row(run, trained, logged["run_id"], completed_at)
    run_store.with_database(db_url, lambda engine: run_store.complete_run(engine, row))
    ledger = {"test_evaluations": run.test_evaluations, "holdout_groups_locked": added}
    return trained, records.validation_metrics(run), {"tracking_uri": redact(tracking_uri), **logged}, ledger

