"""Isolation across runs, in the run store: the experiment's locked holdout and the ledger of
every model evaluated on its test or holdout split.

Inside one run the DAG keeps the holdout unread and the test split read once; across runs
these tables do:

- `ml_holdout_locks` / `ml_holdout_groups`: the salted hashes (never raw ids) of every group a
  completed run of the experiment put in its holdout, by run. A group once in an experiment's
  holdout stays there in every later run, and one run's holdout can be rebuilt from its rows.
  The lock is tied to the salt and group column it was made with; hashes made with another
  salt or column would mean nothing, so such a run is refused.
- `ml_split_evaluations`: a row per model evaluated on a split (by the split's content
  fingerprint), so the number of models that have seen an experiment's test split is known
  and can be capped, and a production model's holdout validation happens once unless forced
  (with a reason, recorded).

The tables live in `run_store.metadata`, so `run_store.with_database` creates them with the
run table, on Postgres or SQLite.
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa

from .constants import HOLDOUT, TEST
from .errors import DataLeakageError, InvalidInputError, TestEvaluationLimitError
from .run_store import JSON, dialect_insert, experiments, metadata, utcnow

holdout_locks = sa.Table(
    "ml_holdout_locks",
    metadata,
    sa.Column("experiment_id", sa.Text, sa.ForeignKey("ml_experiments.experiment_id"), primary_key=True),
    # SHA-256 of the split salt: enough to tell a different salt, without storing a secret one.
    sa.Column("salt_sha256", sa.Text, nullable=False),
    sa.Column("group_column", sa.Text, nullable=False),
    sa.Column("locked_by_run", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
)

holdout_groups = sa.Table(
    "ml_holdout_groups",
    metadata,
    sa.Column("experiment_id", sa.Text, sa.ForeignKey("ml_holdout_locks.experiment_id"), primary_key=True),
    sa.Column("training_run_id", sa.Text, primary_key=True),
    sa.Column("group_hash", sa.Text, primary_key=True),
    sa.Index("idx_holdout_group", "experiment_id", "group_hash"),
)

split_evaluations = sa.Table(
    "ml_split_evaluations",
    metadata,
    sa.Column("evaluation_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("experiment_id", sa.Text, nullable=False),
    sa.Column("split", sa.Text, nullable=False),
    sa.Column("split_fingerprint", sa.Text, nullable=False),
    sa.Column("training_run_id", sa.Text, nullable=False),
    sa.Column("model_version", sa.Text),
    sa.Column("model_fingerprint", sa.Text, nullable=False),
    sa.Column("evaluated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("forced", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("reason", sa.Text),
    sa.Column("metrics", JSON),
    sa.CheckConstraint(f"split IN ('{TEST}', '{HOLDOUT}')", name="ck_split_evaluations_split"),
    # One unforced evaluation of a model on a split: a rerun served from the cache, or a retried
    # task, does not count twice. A forced one (holdout re-validation) adds a row with its reason.
    sa.Index("uq_split_evaluation_once", "experiment_id", "split", "split_fingerprint", "model_fingerprint",
             unique=True, postgresql_where=sa.text("NOT forced"), sqlite_where=sa.text("NOT forced")),
)


def salt_digest(salt: str) -> str:
    """The SHA-256 of a split salt, as the lock records it."""
    return hashlib.sha256(salt.encode()).hexdigest()


def _lock_row(conn, experiment_id: str, *, for_update: bool = False):
    query = sa.select(holdout_locks).where(holdout_locks.c.experiment_id == experiment_id)
    return conn.execute(query.with_for_update() if for_update else query).mappings().first()


def _require_same_keys(lock, experiment_id: str, salt: str, group_column: str) -> None:
    if lock["salt_sha256"] != salt_digest(salt) or lock["group_column"] != group_column:
        what = "split salt" if lock["salt_sha256"] != salt_digest(salt) else f"group column {lock['group_column']!r}"
        raise InvalidInputError(
            f"experiment {experiment_id!r} has its holdout locked with another {what} (by run "
            f"{lock['locked_by_run']}); its hashes mean nothing under this one. Use the same --split-salt and "
            "--group as that run, or a new --experiment"
        )


def read_lock(engine: sa.Engine, experiment_id: str, salt: str, group_column: str) -> frozenset[str]:
    """The hashes of every group locked in the experiment's holdout (empty before its first completed run).

    Raises:
        InvalidInputError: The lock was made with another salt or group column.
    """
    with engine.connect() as conn:
        lock = _lock_row(conn, experiment_id)
        if lock is None:
            return frozenset()
        _require_same_keys(lock, experiment_id, salt, group_column)
        query = sa.select(holdout_groups.c.group_hash).where(holdout_groups.c.experiment_id == experiment_id)
        return frozenset(conn.execute(query.distinct()).scalars())


def lock_holdout(engine: sa.Engine, *, experiment_id: str, training_run_id: str, salt: str, group_column: str,
                 holdout: list[str], others: list[str]) -> int:
    """Adds a completed run's holdout groups to the experiment's lock, in one transaction.

    Args:
        engine: From `run_store.engine_for`.
        experiment_id: The experiment.
        training_run_id: The run whose holdout this is.
        salt: The run's split salt.
        group_column: The run's group column ('' for row hashes).
        holdout: Hashes of the run's holdout groups.
        others: Hashes of its train, validation and test groups.

    Returns:
        How many of the holdout groups were not locked before.

    Raises:
        InvalidInputError: The lock was made with another salt or group column.
        DataLeakageError: A group this run trained, tuned or tested on was locked by another
            run meanwhile (two first runs at once); the lock is left as it was.
    """
    with engine.begin() as conn:
        conn.execute(dialect_insert(engine, experiments).values(experiment_id=experiment_id).on_conflict_do_nothing())
        conn.execute(dialect_insert(engine, holdout_locks).values(
            experiment_id=experiment_id, salt_sha256=salt_digest(salt), group_column=group_column,
            locked_by_run=training_run_id,
        ).on_conflict_do_nothing())
        # The row lock serialises runs of one experiment on Postgres; SQLite has one writer anyway.
        _require_same_keys(_lock_row(conn, experiment_id, for_update=True), experiment_id, salt, group_column)
        locked = set(conn.execute(
            sa.select(holdout_groups.c.group_hash).where(holdout_groups.c.experiment_id == experiment_id)
        ).scalars())
        crossed = locked.intersection(others)
        if crossed:
            raise DataLeakageError(
                f"{len(crossed)} groups this run used outside its holdout are locked in experiment "
                f"{experiment_id!r}'s holdout by a run that finished meanwhile; this run cannot be recorded, rerun it"
            )
        rows = [{"experiment_id": experiment_id, "training_run_id": training_run_id, "group_hash": h}
                for h in sorted(set(holdout))]
        if rows:
            # Rows as executemany parameters, which SQLAlchemy sends in batches: one statement with
            # them all would pass three variables a group, and SQLite takes 32,766 in one.
            conn.execute(dialect_insert(engine, holdout_groups).on_conflict_do_nothing(), rows)
        return len(set(holdout) - locked)


def run_holdout(engine: sa.Engine, experiment_id: str, training_run_id: str) -> frozenset[str]:
    """The hashes of one run's holdout groups, as it recorded them (empty if it recorded none)."""
    query = sa.select(holdout_groups.c.group_hash).where(holdout_groups.c.experiment_id == experiment_id,
                                                        holdout_groups.c.training_run_id == training_run_id)
    with engine.connect() as conn:
        return frozenset(conn.execute(query).scalars())


