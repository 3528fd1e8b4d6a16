"""The `ml_training_runs` table of the design and its neighbours, on Postgres or SQLite.

One SQLAlchemy Core schema serves both: JSONB and a native enum on Postgres, JSON and text
on SQLite (the embedded default of local runs). Every write is an upsert keyed by
`training_run_id`, so a retried task never duplicates a row, and `with_database` retries
transient connection failures a bounded number of times.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Callable, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from .constants import RUN_COMPLETED, RUN_FAILED, RUN_RUNNING
from .endpoints import normalise_url
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

RUN_STATUSES = (RUN_RUNNING, RUN_COMPLETED, RUN_FAILED)
DB_ATTEMPTS = 3
DB_RETRY_SECONDS = 2.0
T = TypeVar("T")


class RunRecordError(ModelTrainerError):
    """The run table could not be written."""


def engine_for(url: str) -> sa.Engine:
    """An engine for a `postgresql://` (driven by psycopg2) or `sqlite:///` URL."""
    return sa.create_engine(normalise_url(url), pool_pre_ping=True)


def ensure_schema(engine: sa.Engine) -> None:
    """Creates the enum, tables and indexes that do not exist yet."""
    metadata.create_all(engine, checkfirst=True)


def with_database(db_url: str, work: Callable[[sa.Engine], T]) -> T:
    """Runs a read or write against the run table, retrying transient connection failures.

    Raises:
        RunRecordError: The database stayed unreachable; the message names it without its password.
    """
    safe_url = sa.engine.make_url(normalise_url(db_url)).render_as_string(hide_password=True)
    for attempt in range(1, DB_ATTEMPTS + 1):
        engine = engine_for(db_url)
        try:
            ensure_schema(engine)
            return work(engine)
        except sa.exc.OperationalError as exc:
            if attempt == DB_ATTEMPTS:
                raise RunRecordError(
                    f"run table at {safe_url} unreachable after {DB_ATTEMPTS} attempts: {exc.orig}"
                ) from exc
            time.sleep(DB_RETRY_SECONDS * attempt)
        finally:
            engine.dispose()
    raise AssertionError("unreachable")


def _insert(engine: sa.Engine, table: sa.Table):
    return (postgresql if engine.dialect.name == "postgresql" else sqlite).insert(table)


def upsert_run(engine: sa.Engine, row: dict) -> None:
    """Inserts or updates one run, and the experiment and model version it refers to.

    Args:
        engine: From `engine_for`.
        row: Column values; `training_run_id` and, on insert, `algorithm_name` and
            `hyperparameters` are required.
    """
    if row.get("status", RUN_RUNNING) not in RUN_STATUSES:
        raise ValueError(f"status must be one of {RUN_STATUSES}, got {row['status']!r}")
    with engine.begin() as conn:
        for table, key in ((experiments, "experiment_id"), (model_registry, "model_version_id")):
            if row.get(key):
                conn.execute(_insert(engine, table).values({key: row[key]}).on_conflict_do_nothing())
        stmt = _insert(engine, training_runs).values(row)
        updates = {k: stmt.excluded[k] for k in row if k != "training_run_id"}
        conn.execute(stmt.on_conflict_do_update(index_elements=["training_run_id"], set_=updates))


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
