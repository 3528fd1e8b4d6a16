import pytest
import sqlalchemy as sa

from sealtrain.components.core import run_store

ROW = {
    "training_run_id": "run-1",
    "experiment_id": "exp",
    "model_version_id": "xgboost-run-1",
    "algorithm_name": "xgboost",
    "hyperparameters": {"max_depth": 3},
    "status": "running",
}


def _exercise(url):
    engine = run_store.engine_for(url)
    run_store.ensure_schema(engine)
    run_store.ensure_schema(engine)  # idempotent
    run_store.start_run(engine, ROW)
    run_store.complete_run(engine, {**ROW, "status": "completed", "test_metrics": {"auc": 0.8}, "test_samples": 10})
    with engine.connect() as conn:
        count = conn.execute(sa.text("select count(*) from ml_training_runs")).scalar()
    row = run_store.get_run(engine, "run-1")
    engine.dispose()
    return count, row


def test_sqlite_run_goes_from_running_to_completed_in_one_row(tmp_path):
    count, row = _exercise(f"sqlite:///{tmp_path / 'runs.db'}")
    assert count == 1
    assert row["status"] == "completed" and row["test_metrics"] == {"auc": 0.8}
    assert row["trained_by"] == "model_trainer" and row["started_at"] is not None


@pytest.mark.postgres
def test_postgres_schema_uses_jsonb_enum_and_indexes(postgres_url):
    count, row = _exercise(postgres_url)
    assert count == 1 and row["hyperparameters"] == {"max_depth": 3}
    engine = run_store.engine_for(postgres_url)
    with engine.connect() as conn:
        kinds = dict(conn.execute(sa.text(
            "select column_name, udt_name from information_schema.columns where table_name = 'ml_training_runs'"
        )).all())
        query = sa.text("select indexname from pg_indexes where tablename = 'ml_training_runs'")
        indexes = {r[0] for r in conn.execute(query)}
        foreign = conn.execute(sa.text(
            "select count(*) from information_schema.table_constraints "
            "where table_name = 'ml_training_runs' and constraint_type = 'FOREIGN KEY'"
        )).scalar()
    engine.dispose()
    assert kinds["hyperparameters"] == "jsonb" and kinds["test_metrics"] == "jsonb"
    assert kinds["trained_by"] == "agent_name_enum"
    assert {"idx_training_experiment", "idx_training_status"} <= indexes
    assert foreign == 2


def test_unknown_status_is_refused(tmp_path):
    engine = run_store.engine_for(f"sqlite:///{tmp_path / 'runs.db'}")
    run_store.ensure_schema(engine)
    with pytest.raises(ValueError, match="status must be 'running' here, got 'done'"):
        run_store.start_run(engine, {**ROW, "status": "done"})