def _models_evaluated(conn, experiment_id: str, split: str, split_fingerprint: str) -> set[str]:
    query = sa.select(split_evaluations.c.model_fingerprint).where(
        split_evaluations.c.experiment_id == experiment_id, split_evaluations.c.split == split,
        split_evaluations.c.split_fingerprint == split_fingerprint,
    )
    return set(conn.execute(query).scalars())


def require_test_budget(engine: sa.Engine, *, experiment_id: str, test_fingerprint: str, max_evaluations: int,
                        model_fingerprint: str = "") -> int:
    """Refuses one more model on a test split that has been evaluated `max_evaluations` times.

    Args:
        engine: From `run_store.engine_for`.
        experiment_id: The experiment.
        test_fingerprint: The test split's content fingerprint.
        max_evaluations: How many models may see this test split; 0 for no limit.
        model_fingerprint: The model about to be evaluated, when known: its own earlier
            evaluation does not count against it.

    Returns:
        How many other models were evaluated on this test split so far.

    Raises:
        TestEvaluationLimitError: The budget is spent.
    """
    with engine.connect() as conn:
        earlier = _models_evaluated(conn, experiment_id, TEST, test_fingerprint) - {model_fingerprint}
    if max_evaluations and len(earlier) >= max_evaluations:
        raise TestEvaluationLimitError(
            f"the test split {test_fingerprint[:12]} of experiment {experiment_id!r} has been evaluated by "
            f"{len(earlier)} model{'' if len(earlier) == 1 else 's'}, and --max-test-evaluations is "
            f"{max_evaluations}: another evaluation would tune the model choice to the test split. Collect new "
            "test data (a new split) or raise the limit knowingly"
        )
    return len(earlier)


def record_evaluation(engine: sa.Engine, *, experiment_id: str, split: str, split_fingerprint: str,
                      training_run_id: str, model_fingerprint: str, model_version: str = "", forced: bool = False,
                      reason: str = "", metrics: dict | None = None) -> int:
    """Appends an evaluation to the ledger; an unforced one of a model already there is not added again.

    Returns:
        How many models of the experiment have been evaluated on this split, this one included.
    """
    row = {"experiment_id": experiment_id, "split": split, "split_fingerprint": split_fingerprint,
           "training_run_id": training_run_id, "model_version": model_version or None,
           "model_fingerprint": model_fingerprint, "evaluated_at": utcnow(), "forced": forced,
           "reason": reason or None, "metrics": metrics}
    with engine.begin() as conn:
        conn.execute(dialect_insert(engine, split_evaluations).values(row).on_conflict_do_nothing())
        return len(_models_evaluated(conn, experiment_id, split, split_fingerprint))


def evaluations(engine: sa.Engine, experiment_id: str, split: str, model_fingerprint: str = "") -> list[dict]:
    """The ledger rows of an experiment's split (of one model, if given), oldest first."""
    query = sa.select(split_evaluations).where(split_evaluations.c.experiment_id == experiment_id,
                                               split_evaluations.c.split == split)
    if model_fingerprint:
        query = query.where(split_evaluations.c.model_fingerprint == model_fingerprint)
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(query.order_by(split_evaluations.c.evaluation_id)).mappings()]

