"""The real pipeline, run end to end through the `sealtrain` CLI and kfp.local."""

import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

SPLITS = ("train", "validation", "test", "holdout")
pytestmark = pytest.mark.pipeline


def sealtrain(*args, cwd=None, env=None):
    return subprocess.run([sys.executable, "-m", "sealtrain.pipelines.cli", *args], capture_output=True, text=True,
                          cwd=cwd, env=env)


@pytest.fixture(scope="module")
def kostecki_run(tmp_path_factory, kostecki):
    """One cached-enabled run on KosteckiDillon (string label, group column), a rerun that splits
    under the holdout the first one locked, then an identical rerun."""
    work = tmp_path_factory.mktemp("kostecki")
    data = work / "kostecki.csv"
    kostecki.to_csv(data, index=False)
    args = ["run", "--data", str(data), "--label", "headache", "--positive-class", "yes", "--group", "id",
            "--drop", "rownames", "--trials", "8", "--bootstrap-samples", "200", "--output", str(work / "out"),
            "--cache"]
    temporary = work / "tmp"
    temporary.mkdir()
    first = sealtrain(*args, "--summary-json", str(work / "first.json"), env={**os.environ, "TMPDIR": str(temporary)})
    # The first run locked its holdout in the experiment: the split's input changed, so it is made again.
    locked = sealtrain(*args, "--summary-json", str(work / "locked.json"))
    assert locked.returncode == 0, locked.stderr + locked.stdout[-3000:]
    second = sealtrain(*args, "--summary-json", str(work / "second.json"))
    # An independent rerun: fresh output directory, so no cache, no stored study, new stores.
    fresh = [*args[:-3], "--output", str(work / "fresh"), "--summary-json", str(work / "fresh.json")]
    assert sealtrain(*fresh).returncode == 0
    return work, first, second


def test_run_succeeds_with_a_printed_summary(kostecki_run):
    _, first, _ = kostecki_run
    assert first.returncode == 0, first.stderr + first.stdout[-3000:]
    assert "[14/14] finalize-run" in first.stdout
    assert "auc" in first.stdout and "test 95% CI" in first.stdout


def test_a_run_leaves_nothing_in_the_temporary_directory(kostecki_run):
    work, _, _ = kostecki_run
    assert not list((work / "tmp").iterdir()), "kfp.local's per-task code directories are the run's scratch"


def test_summary_has_four_disjoint_splits_and_test_metrics(kostecki_run):
    work, _, _ = kostecki_run
    summary = json.loads((work / "first.json").read_text())
    assert summary["status"] == "completed"
    assert set(summary["splits"]) == set(SPLITS)
    owners = {}
    for name in SPLITS:
        frame = pd.read_parquet(summary["splits"][name]["path"])
        assert len(frame) == summary["splits"][name]["rows"]
        for group in frame["__group__"].unique():
            assert owners.setdefault(group, name) == name
        assert "headache" not in frame.columns and "id" not in frame.columns and "rownames" not in frame.columns
    total = sum(s["rows"] for s in summary["splits"].values())
    assert abs(summary["splits"]["train"]["rows"] / total - 0.60) <= 0.02
    for name in ("auc", "pr_auc", "precision", "recall", "f1", "brier_score", "calibration_error"):
        assert 0.0 <= summary["metrics"]["test"][name] <= 1.0
    low, high = summary["confidence_interval"]["auc"]
    assert low <= summary["metrics"]["test"]["auc"] <= high
    assert summary["tuning_trials"] == 8
    for key in ("preprocessor", "model"):
        assert summary["artifacts"][key].startswith(summary["pipeline_root"])


def test_mlflow_and_run_table_record_the_run(kostecki_run):
    import mlflow

    work, _, _ = kostecki_run
    summary = json.loads((work / "first.json").read_text())
    client = mlflow.MlflowClient(summary["mlflow"]["tracking_uri"])
    run = client.get_run(summary["mlflow"]["run_id"])
    assert {"train_auc", "val_auc", "test_auc", "test_auc_ci_low"} <= set(run.data.metrics)
    assert run.data.tags["split_manifest_fingerprint"] == summary["split_manifest_fingerprint"]
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"model", "preprocessor", "split_manifest", "report.html", "history.html", "qc_report"} <= artifacts
    assert summary["mlflow"]["registered_version"] == "1"
    assert run.data.tags["registration"] == "registered: no acceptance criteria set"
    nested = client.search_runs([run.info.experiment_id], f"tags.mlflow.parentRunId = '{run.info.run_id}'")
    assert len(nested) == summary["tuning_trials"]


def test_registered_model_predicts_on_raw_rows(kostecki_run, kostecki):
    import mlflow

    work, _, _ = kostecki_run
    summary = json.loads((work / "first.json").read_text())
    mlflow.set_tracking_uri(summary["mlflow"]["tracking_uri"])
    model = mlflow.pyfunc.load_model(f"models:/{summary['mlflow']['registered_model']}@candidate")
    predicted = model.predict(kostecki.drop(columns=["headache"]).head(25))
    assert list(predicted.columns) == ["probability", "prediction"] and len(predicted) == 25
    assert predicted["probability"].between(0, 1).all()
    threshold = summary["threshold"]
    assert (predicted["prediction"] == (predicted["probability"] >= threshold)).all()
    with sqlite3.connect(work / "out" / "runs.db") as db:
        row = db.execute("select status, mlflow_run_id, train_samples from ml_training_runs where training_run_id = ?",
                         (summary["training_run_id"],)).fetchone()
    assert row == ("completed", summary["mlflow"]["run_id"], summary["splits"]["train"]["rows"])


