"""The experiment's locked holdout and test-access ledger through the `sealtrain` CLI: real
KosteckiDillon patients, kfp.local, on SQLite and on PostgreSQL with a live `mlflow server`.

A first run sees 75% of the patients, a second one all of them, in the same experiment: the
first run's holdout patients stay in the holdout, and only there. Then other models on the
same test split are counted by the ledger, a cached rerun is not counted again, and a budget
stops a run before tuning."""

import json
import os
import sqlite3
import subprocess
import sys

import pandas as pd
import pytest
import sqlalchemy as sa

from sealtrain.components.core import splitting

SPLITS = ("train", "validation", "test", "holdout")
GROUP = "__group__"
WARNING = "repeated test evaluation overfits the test split"
pytestmark = pytest.mark.pipeline


def sealtrain(*args):
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    return subprocess.run([sys.executable, "-m", "sealtrain.pipelines.cli", *args], capture_output=True, text=True,
                          env=env)


def _data(work, kostecki):
    """The first 75% of the patients, and all of them."""
    patients = kostecki["id"].unique()
    early = kostecki[kostecki["id"].isin(patients[: len(patients) * 3 // 4])]
    early.to_csv(work / "early.csv", index=False)
    kostecki.to_csv(work / "all.csv", index=False)
    return work / "early.csv", work / "all.csv"


def _args(data, work, name, *extra):
    return ["run", "--data", str(data), "--label", "headache", "--positive-class", "yes", "--group", "id",
            "--drop", "rownames", "--trials", "3", "--bootstrap-samples", "50", "--experiment", "locked",
            "--summary-json", str(work / f"{name}.json"), *extra]


def _summary(work, name):
    return json.loads((work / f"{name}.json").read_text())


def _patients(summary) -> dict[str, set]:
    return {name: set(pd.read_parquet(summary["splits"][name]["path"])[GROUP]) for name in SPLITS}


def _check_the_lock(first, second):
    """Every first-run holdout patient is in the second run's holdout, and no holdout patient is elsewhere."""
    before, after = _patients(first), _patients(second)
    assert before["holdout"] and before["holdout"] <= after["holdout"]
    held = before["holdout"] | after["holdout"]
    for run in (before, after):
        for name in ("train", "validation", "test"):
            assert not held & run[name], f"holdout patients in {name}: {sorted(held & run[name])}"
    assert first["holdout_lock"] == {"lock_size": 0, "locked_groups": 0, "new_groups": len(before["holdout"]),
                                     "added": len(before["holdout"])}
    new = len(after["holdout"] - before["holdout"])
    assert second["holdout_lock"] == {"lock_size": len(before["holdout"]), "locked_groups": len(before["holdout"]),
                                      "new_groups": new, "added": new}
    assert new > 0  # the new patients get their holdout share by the hash


def _lock_rows(engine: sa.Engine) -> dict[str, set]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text("select training_run_id, group_hash from ml_holdout_groups")).all()
    by_run = {}
    for run_id, group_hash in rows:
        by_run.setdefault(run_id, set()).add(group_hash)
    return by_run


@pytest.fixture(scope="module")
def sqlite_runs(tmp_path_factory, kostecki):
    """On the embedded stores: xgboost on 75% of the patients, then on all; logistic regression on
    all, twice (the second from the cache); random forest with a budget of two models."""
    work = tmp_path_factory.mktemp("ledger")
    early, full = _data(work, kostecki)
    out = ["--output", str(work / "out"), "--cache"]
    runs = {
        "early": sealtrain(*_args(early, work, "early", *out)),
        "full": sealtrain(*_args(full, work, "full", *out)),
        "other": sealtrain(*_args(full, work, "other", *out, "--algorithm", "logistic_regression")),
        "cached": sealtrain(*_args(full, work, "cached", *out, "--algorithm", "logistic_regression")),
        "blocked": sealtrain(*_args(full, work, "blocked", *out, "--algorithm", "random_forest",
                                    "--max-test-evaluations", "2")),
    }
    return work, runs


def test_sqlite_the_first_holdout_stays_locked_when_the_data_grows(sqlite_runs):
    work, runs = sqlite_runs
    for name in ("early", "full"):
        assert runs[name].returncode == 0, runs[name].stderr + runs[name].stdout[-3000:]
    first, second = _summary(work, "early"), _summary(work, "full")
    _check_the_lock(first, second)
    # The run store keeps salted hashes of the holdout patients, never their ids.
    engine = sa.create_engine(f"sqlite:///{work / 'out' / 'runs.db'}")
    locked = _lock_rows(engine)
    engine.dispose()
    ids = sorted(_patients(first)["holdout"])
    assert locked[first["training_run_id"]] == set(splitting.group_hashes(ids, "sealtrain"))
    assert not set(ids) & set().union(*locked.values())
    assert "holdout: 0 groups locked by earlier runs of the experiment" in runs["early"].stdout
    assert f"holdout: {second['holdout_lock']['locked_groups']} groups locked by earlier runs of the experiment, " \
           f"{second['holdout_lock']['new_groups']} new" in runs["full"].stdout


def test_sqlite_models_on_one_test_split_are_counted_once_each(sqlite_runs):
    import mlflow

    work, runs = sqlite_runs
    for name in ("other", "cached"):
        assert runs[name].returncode == 0, runs[name].stderr + runs[name].stdout[-3000:]
    early, full, other, cached = (_summary(work, n) for n in ("early", "full", "other", "cached"))
    # The grown data's split is kept by every later run on it: one test split, three runs.
    assert full["splits"]["test"]["fingerprint"] == other["splits"]["test"]["fingerprint"] == \
           cached["splits"]["test"]["fingerprint"] != early["splits"]["test"]["fingerprint"]
    assert [s["test_evaluations"] for s in (early, full, other, cached)] == [1, 1, 2, 2]
    assert "evaluate-model" in cached["cached_tasks"]
    assert "Test split evaluated by 1 model of the experiment, this one included" in runs["full"].stdout
    assert WARNING not in runs["full"].stdout and WARNING not in open(full["artifacts"]["report"]).read()
    assert "Test split evaluated by 2 models of the experiment, this one included" in runs["other"].stdout
    assert f"warning: 2 models of this experiment have been evaluated on this test split: {WARNING}" in \
           runs["other"].stdout
    assert WARNING in open(other["artifacts"]["report"]).read()
    client = mlflow.MlflowClient(other["mlflow"]["tracking_uri"])
    assert client.get_run(other["mlflow"]["run_id"]).data.tags["sealtrain.test_evaluations"] == "2"
    assert client.get_run(cached["mlflow"]["run_id"]).data.tags["sealtrain.test_evaluations"] == "2"
    with sqlite3.connect(work / "out" / "runs.db") as db:
        rows = db.execute("select training_run_id, model_version, split from ml_split_evaluations "
                          "where split_fingerprint = ? order by evaluation_id",
                          (full["splits"]["test"]["fingerprint"],)).fetchall()
    assert rows == [(full["training_run_id"], f"xgboost-{full['training_run_id']}", "test"),
                    (other["training_run_id"], f"logistic_regression-{other['training_run_id']}", "test")]


def test_sqlite_a_spent_test_budget_stops_the_run_before_tuning(sqlite_runs):
    work, runs = sqlite_runs
    blocked = runs["blocked"]
    assert blocked.returncode == 1, blocked.stdout[-3000:]
    assert "error in recall-best-config: TestEvaluationLimitError: the test split " in blocked.stderr
    assert "has been evaluated by 2 models, and --max-test-evaluations is 2" in blocked.stderr
    assert "tune-hyperparameters" not in blocked.stdout and "evaluate-model" not in blocked.stdout
    assert not (work / "blocked.json").exists()
    with sqlite3.connect(work / "out" / "runs.db") as db:
        failed = db.execute("select algorithm_name, error from ml_training_runs where status = 'failed'").fetchall()
        evaluations = db.execute("select count(*) from ml_split_evaluations").fetchone()[0]
    assert len(failed) == 1 and failed[0][0] == "random_forest"
    assert failed[0][1].startswith("recall-best-config: TestEvaluationLimitError: ")
    assert "--max-test-evaluations is 2" in failed[0][1]
    assert evaluations == 3  # early's split, and two models on the grown one


@pytest.fixture(scope="module")
def postgres_runs(tmp_path_factory, kostecki, mlflow_server, request):  # noqa: F811
    """On PostgreSQL and the live MLflow server: 75% of the patients, all of them, then another salt."""
    database = request.getfixturevalue("postgres_database")
    work = tmp_path_factory.mktemp("ledger-postgres")
    early, full = _data(work, kostecki)
    stores = ["--db-url", database, "--mlflow-uri", mlflow_server, "--output", str(work / "out")]
    runs = {
        "early": sealtrain(*_args(early, work, "early", *stores)),
        "full": sealtrain(*_args(full, work, "full", *stores)),
        "salted": sealtrain(*_args(full, work, "salted", *stores, "--split-salt", "pepper")),
    }
    return work, database, runs


@pytest.mark.postgres
def test_postgres_the_first_holdout_stays_locked_and_the_ledger_counts(postgres_runs, mlflow_server):  # noqa: F811
    import mlflow

    work, database, runs = postgres_runs
    for name in ("early", "full"):
        assert runs[name].returncode == 0, runs[name].stderr + runs[name].stdout[-3000:]
    first, second = _summary(work, "early"), _summary(work, "full")
    _check_the_lock(first, second)
    engine = sa.create_engine(database.replace("postgresql://", "postgresql+psycopg2://"))
    locked = _lock_rows(engine)
    with engine.connect() as conn:
        ledger = conn.execute(sa.text("select training_run_id, split_fingerprint from ml_split_evaluations "
                                      "order by evaluation_id")).all()
    engine.dispose()
    assert locked[first["training_run_id"]] == set(splitting.group_hashes(sorted(_patients(first)["holdout"]),
                                                                          "sealtrain"))
    assert locked[second["training_run_id"]] == set(splitting.group_hashes(sorted(_patients(second)["holdout"]),
                                                                           "sealtrain"))
    assert [tuple(row) for row in ledger] == [(s["training_run_id"], s["splits"]["test"]["fingerprint"])
                                              for s in (first, second)]
    assert first["test_evaluations"] == second["test_evaluations"] == 1
    run = mlflow.MlflowClient(mlflow_server).get_run(second["mlflow"]["run_id"])
    assert run.data.tags["sealtrain.test_evaluations"] == "1"


@pytest.mark.postgres
def test_postgres_another_salt_on_a_locked_experiment_is_refused_at_the_start(postgres_runs):
    _, database, runs = postgres_runs
    salted = runs["salted"]
    assert salted.returncode == 1
    assert "error in start-run: InvalidInputError: experiment 'locked' has its holdout locked with another split " \
           "salt" in salted.stderr, salted.stderr
    assert "Use the same --split-salt and --group as that run, or a new --experiment" in salted.stderr
    assert "load-dataset" not in salted.stdout
    engine = sa.create_engine(database.replace("postgresql://", "postgresql+psycopg2://"))
    with engine.connect() as conn:
        errors = conn.execute(sa.text("select error from ml_training_runs where status = 'failed'")).scalars().all()
    engine.dispose()
    assert len(errors) == 1 and errors[0].startswith("start-run: InvalidInputError: experiment 'locked'")
