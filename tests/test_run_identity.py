"""Run identity: a run id is used once, and the run table's rows follow `running` -> `completed` |
`failed`; a finished row is never rewritten by another run. On SQLite and the real PostgreSQL,
through the recording functions the components call, and through kfp.local with a forced
id collision."""

import json
import subprocess
import sys
import uuid

import pytest
import sqlalchemy as sa

from sealtrain.components.core import recording, run_rows, run_store


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'runs.db'}"
    return request.getfixturevalue("postgres_url")


def _row(db_url, run_id):
    return run_store.with_database(db_url, lambda engine: run_store.get_run(engine, run_id))


def _rows(db_url):
    def read(engine):
        with engine.connect() as conn:
            return [dict(r) for r in conn.execute(sa.select(run_store.training_runs)).mappings()]
    return run_store.with_database(db_url, read)


def _start(db_url, run_id, experiment="exp", algorithm="xgboost"):
    row = run_rows.running_row(training_run_id=run_id, experiment_id=experiment, model_version_id="",
                               algorithm=algorithm, hyperparameter_space="", started_at=run_store.utcnow())
    run_store.with_database(db_url, lambda engine: run_store.start_run(engine, row))


def _complete(db_url, run_id, auc):
    row = {"training_run_id": run_id, "experiment_id": "exp", "algorithm_name": "xgboost",
           "hyperparameters": {"max_depth": 3}, "test_metrics": {"auc": auc}, "status": "completed",
           "completed_at": run_store.utcnow()}
    run_store.with_database(db_url, lambda engine: run_store.complete_run(engine, row))


def test_a_taken_run_id_is_refused_and_the_finished_row_is_left_as_it_was(db_url):
    _start(db_url, "r1")
    _complete(db_url, "r1", 0.81)
    before = _row(db_url, "r1")
    with pytest.raises(run_store.RunStateError, match="'r1' is already taken by a completed run"):
        _start(db_url, "r1", experiment="other", algorithm="logistic_regression")
    assert recording.fail_run(training_run_id="r1", db_url=db_url, state="FAILED", error="another run") is False
    with pytest.raises(run_store.RunStateError, match="'r1' is already completed"):
        _complete(db_url, "r1", 0.5)
    assert _row(db_url, "r1") == before and before["test_metrics"] == {"auc": 0.81}
    assert len(_rows(db_url)) == 1


def test_a_running_run_id_is_refused_too(db_url):
    _start(db_url, "r1")
    with pytest.raises(run_store.RunStateError, match="already taken by a running run"):
        _start(db_url, "r1")
    assert _row(db_url, "r1")["status"] == "running"


def test_a_failed_row_is_final_but_its_own_run_may_explain_it(db_url):
    _start(db_url, "r1", algorithm="random_forest")
    assert recording.fail_run(training_run_id="r1", db_url=db_url, state="FAILED", error="Task exit-handler-1 failed.")
    failed = _row(db_url, "r1")
    assert (failed["status"], failed["algorithm_name"], failed["experiment_id"]) == ("failed", "random_forest", "exp")
    with pytest.raises(run_store.RunStateError, match="'r1' is already failed"):
        _complete(db_url, "r1", 0.9)
    assert recording.fail_run(training_run_id="r1", db_url=db_url, state="FAILED", error="other") is False
    assert _row(db_url, "r1")["error"] == "Task exit-handler-1 failed."
    assert recording.fail_run(training_run_id="r1", db_url=db_url, state="FAILED", explain=True,
                              error="split-dataset: DataLeakageError: patient 7 in train and test")
    explained = _row(db_url, "r1")
    assert explained["error"] == "split-dataset: DataLeakageError: patient 7 in train and test"
    assert explained["completed_at"] == failed["completed_at"] and explained["status"] == "failed"


def test_a_run_that_never_recorded_its_start_fails_with_its_experiment_and_algorithm(db_url):
    assert recording.fail_run(training_run_id="r2", db_url=db_url, state="CANCELLED", error="stopped",
                              experiment_id="exp", algorithm="logistic_regression")
    row = _row(db_url, "r2")
    assert (row["status"], row["experiment_id"], row["algorithm_name"]) == ("failed", "exp", "logistic_regression")
    assert row["error"] == "CANCELLED: stopped" and row["completed_at"] is not None


def test_the_exit_task_names_the_task_that_gave_the_final_status():
    assert recording.final_error("exit-handler-1", "Task exit-handler-1 failed.") == "Task exit-handler-1 failed."
    assert recording.final_error("training", "OOMKilled") == "training: OOMKilled"
    assert recording.final_error("training", None) == "training failed"
    assert recording.run_id("", "8123") == "8123" and recording.run_id("a-uuid", "8123") == "a-uuid"


def _local_run(tmp_path, run_id, db_url):
    """The pipeline under kfp.local on the demo data, given `run_id`, as `sealtrain run` starts it."""
    from sealtrain.pipelines.contract import DEMO

    arguments = {"data_uri": str(DEMO["data"]), "label_column": DEMO["label"],
                 "positive_class": DEMO["positive_class"], "group_column": DEMO["group"],
                 "n_trials": 2, "bootstrap_samples": 20, "training_run_id": run_id,
                 "drop_columns": ["fake_first_name", "fake_last_name", "test_id", "ct_result"],
                 "mlflow_tracking_uri": f"sqlite:///{tmp_path / 'mlflow.db'}", "run_db_url": db_url,
                 "optuna_storage_url": f"sqlite:///{tmp_path / 'optuna.db'}"}
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"pipeline_root": str(tmp_path / "root"), "enable_caching": False,
                                  "arguments": arguments, "result_path": str(tmp_path / "result.json")}))
    return subprocess.run([sys.executable, "-m", "sealtrain.pipelines.local_runner", str(config)],
                          capture_output=True, text=True, timeout=600)


@pytest.mark.postgres
def test_a_forced_id_collision_stops_the_second_run_and_leaves_the_first_row_intact(tmp_path, postgres_url):
    run_id = str(uuid.uuid4())
    _start(postgres_url, run_id)
    _complete(postgres_url, run_id, 0.77)
    before = _row(postgres_url, run_id)
    second = _local_run(tmp_path, run_id, postgres_url)
    assert second.returncode == 1
    assert f"RunStateError: training run id '{run_id}' is already taken by a completed run" in second.stdout
    assert "Executing task 'load-dataset'" not in second.stdout and "recorded as failed" not in second.stdout
    assert _row(postgres_url, run_id) == before
    assert len(_rows(postgres_url)) == 1