def test_cached_rerun_skips_every_compute_step_but_records_a_new_run(kostecki_run):
    work, first, second = kostecki_run
    assert second.returncode == 0, second.stderr
    a, b = (json.loads((work / f"{n}.json").read_text()) for n in ("first", "second"))
    assert a["cached_tasks"] == []
    assert set(b["cached_tasks"]) == {
        "load-dataset", "check-data-quality", "qc-gate", "split-dataset", "fit-preprocessor", "plan-tuning",
        "tune-hyperparameters", "select-best-trial", "train-model", "evaluate-model",
    }
    # kfp.local stores results only when caching is on: the first --cache run says it reused nothing.
    assert "sealtrain: --cache reused nothing: kfp.local stores results only in --cache runs" in first.stdout
    assert "reused nothing" not in second.stdout
    assert re.search(r"^\[\d+/14\] split-dataset: cached$", second.stdout, re.MULTILINE), second.stdout
    assert "[14/14] finalize-run ..." in second.stdout
    assert b["training_run_id"] != a["training_run_id"]
    assert b["mlflow"]["run_id"] != a["mlflow"]["run_id"]
    assert b["metrics"]["test"] == a["metrics"]["test"]
    with sqlite3.connect(work / "out" / "runs.db") as db:
        assert db.execute("select count(*) from ml_training_runs where status = 'completed'").fetchone() == (3,)


def test_the_rerun_after_the_first_splits_again_under_its_lock_to_the_same_splits(kostecki_run):
    work, _, _ = kostecki_run
    first, locked = (json.loads((work / f"{n}.json").read_text()) for n in ("first", "locked"))
    assert set(locked["cached_tasks"]) == {"load-dataset", "check-data-quality", "qc-gate", "plan-tuning"}
    assert locked["split_manifest_fingerprint"] == first["split_manifest_fingerprint"]
    assert locked["holdout_lock"] == {"lock_size": first["splits"]["holdout"]["groups"],
                                      "locked_groups": first["splits"]["holdout"]["groups"], "new_groups": 0,
                                      "added": 0}
    assert first["test_evaluations"] == 1
    assert locked["metrics"] == first["metrics"]


def test_failed_qc_blocks_training_and_writes_no_summary(tmp_path, kostecki):
    few = kostecki[kostecki["id"].isin(kostecki["id"].unique()[:12])]
    few.to_csv(tmp_path / "few.csv", index=False)
    result = sealtrain("run", "--data", str(tmp_path / "few.csv"), "--label", "headache", "--positive-class", "yes",
                       "--group", "id", "--trials", "2", "--output", str(tmp_path / "out"),
                       "--summary-json", str(tmp_path / "summary.json"))
    assert result.returncode == 1
    assert "error in qc-gate: QCGateBlockedError: Cannot train: QC failed with score" in result.stderr
    assert "12 groups in 'id'; at least 20 are needed" in result.stderr
    assert "split-dataset" not in result.stdout
    assert not (tmp_path / "summary.json").exists()
    with sqlite3.connect(tmp_path / "out" / "runs.db") as db:
        rows = db.execute("select status, error from ml_training_runs").fetchall()
    assert len(rows) == 1 and rows[0][0] == "failed"
    assert rows[0][1].startswith("qc-gate: QCGateBlockedError: Cannot train: QC failed with score")


def test_upstream_failed_report_blocks_before_any_split(tmp_path):
    report = tmp_path / "qc.json"
    report.write_text(json.dumps({"status": "FAILED", "overall_score": 0.31}))
    result = sealtrain("run", "--qc-report", str(report), "--trials", "1", "--output", str(tmp_path / "out"))
    assert result.returncode == 1
    assert "QCGateBlockedError: Cannot train: QC failed with score 0.31" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--data", "missing.csv", "--label", "y"], "missing.csv: no such file"),
        (["--data", "x.csv"], "--label is required with --data"),
        (["--qc-report", "nope.json"], "--qc-report nope.json"),
        (["--trials", "0"], "--trials must be at least 1"),
    ],
)
def test_bad_arguments_fail_fast_with_exit_code_2(tmp_path, args, message):
    (tmp_path / "x.csv").write_text("a,y\n1,0\n")
    result = sealtrain("run", *args, "--output", str(tmp_path / "out"), cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr


# Bad arguments and unreadable tables are refused before the pipeline starts (tests/test_preflight.py);
# what only the data's content reveals fails in the stage that reads it, named, through the whole CLI.
def test_bad_content_fails_in_the_pipeline_with_a_named_cause(tmp_path, kostecki):
    infinite = kostecki.copy()
    infinite.loc[0, "airq"] = float("inf")
    path = tmp_path / "infinite.csv"
    infinite.to_csv(path, index=False)
    result = sealtrain("run", "--data", str(path), "--label", "headache", "--positive-class", "yes", "--group", "id",
                       "--trials", "1", "--output", str(tmp_path / "out"), "--summary-json", str(tmp_path / "s.json"))
    assert result.returncode == 1
    assert "error in qc-gate: QCGateBlockedError: " in result.stderr, result.stderr
    assert "infinite values in ['airq']" in result.stderr
    assert not (tmp_path / "s.json").exists()


def test_an_independent_rerun_reproduces_the_model(kostecki_run):
    work, _, _ = kostecki_run
    first, fresh = (json.loads((work / f"{n}.json").read_text()) for n in ("first", "fresh"))
    assert fresh["split_manifest_fingerprint"] == first["split_manifest_fingerprint"]
    assert fresh["best_hyperparameters"] == first["best_hyperparameters"]
    assert fresh["metrics"] == first["metrics"]
    model_files = [sorted(Path(s["artifacts"]["model"]).glob("model.*")) for s in (first, fresh)]
    assert [p.read_bytes() for p in model_files[0] if p.suffix == ".ubj"] == [
        p.read_bytes() for p in model_files[1] if p.suffix == ".ubj"
    ]
