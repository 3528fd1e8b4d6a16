"""Tracking and records against real services: PostgreSQL, an `mlflow server` process and a
Cloud Storage emulator (gcp-storage-emulator speaking the real GCS JSON API on loopback)."""

import json
import os
import subprocess
import sys
import time

import pytest
import sqlalchemy as sa
from conftest import free_port, wait_for

from sealtrain.components.core import recording, run_store, tracking
from sealtrain.components.core.errors import InvalidInputError

pytestmark = [pytest.mark.postgres, pytest.mark.pipeline]


def _sealtrain(*args, env):
    return subprocess.run([sys.executable, "-m", "sealtrain.pipelines.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **env})


@pytest.fixture(scope="module")
def service_runs(tmp_path_factory, mlflow_server, gcs, request):
    """A run on gs:// data recorded in Postgres and a live MLflow, a rerun (which splits again under the
    holdout the first locked), an identical cached rerun, and a failing run."""
    database = request.getfixturevalue("postgres_database")
    work = tmp_path_factory.mktemp("services")
    common = ["--label", "headache", "--positive-class", "yes", "--group", "id", "--drop", "rownames",
              "--trials", "6", "--bootstrap-samples", "100", "--mlflow-uri", mlflow_server, "--db-url", database,
              "--output", str(work / "out"), "--experiment", "services"]
    runs = [
        _sealtrain("run", "--data", "gs://sealtrain-data/kostecki.csv", *common, "--cache", "--summary-json",
                   str(work / f"{name}.json"), env=gcs)
        for name in ("first", "second", "cached")
    ]
    runs.append(_sealtrain("run", "--data", "gs://sealtrain-data/kostecki.csv", *common, "--min-auc", "0.99",
                           "--summary-json", str(work / "strict.json"), env=gcs))
    # A failure inside the pipeline (bad arguments are refused before it starts, with no row).
    blocked = work / "failed-qc.json"
    blocked.write_text(json.dumps({"status": "FAILED", "overall_score": 0.2,
                                   "checks": [{"name": "upstream", "status": "FAILED", "detail": "stale extract"}]}))
    runs.append(_sealtrain("run", "--data", "gs://sealtrain-data/kostecki.csv", *common, "--qc-report", str(blocked),
                           env=gcs))
    return work, database, runs


def _rows(database):
    engine = run_store.engine_for(database)
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(sa.select(run_store.training_runs)).mappings()]
    engine.dispose()
    return rows


def test_gs_data_run_leaves_a_completed_row_and_an_mlflow_run(service_runs, mlflow_server):
    import mlflow

    work, database, (first, *_) = service_runs
    assert first.returncode == 0, first.stderr + first.stdout[-2000:]
    summary = json.loads((work / "first.json").read_text())
    assert summary["dataset"]["source"] == "gs://sealtrain-data/kostecki.csv"
    row = next(r for r in _rows(database) if r["training_run_id"] == summary["training_run_id"])
    assert row["status"] == "completed" and row["mlflow_run_id"] == summary["mlflow"]["run_id"]
    assert row["test_metrics"]["auc"] == summary["metrics"]["test"]["auc"]
    assert row["model_artifact_uri"].startswith("mlflow-artifacts:/")
    run = mlflow.MlflowClient(mlflow_server).get_run(summary["mlflow"]["run_id"])
    assert {"train_auc", "test_auc"} <= set(run.data.metrics)


def test_registered_version_loads_by_alias_and_predicts_raw_rows(service_runs, mlflow_server, kostecki):
    import mlflow

    work, _, _ = service_runs
    summary = json.loads((work / "first.json").read_text())
    mlflow.set_tracking_uri(mlflow_server)
    model = mlflow.pyfunc.load_model("models:/services@candidate")
    assert len(model.predict(kostecki.drop(columns=["headache"]).tail(10))) == 10
    version = mlflow.MlflowClient().get_model_version_by_alias("services", "candidate")
    later = [json.loads((work / f"{n}.json").read_text()) for n in ("second", "cached")]
    assert version.run_id in {summary["mlflow"]["run_id"], *(run["mlflow"]["run_id"] for run in later)}


def test_cached_rerun_adds_exactly_one_row(service_runs):
    work, database, (first, second, cached, *_) = service_runs
    assert second.returncode == 0 and cached.returncode == 0, second.stderr + cached.stderr
    ids = {json.loads((work / f"{n}.json").read_text())["training_run_id"] for n in ("first", "second", "cached")}
    completed = [r for r in _rows(database) if r["training_run_id"] in ids]
    assert len(completed) == 3 and all(r["status"] == "completed" for r in completed)
    # The second run splits under the holdout the first locked (the split's input changed); the third
    # finds every compute step unchanged.
    assert len(json.loads((work / "second.json").read_text())["cached_tasks"]) == 4
    assert len(json.loads((work / "cached.json").read_text())["cached_tasks"]) == 10


def test_a_model_below_the_bar_is_recorded_but_not_registered(service_runs, mlflow_server):
    import mlflow

    work, _, (_, _, _, strict, _) = service_runs
    assert strict.returncode == 0, strict.stderr
    summary = json.loads((work / "strict.json").read_text())
    assert summary["acceptance"]["accepted"] is False
    assert summary["mlflow"]["registered_version"] is None
    tags = mlflow.MlflowClient(mlflow_server).get_run(summary["mlflow"]["run_id"]).data.tags
    assert tags["registration"].startswith("not registered: lower 95% bound of test AUC")


def test_a_failing_run_leaves_a_failed_row(service_runs):
    _, database, (*_, failing) = service_runs
    assert failing.returncode == 1
    failed = [r for r in _rows(database) if r["status"] == "failed"]
    assert len(failed) == 1
    assert failed[0]["error"].startswith("qc-gate: QCGateBlockedError: Cannot train"), failed[0]["error"]
    assert "stale extract" in failed[0]["error"]
    assert failed[0]["experiment_id"] == "services" and failed[0]["algorithm_name"] == "xgboost"
    assert failed[0]["completed_at"] is not None


def test_unreachable_run_table_fails_after_bounded_retries_without_the_password(monkeypatch):
    monkeypatch.setattr(run_store, "DB_RETRY_SECONDS", 0.01)
    url = "postgresql://trainer:s3cret@127.0.0.1:1/runs"
    with pytest.raises(run_store.RunRecordError, match=r"run table at postgresql\+psycopg2://trainer:\*\*\*@127.0.0.1:1/"
                                                       r"runs unreachable after 3 attempts") as caught:
        recording.fail_run(training_run_id="r", db_url=url, state="FAILED", error="x")
    assert "s3cret" not in str(caught.value)


def test_unreachable_tracking_server_is_named():
    started = time.monotonic()
    with pytest.raises(tracking.TrackingError, match=r"MLflow at http://127.0.0.1:1 failed"):
        tracking.ensure_experiment("http://127.0.0.1:1", "x")
    with pytest.raises(tracking.TrackingError, match=r"MLflow at http://127.0.0.1:1 failed"):
        tracking.check_reachable("http://127.0.0.1:1", "x")
    assert time.monotonic() - started < 60


def test_the_first_step_asks_each_kind_of_store_whether_it_answers(mlflow_server, postgres_url, tmp_path):
    """start-run's probe: a live server (experiment missing or present), a database, and what is not there."""
    tracking.check_reachable(mlflow_server, "probe-missing")
    tracking.ensure_experiment(mlflow_server, "probe-present")
    tracking.check_reachable(mlflow_server, "probe-present")
    tracking.check_reachable(postgres_url, "x")
    tracking.check_reachable(f"sqlite:///{tmp_path / 'mlflow.db'}", "x")
    # A web server that is not MLflow answers 404 too, but not MLflow's RESOURCE_DOES_NOT_EXIST.
    port = free_port()
    other = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                              "--directory", str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(f"http://127.0.0.1:{port}/", other)
        with pytest.raises(tracking.TrackingError, match=f"MLflow at http://127.0.0.1:{port} failed: .*404"):
            tracking.check_reachable(f"http://127.0.0.1:{port}", "x")
    finally:
        other.terminate()
        other.wait(timeout=30)
    with pytest.raises(tracking.TrackingError, match="unable to open database file"):
        tracking.check_reachable(f"sqlite:///{tmp_path / 'absent' / 'mlflow.db'}", "x")
    with pytest.raises(tracking.TrackingError, match=r"MLflow at postgresql://postgres@127.0.0.1:5432/absent failed"):
        tracking.check_reachable("postgresql://postgres@127.0.0.1:5432/absent", "x")


def test_missing_endpoints_name_the_parameter_and_variable(monkeypatch):
    monkeypatch.delenv("SEALTRAIN_DB_URL", raising=False)
    with pytest.raises(InvalidInputError, match="run_db_url is empty and SEALTRAIN_DB_URL is not set"):
        recording.fail_run(training_run_id="r", db_url="", state="FAILED", error="x")


def test_a_succeeded_pipeline_is_never_marked_failed(tmp_path):
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    assert recording.fail_run(training_run_id="r", db_url=url, state="SUCCEEDED", error="") is False
    assert recording.fail_run(training_run_id="r", db_url=url, state="FAILED", error="boom") is True
    engine = run_store.engine_for(url)
    assert run_store.get_run(engine, "r")["status"] == "failed"
    engine.dispose()
