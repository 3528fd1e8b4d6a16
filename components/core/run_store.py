"""The `ml_training_runs` table of the design and its neighbours, on Postgres or SQLite.

One SQLAlchemy Core schema serves both: JSONB and a native enum on Postgres, JSON and text
on SQLite (the embedded default of local runs). A row's life is a state machine keyed by
`training_run_id`: it is born `running` (or, for a run whose start was never recorded,
finished) and goes once to `completed` or `failed`; a finished row never changes, except that
the run that failed may say better why. A reused run id is refused, never merged.
`with_database` retries transient connection failures a bounded number of times.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Callable, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from .constants import RUN_COMPLETED, RUN_FAILED, RUN_RUNNING
from .endpoints import normalise_url, redact, scrub
from .errors import ModelTrainerError

AGENT_NAMES = ("model_trainer",)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
AGENT_ENUM = sa.Enum(*AGENT_NAMES, name="agent_name_enum")

metadata = sa.MetaData()

experiments = sa.Table(
    "ml_experiments",
    metadata,
    sa.Column("experiment_id", sa.Text, primary_key=True),
    sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
)

model_registry = sa.Table(
    "ml_model_registry",
    metadata,
    sa.Column("model_version_id", sa.Text, primary_key=True),
    sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
)

training_runs = sa.Table(
    "ml_training_runs",
    metadata,
    sa.Column("training_run_id", sa.Text, primary_key=True),
    sa.Column("model_version_id", sa.Text, sa.ForeignKey("ml_model_registry.model_version_id")),
    sa.Column("experiment_id", sa.Text, sa.ForeignKey("ml_experiments.experiment_id")),
    sa.Column("mlflow_run_id", sa.Text),
    sa.Column("algorithm_name", sa.Text, nullable=False),
    sa.Column("framework", sa.Text),
    sa.Column("hyperparameters", JSON, nullable=False),
    sa.Column("hyperparameter_space", JSON),
    sa.Column("tuning_trials", sa.Integer),
    sa.Column("train_metrics", JSON),
    sa.Column("validation_metrics", JSON),
    sa.Column("test_metrics", JSON),
    sa.Column("train_samples", sa.Integer),
    sa.Column("validation_samples", sa.Integer),
    sa.Column("test_samples", sa.Integer),
    sa.Column("model_artifact_uri", sa.Text),
    sa.Column("preprocessing_artifact_uri", sa.Text),
    sa.Column("status", sa.Text, server_default=RUN_RUNNING),
    sa.Column("started_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
    sa.Column("completed_at", sa.DateTime(timezone=True)),
    sa.Column("training_duration_seconds", sa.Numeric(10, 2)),
    sa.Column("trained_by", AGENT_ENUM, server_default="model_trainer"),
    sa.Column("error", sa.Text),
    sa.Index("idx_training_experiment", "experiment_id"),
    sa.Index("idx_training_status", "status"),
)

# A connection lost or refused is retried with a doubling wait (4 s, then 8 s): long enough for
# a database server to restart, short enough that a closed port fails a task within 20 s.
DB_ATTEMPTS = 3
DB_RETRY_SECONDS = 4.0
CONNECT_TIMEOUT_SECONDS = 5
# What the driver says when a server is (re)starting, stopping or out of reach for now; any other
# failure (unknown host, refused login, missing database) would only repeat, and fails at once.
TRANSIENT_CAUSES = (
    "connection refused", "timeout expired", "timed out", "server closed the connection unexpectedly",
    "terminating connection", "the database system is starting up", "the database system is shutting down",
    "connection already closed", "could not receive data", "could not send data", "connection reset",
    "no connection to the server", "ssl syscall error", "database is locked",
)
T = TypeVar("T")


class RunRecordError(ModelTrainerError):
    """The run table could not be written."""


class RunStateError(ModelTrainerError):
    """A write would break a run's lifecycle: a run id used twice, or a finished run rewritten."""


def engine_for(url: str) -> sa.Engine:
    """An engine for a `postgresql://` (driven by psycopg2) or `sqlite:///` URL."""
    url = normalise_url(url)
    # A host that drops packets would otherwise hang every attempt for the OS's TCP timeout.
    connect_args = {"connect_timeout": CONNECT_TIMEOUT_SECONDS} if url.startswith("postgresql") else {}
    return sa.create_engine(url, pool_pre_ping=True, connect_args=connect_args)


def ensure_schema(engine: sa.Engine) -> None:
    """Creates the enum, tables and indexes that do not exist yet, the split ledger's included."""
    from . import split_ledger  # noqa: F401  (its tables join `metadata` on import; it imports this module)

    metadata.create_all(engine, checkfirst=True)


def _transient(exc: sa.exc.DBAPIError) -> bool:
    """Whether a database error is a connection that a short wait may bring back."""
    return exc.connection_invalidated or any(cause in str(exc.orig).lower() for cause in TRANSIENT_CAUSES)


