"""Recording a run: the MLflow run, the run-table row and the design's records, built from real
artifacts (see recorded_run.py) into SQLite stores."""

import json
import os
import subprocess
import sys

import pytest
from conftest import KOSTECKI_SPEC
from recorded_run import build_artifacts

from sealtrain.components.core import modelio, recording, records, run_log, run_rows, run_store, split_ledger, tracking
from sealtrain.components.core.constants import HOLDOUT
from sealtrain.components.core.run_artifacts import model_version


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory, kostecki, kostecki_splits):
    return build_artifacts(tmp_path_factory.mktemp("artifacts"), kostecki, KOSTECKI_SPEC, kostecki_splits)


@pytest.fixture(scope="module")
def run(artifacts):
    return artifacts.read("run-1", "exp", "")


@pytest.fixture(scope="module")
def recorded(tmp_path_factory, artifacts):
    """One run, evaluated in the ledger as evaluate_model does, recorded into SQLite stores: the
    records, the MLflow run info, the ledger's answer and the stores' URLs."""
    root = tmp_path_factory.mktemp("stores")
    stores = {"tracking_uri": f"sqlite:///{root / 'mlflow.db'}", "db_url": f"sqlite:///{root / 'runs.db'}"}
    test = artifacts.read("run-1", "exp", "").manifest["splits"]["test"]["fingerprint"]
    for model in ("another model", modelio.model_fingerprint(artifacts.model)):
        recording.record_test_evaluation(db_url=stores["db_url"], experiment_id="exp", test_fingerprint=test,
                                         training_run_id="run-1", model_fingerprint=model, model_version="v",
                                         metrics={})
    trained, validation, info, ledger = recording.record(training_run_id="run-1", experiment_id="exp",
                                                         model_version_id="", artifacts=artifacts, **stores)
    return trained, validation, info, stores, ledger


def test_the_version_id_is_given_or_derived_from_algorithm_and_run():
    assert model_version("v7", "xgboost", "run-1") == "v7"
    assert model_version("", "xgboost", "run-1") == "xgboost-run-1"


def test_read_artifacts_carry_the_run_identity(run):
    assert (run.training_run_id, run.experiment_id) == ("run-1", "exp")
    assert run.model_version_id == "logistic_regression-run-1"
    assert run.algorithm.name == "logistic_regression" and run.best["metric"] == "log_loss"


def test_metrics_are_named_by_split_with_intervals_and_precision_at_k(run):
    logged = run_log.metrics(run.evaluation)
    assert logged["train_auc"] == run.evaluation["train_metrics"]["auc"]
    assert logged["val_auc"] == run.evaluation["validation_metrics"]["auc"]
    assert [logged["test_auc_ci_low"], logged["test_auc_ci_high"]] == run.evaluation["confidence_interval"]["auc"]
    assert logged["test_precision_at_10"] == run.evaluation["precision_at_k"]["10"]


def test_params_and_tags_hold_hyperparameters_split_sizes_and_fingerprints(run):
    params, tags = run_log.params(run), run_log.tags(run)
    assert {f"hp_{k}" for k in run.best["params"]} <= set(params)
    assert params["train_rows"] == run.manifest["splits"]["train"]["rows"] and params["holdout_groups"] > 0
    assert tags["model_version_id"] == "logistic_regression-run-1" and tags["accepted"] == "true"
    assert tags["test_fingerprint"] == run.manifest["splits"]["test"]["fingerprint"]


def test_validation_metrics_headline_the_test_split(run):
    validation = records.validation_metrics(run)
    assert validation.auc == run.evaluation["test_metrics"]["auc"]
    assert validation.details["acceptance"]["accepted"] is True
    assert json.loads(validation.to_json())["bootstrap_samples"] == 20


def test_rows_of_a_run_that_starts_or_fails_carry_its_experiment_and_algorithm():
    started = run_store.utcnow()
    running = run_rows.running_row(training_run_id="r", experiment_id="e", model_version_id="", algorithm="xgboost",
                                   hyperparameter_space="", started_at=started)
    assert running["model_version_id"] == "xgboost-r" and running["hyperparameter_space"]
    failed = run_rows.failed_row(training_run_id="r", experiment_id="e", algorithm="xgboost", error="x",
                                 completed_at=started)
    assert (failed["experiment_id"], failed["algorithm_name"], failed["status"]) == ("e", "xgboost", "failed")
    orphan = run_rows.failed_row(training_run_id="r", experiment_id="", algorithm="", error="", completed_at=started)
    assert (orphan["experiment_id"], orphan["algorithm_name"]) == (None, "unknown")


def test_record_run_logs_mlflow_writes_the_completed_row_and_returns_the_records(recorded, run):
    import mlflow

    trained, validation, info, stores, _ = recorded
    client = mlflow.MlflowClient(stores["tracking_uri"])
    logged = client.get_run(info["run_id"]).data
    assert logged.params["algorithm"] == "logistic_regression" and logged.tags["training_run_id"] == "run-1"
    assert logged.metrics["test_auc"] == validation.auc
    assert {a.path for a in client.list_artifacts(info["run_id"])} >= {"model", "preprocessor", "evaluation", "report"}
    assert client.get_model_version_by_alias("exp", tracking.CANDIDATE_ALIAS).run_id == info["run_id"]
    engine = run_store.engine_for(stores["db_url"])
    row = run_store.get_run(engine, "run-1")
    assert run_store.latest_hyperparameters(engine, "exp", "logistic_regression") == run.best["params"]
    engine.dispose()
    assert row["status"] == "completed" and row["mlflow_run_id"] == info["run_id"]
    assert row["model_artifact_uri"] == trained.model_artifact_uri == f"{info['artifact_uri']}/model"
    assert row["test_samples"] == run.manifest["splits"]["test"]["rows"]
    # SQLite drops the time zone; the instant is the same.
    assert trained.training_completed_at.startswith(row["completed_at"].isoformat())


def test_trials_are_logged_under_the_tuning_metric(recorded):
    import mlflow

    _, _, info, stores, _ = recorded
    client = mlflow.MlflowClient(stores["tracking_uri"])
    trials = client.search_runs([info["experiment_id"]], filter_string=f"tags.mlflow.parentRunId = '{info['run_id']}'")
    assert len(trials) == 2
    assert all(set(t.data.metrics) == {"val_log_loss"} for t in trials)


def test_recording_locks_the_holdout_and_tags_the_test_evaluations(recorded, artifacts):
    import mlflow

    _, _, info, stores, ledger = recorded
    assert ledger == {"test_evaluations": 2, "holdout_groups_locked": len(artifacts.group_hashes()[0])}
    assert mlflow.MlflowClient(stores["tracking_uri"]).get_run(info["run_id"]).data.tags[
        "sealtrain.test_evaluations"] == "2"
    manifest = json.loads(open(artifacts.manifest).read())
    locked = run_store.with_database(stores["db_url"], lambda e: split_ledger.run_holdout(e, "exp", "run-1"))
    assert len(locked) == manifest["splits"][HOLDOUT]["groups"] > 0
    assert locked == set(artifacts.group_hashes()[0])


def test_importing_tracking_leaves_the_environment_alone():
    code = ("import os; from sealtrain.components.core import tracking; "
            "print(sorted(set(tracking.FAIL_FAST_ENV) & set(os.environ)))")
    env = {k: v for k, v in os.environ.items() if k not in tracking.FAIL_FAST_ENV}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert result.stdout.strip() == "[]"


def test_mlflow_calls_fail_fast_then_restore_the_environment(monkeypatch, tmp_path):
    import mlflow.environment_variables as mlflow_env

    seen = {}
    monkeypatch.delenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", raising=False)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "7")
    monkeypatch.setattr(tracking, "_artifact_root", lambda uri: seen.update(
        retries=mlflow_env.MLFLOW_HTTP_REQUEST_MAX_RETRIES.get(), timeout=mlflow_env.MLFLOW_HTTP_REQUEST_TIMEOUT.get()))
    tracking.ensure_experiment(f"sqlite:///{tmp_path / 'mlflow.db'}", "e")
    assert seen == {"retries": 2, "timeout": 7}
    assert "MLFLOW_HTTP_REQUEST_MAX_RETRIES" not in os.environ and os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] == "7"