def with_database(db_url: str, work: Callable[[sa.Engine], T]) -> T:
    """Runs a read or write against the run table, retrying only transient connection failures.

    A connection refused or lost (a server restarting, a network blip) is retried DB_ATTEMPTS
    times in all, with a doubling wait; `work` must be idempotent, as every write of the run
    table is. A failure that would only repeat (unknown host, refused login, missing database)
    is raised at once, and so is every error that is not about the connection.

    Raises:
        RunRecordError: The database is unusable or stayed unreachable; the message names it
            without its password and gives the driver's cause.
    """
    safe_url = redact(normalise_url(db_url))
    for attempt in range(1, DB_ATTEMPTS + 1):
        engine = engine_for(db_url)
        try:
            ensure_schema(engine)
            return work(engine)
        except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
            cause = scrub(" ".join(str(exc.orig).split()), db_url)
            if not _transient(exc):
                raise RunRecordError(f"run table at {safe_url} unusable: {cause}") from exc
            if attempt == DB_ATTEMPTS:
                raise RunRecordError(
                    f"run table at {safe_url} unreachable after {DB_ATTEMPTS} attempts: {cause}"
                ) from exc
            time.sleep(DB_RETRY_SECONDS * 2 ** (attempt - 1))
        finally:
            engine.dispose()
    raise AssertionError("unreachable")


def dialect_insert(engine: sa.Engine, table: sa.Table):
    """An INSERT that supports `on_conflict_do_nothing` on Postgres and SQLite."""
    return (postgresql if engine.dialect.name == "postgresql" else sqlite).insert(table)


def _refer(conn, engine: sa.Engine, row: dict) -> None:
    """Adds the experiment and model version a row refers to, if they are new."""
    for table, key in ((experiments, "experiment_id"), (model_registry, "model_version_id")):
        if row.get(key):
            conn.execute(dialect_insert(engine, table).values({key: row[key]}).on_conflict_do_nothing())


def _status(conn, training_run_id: str) -> str | None:
    query = sa.select(training_runs.c.status).where(training_runs.c.training_run_id == training_run_id)
    return conn.execute(query).scalar()


def _finish(conn, engine: sa.Engine, row: dict, changes: tuple[str, ...]) -> str | None:
    """Sets the `changes` columns of a `running` run from `row`, or inserts `row` for an unknown run.

    Returns:
        None when written, else the status that kept the row from being written.
    """
    _refer(conn, engine, row)
    run_id = row["training_run_id"]
    update = sa.update(training_runs).where(training_runs.c.training_run_id == run_id,
                                            training_runs.c.status == RUN_RUNNING)
    if conn.execute(update.values({k: row[k] for k in changes if k in row})).rowcount:
        return None
    if conn.execute(dialect_insert(engine, training_runs).values(row).on_conflict_do_nothing()).rowcount:
        return None
    return _status(conn, run_id)


def _check(row: dict, status: str) -> None:
    if row.get("status") != status:
        raise ValueError(f"status must be {status!r} here, got {row.get('status')!r}")


def start_run(engine: sa.Engine, row: dict) -> None:
    """Inserts the `running` row of a new run, and the experiment and model version it refers to.

    Args:
        engine: From `engine_for`.
        row: Column values with `training_run_id`, `algorithm_name`, `hyperparameters` and
            status `running`.

    Raises:
        RunStateError: The run id is taken; the row already there is left as it is.
    """
    _check(row, RUN_RUNNING)
    with engine.begin() as conn:
        _refer(conn, engine, row)
        if not conn.execute(dialect_insert(engine, training_runs).values(row).on_conflict_do_nothing()).rowcount:
            raise RunStateError(f"training run id {row['training_run_id']!r} is already taken by a "
                                f"{_status(conn, row['training_run_id'])} run; a run id is never reused")


def complete_run(engine: sa.Engine, row: dict) -> None:
    """Records a `running` (or unrecorded) run as `completed`.

    Raises:
        RunStateError: The run already finished; its row is left as it is.
    """
    _check(row, RUN_COMPLETED)
    with engine.begin() as conn:
        if found := _finish(conn, engine, row, tuple(k for k in row if k != "training_run_id")):
            raise RunStateError(f"training run {row['training_run_id']!r} is already {found}; "
                                "a finished run is never recorded again")


def fail_run(engine: sa.Engine, row: dict, *, explain: bool = False) -> bool:
    """Records a `running` (or unrecorded) run as `failed`; a completed run is left as it is.

    Args:
        engine: From `engine_for`.
        row: The failed row (`run_rows.failed_row`).
        explain: The caller is the run that failed and knows better why: a `failed` row of
            this id gets the row's `error`, nothing else.

    Returns:
        Whether anything was written.
    """
    _check(row, RUN_FAILED)
    with engine.begin() as conn:
        # A running row keeps what it knew (algorithm, hyperparameters, experiment...).
        found = _finish(conn, engine, row, ("status", "completed_at", "error"))
        if found == RUN_FAILED and explain:
            update = sa.update(training_runs).where(training_runs.c.training_run_id == row["training_run_id"],
                                                    training_runs.c.status == RUN_FAILED)
            return bool(conn.execute(update.values(error=row["error"])).rowcount)
        return found is None


def utcnow() -> datetime:
    """The current time, timezone-aware."""
    return datetime.now(timezone.utc)


def get_run(engine: sa.Engine, training_run_id: str) -> dict | None:
    """Reads one run as a dict, or None."""
    with engine.connect() as conn:
        query = sa.select(training_runs).where(training_runs.c.training_run_id == training_run_id)
        found = conn.execute(query).mappings().first()
    return dict(found) if found else None


def latest_hyperparameters(engine: sa.Engine, experiment_id: str, algorithm: str) -> dict | None:
    """The hyperparameters of an experiment's latest completed run of an algorithm, or None."""
    query = (
        sa.select(training_runs.c.hyperparameters)
        .where(training_runs.c.experiment_id == experiment_id, training_runs.c.algorithm_name == algorithm,
               training_runs.c.status == RUN_COMPLETED)
        .order_by(training_runs.c.completed_at.desc())
        .limit(1)
    )
    with engine.connect() as conn:
        return conn.execute(query).scalar()
