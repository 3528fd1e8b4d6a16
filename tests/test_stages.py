"""The step function of every stage, chained as the pipeline chains them, without kfp.

Real data (carData/KosteckiDillon), a real Optuna study in SQLite, real models; the KFP
wrappers around these functions only copy the results onto their artifacts.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from kfp import dsl

from sealtrain.components.core import recording, run_store, split_ledger, splitting, tables
from sealtrain.components.core.constants import (
    HOLDOUT,
    META_FINGERPRINT,
    META_MANIFEST_CORE,
    META_MANIFEST_FINGERPRINT,
    META_ROLE,
    META_ROWS,
    META_TRAIN_FINGERPRINT,
    MODEL_META_FILE,
    PREPROCESSOR_META_FILE,
    RUN_ID_ENV,
    SPLITS,
    TEST,
    TRAIN,
    VALIDATION,
)
from sealtrain.components.core.errors import (
    DataLeakageError,
    InvalidInputError,
    QCGateBlockedError,
    TestEvaluationLimitError,
)
from sealtrain.components.core.stages import (
    StageResult,
    check_data_quality,
    evaluate_model,
    fit_preprocessor,
    load_dataset,
    select_best_trial,
    split_dataset,
    stamp,
    train_model,
    tune_hyperparameters,
)

DATASET = {"label_column": "headache", "positive_class": "yes", "group_column": "id", "no_group": False,
           "drop_columns": ["rownames"], "time_column": ""}
N_TRIALS = 4
STUDY = {"algorithm": "xgboost", "hyperparameter_space": "", "default_hyperparameters": "{}", "n_trials": N_TRIALS,
         "seed": 7, "tuning_metric": "auc", "warm_start": "null"}


@dataclass
class Run:
    """One pass through every stage: its directory, its study and each stage's result."""

    root: Path
    storage: str
    db_url: str
    results: dict[str, StageResult] = field(default_factory=dict)
    progress: list[str] = field(default_factory=list)

    def path(self, name: str) -> str:
        return str(self.root / name)

    def meta(self, stage: str, output: str) -> dict:
        return self.results[stage].metadata[output]


def _split(run: Run, **changes) -> StageResult:
    params = {
        "dataset_path": run.path("dataset"), "dataset_metadata": run.meta("load", "dataset"),
        "dataset_uri": run.path("dataset"), "qc_status": run.meta("qc", "qc_report")["status"], **DATASET,
        "split_ratios": [], "split_salt": "s", "split_tolerance": 0.02, "stratify": False,
        "max_duplicate_share": 0.01, "allow_features": [], "experiment_id": "exp", "db_url": run.db_url,
        "lock_fingerprint": recording.lock_fingerprint(frozenset()),
        "split_paths": {name: run.path(name) for name in SPLITS},
        "split_uris": {name: f"gs://bucket/{name}" for name in SPLITS}, "manifest_path": run.path("manifest.json"),
        "group_splits_path": run.path("group_splits"),
    }
    return split_dataset.run(**{**params, **changes})


def _split_input(run: Run, name: str) -> dict:
    return {f"{name}_path": run.path(name), f"{name}_metadata": run.meta("split", name)}


def _preprocessor(run: Run) -> dict:
    return {"preprocessor_path": run.path("preprocessor"), "preprocessor_metadata": run.meta("fit", "preprocessor")}


def _train(run: Run, **changes) -> StageResult:
    params = {**_split_input(run, TRAIN), **_split_input(run, VALIDATION), **_preprocessor(run),
              "best_hyperparameters_path": run.path("best.json"), "seed": 7, "threshold_method": "f1",
              "model_path": run.path("model"), "fit_metrics_path": run.path("fit_metrics.json")}
    return train_model.run(**{**params, **changes})


def _evaluate(run: Run, **changes) -> StageResult:
    params = {**_split_input(run, TEST), **_preprocessor(run), "model_path": run.path("model"),
              "model_metadata": run.meta("train", "model"), "bootstrap_samples": 50, "seed": 7,
              "precision_at_k": [10, 50], "min_auc": 0.5, "experiment_id": "exp", "model_version_id": "",
              "max_test_evaluations": 0, "db_url": run.db_url, "evaluation_path": run.path("evaluation.json"),
              "test_metrics_path": run.path("test_metrics.json"),
              "classification_metrics_path": run.path("classification.json"), "report_path": run.path("report.html")}
    return evaluate_model.run(**{**params, **changes})


def _tune(run: Run, worker: int) -> StageResult:
    return tune_hyperparameters.run(
        **_split_input(run, TRAIN), **_split_input(run, VALIDATION), **_preprocessor(run), **STUDY,
        tuning_workers=2, worker=worker, tuning_timeout=0, optuna_storage_url=run.storage, progress=run.progress.append,
    )


@pytest.fixture(scope="module")
def run(tmp_path_factory, kostecki) -> Run:
    """load -> QC -> split -> fit preprocessor -> two tuning workers -> select -> train -> evaluate."""
    root = tmp_path_factory.mktemp("stages")
    run = Run(root, storage=f"sqlite:///{root / 'optuna.db'}", db_url=f"sqlite:///{root / 'runs.db'}")
    kostecki.to_csv(run.root / "kostecki.csv", index=False)
    results = run.results
    results["load"] = load_dataset.run(data_uri=run.path("kostecki.csv"), data_fingerprint="",
                                       dataset_path=run.path("dataset"))
    results["qc"] = check_data_quality.run(dataset_path=run.path("dataset"),
                                           dataset_metadata=run.meta("load", "dataset"), **DATASET,
                                           upstream_report="", qc_report_path=run.path("qc.json"))
    results["split"] = _split(run)
    results["fit"] = fit_preprocessor.run(**_split_input(run, TRAIN), preprocessor_path=run.path("preprocessor"))
    results["tune"] = [_tune(run, worker) for worker in (0, 1)]
    results["select"] = select_best_trial.run(
        preprocessor_metadata=run.meta("fit", "preprocessor"), **STUDY, optuna_storage_url=run.storage, workers=2,
        best_hyperparameters_path=run.path("best.json"), trials_path=run.path("trials.csv"),
        history_path=run.path("history.html"),
    )
    results["train"] = _train(run)
    with pytest.MonkeyPatch.context() as env:
        env.setenv(RUN_ID_ENV, "run-1")
        results["evaluate"] = _evaluate(run)
    return run


def test_load_and_qc_describe_the_table(run, kostecki):
    dataset = run.meta("load", "dataset")
    assert dataset[META_ROWS] == float(len(kostecki)) and dataset["source"] == run.path("kostecki.csv")
    assert len(dataset[META_FINGERPRINT]) == 64
    qc = run.meta("qc", "qc_report")
    assert qc["status"] in ("PASSED", "WARNING")
    assert json.loads(Path(run.path("qc.json")).read_text())["overall_score"] == qc["overall_score"]


def test_every_split_carries_its_role_fingerprint_and_manifest(run):
    manifest = json.loads(Path(run.path("manifest.json")).read_text())
    result = run.results["split"]
    core = {"data_fingerprint": manifest["data_fingerprint"], "salt": manifest["salt"],
            "splits": {name: {"fingerprint": entry["fingerprint"]} for name, entry in manifest["splits"].items()}}
    assert splitting.manifest_fingerprint(core) == manifest["fingerprint"]
    assert result.metadata["split_manifest"] == {META_MANIFEST_FINGERPRINT: manifest["fingerprint"]}
    for name in SPLITS:
        entry = manifest["splits"][name]
        assert Path(run.path(name)).is_file()
        assert entry["uri"] == f"gs://bucket/{name}"
        assert result.metadata[name] == {META_ROLE: name, META_FINGERPRINT: entry["fingerprint"],
                                         META_MANIFEST_FINGERPRINT: manifest["fingerprint"],
                                         META_MANIFEST_CORE: core, META_ROWS: float(entry["rows"])}
        assert tables.fingerprint(tables.read_parquet(run.path(name))) == entry["fingerprint"]
    assert manifest["dataset"]["positive_class"] == "yes"
    assert [line.split(":")[0] for line in result.lines] == [*SPLITS, HOLDOUT]
    assert result.lines[-1] == "holdout: 0 groups locked by earlier runs of the experiment (0 in its lock), " \
                               f"{manifest['splits'][HOLDOUT]['groups']} new"
    assert result.value == manifest["splits"][TEST]["fingerprint"]
    groups = tables.read_parquet(run.path("group_splits"))
    assert len(groups) == sum(entry["groups"] for entry in manifest["splits"].values())
    assert manifest["holdout_lock"]["fingerprint"] == recording.lock_fingerprint(frozenset())


def test_split_keeps_the_lock_and_refuses_one_that_changed_since_the_start(run, tmp_path):
    groups = tables.read_parquet(run.path("group_splits"))
    train = groups.loc[groups["split"] == TRAIN, "group_hash"].tolist()
    db_url = f"sqlite:///{tmp_path / 'runs.db'}"
    run_store.with_database(db_url, lambda e: split_ledger.lock_holdout(
        e, experiment_id="exp", training_run_id="r0", salt="s", group_column="id", holdout=train[:2], others=[]))
    locked = frozenset(train[:2])
    paths = {"split_paths": {name: str(tmp_path / name) for name in SPLITS},
             "manifest_path": str(tmp_path / "manifest.json"), "group_splits_path": str(tmp_path / "groups")}
    with pytest.raises(DataLeakageError, match=r"experiment 'exp''s holdout lock changed since this run started "
                                               r"\(another run of the experiment completed meanwhile"):
        _split(run, db_url=db_url, **paths)
    result = _split(run, db_url=db_url, lock_fingerprint=recording.lock_fingerprint(locked), **paths)
    placed = tables.read_parquet(str(tmp_path / "groups")).set_index("group_hash")["split"]
    assert set(placed[list(locked)]) == {HOLDOUT}
    assert result.lines[-1].startswith("holdout: 2 groups locked by earlier runs of the experiment (2 in its lock)")


@pytest.mark.parametrize("status", ["FAILED", ""])
def test_split_refuses_to_run_after_a_blocking_qc_gate(run, status):
    with pytest.raises(QCGateBlockedError, match=f"status is {status!r}"):
        _split(run, qc_status=status)


def test_preprocessor_descends_from_train(run):
    train = run.meta("split", TRAIN)
    meta = run.meta("fit", "preprocessor")
    assert meta[META_TRAIN_FINGERPRINT] == train[META_FINGERPRINT]
    assert meta[META_MANIFEST_FINGERPRINT] == train[META_MANIFEST_FINGERPRINT]
    assert meta[META_MANIFEST_CORE] == train[META_MANIFEST_CORE]
    sidecar = json.loads((Path(run.path("preprocessor")) / PREPROCESSOR_META_FILE).read_text())
    assert sidecar[META_TRAIN_FINGERPRINT] == train[META_FINGERPRINT]
    assert meta["features_out"] >= meta["features_in"] > 0


def test_preprocessor_refuses_any_split_but_train(run):
    with pytest.raises(DataLeakageError, match="fit_preprocessor accepts only the train split, .* role 'validation'"):
        fit_preprocessor.run(train_path=run.path(VALIDATION), train_metadata=run.meta("split", VALIDATION),
                             preprocessor_path=run.path("wrong-preprocessor"))


def test_workers_share_one_study_and_report_progress(run):
    assert [result.value for result in run.results["tune"]] == [N_TRIALS // 2, N_TRIALS // 2]
    assert any(line.startswith("tuning worker 1: trial 2/2") for line in run.progress)
    assert _tune(run, worker=0).value == 0


def test_selection_writes_the_best_configuration_trials_and_history(run):
    best = json.loads(Path(run.path("best.json")).read_text())
    meta = run.meta("select", "best_hyperparameters")
    assert best["workers"] == 2 and best["tuning_trials"] == N_TRIALS
    assert meta["best_validation_auc"] == best["best_value"]
    assert meta[META_MANIFEST_FINGERPRINT] == run.meta("split", TRAIN)[META_MANIFEST_FINGERPRINT]
    assert meta["COMPLETE"] + meta["PRUNED"] + meta["FAIL"] == N_TRIALS
    assert Path(run.path("history.html")).read_text().lstrip().lower().startswith("<!doctype html")
    assert len(Path(run.path("trials.csv")).read_text().splitlines()) == N_TRIALS + 1


def test_training_logs_train_and_validation_metrics_only(run):
    result = run.results["train"]
    logged = result.metrics["fit_metrics"]
    assert {"train_auc", "val_auc", "train_pr_auc", "val_brier_score"} <= set(logged)
    assert not any(name.startswith("test_") for name in logged)
    assert json.loads(Path(run.path("fit_metrics.json")).read_text()) == logged
    meta, train = result.metadata["model"], run.meta("split", TRAIN)
    assert meta[META_MANIFEST_FINGERPRINT] == train[META_MANIFEST_FINGERPRINT]
    assert meta[META_MANIFEST_CORE] == train[META_MANIFEST_CORE]
    assert meta["algorithm"] == "xgboost" and 0 < meta["threshold"] < 1
    model_file = json.loads((Path(run.path("model")) / MODEL_META_FILE).read_text())
    assert model_file["threshold"] == meta["threshold"]
    assert model_file[META_TRAIN_FINGERPRINT] == meta[META_TRAIN_FINGERPRINT] == train[META_FINGERPRINT]


def test_training_refuses_swapped_splits_and_a_foreign_preprocessor(run):
    with pytest.raises(DataLeakageError, match=r"train_model \(train input\) accepts only the train split"):
        _train(run, train_path=run.path(VALIDATION), train_metadata=run.meta("split", VALIDATION))
    foreign = {**run.meta("fit", "preprocessor"), META_MANIFEST_FINGERPRINT: "another split"}
    with pytest.raises(DataLeakageError, match="train_model: inputs come from different split manifests"):
        _train(run, preprocessor_metadata=foreign, model_path=run.path("wrong-model"))


def test_evaluation_logs_test_metrics_with_intervals_and_writes_the_report(run):
    result = run.results["evaluate"]
    logged = result.metrics["test_metrics"]
    assert {"test_auc", "test_auc_ci_low", "test_auc_ci_high", "test_pr_auc"} <= set(logged)
    assert logged["test_auc_ci_low"] <= logged["test_auc"] <= logged["test_auc_ci_high"]
    evaluation = json.loads(Path(run.path("evaluation.json")).read_text())
    assert evaluation["test_metrics"]["auc"] == logged["test_auc"]
    assert evaluation["train_metrics"]["auc"] == run.results["train"].metrics["fit_metrics"]["train_auc"]
    assert len(result.value["roc_curve"]["fpr"]) > 2 and len(result.value["confusion_matrix"]) == 2
    assert json.loads(Path(run.path("classification.json")).read_text()) == result.value
    assert "<html" in Path(run.path("report.html")).read_text().lower()
    assert result.lines[0].startswith("test AUC ") and result.lines[-2].startswith("validation gate: ")


def test_evaluation_appends_one_ledger_row_per_model_and_checks_the_budget_before_reading(run, monkeypatch):
    evaluation = json.loads(Path(run.path("evaluation.json")).read_text())
    test = run.meta("split", TEST)[META_FINGERPRINT]
    assert evaluation["test_evaluations"] == 1
    assert run.results["evaluate"].lines[-1] == f"test split {test[:12]}: evaluated by 1 model of experiment " \
                                                "'exp', this one included"
    rows = run_store.with_database(run.db_url, lambda e: split_ledger.evaluations(e, "exp", TEST))
    assert [(r["training_run_id"], r["model_version"], r["split_fingerprint"]) for r in rows] == [
        ("run-1", "xgboost-run-1", test)]
    monkeypatch.setenv(RUN_ID_ENV, "run-2")
    out = {"evaluation_path": run.path("again.json"), "report_path": run.path("again.html")}
    # The same model again (an uncached rerun) counts once, and passes a budget of 1.
    assert _evaluate(run, max_test_evaluations=1, **out).lines[-1].endswith("evaluated by 1 model of experiment "
                                                                            "'exp', this one included")
    # Once another model has seen the test split, this one is beyond a budget of 1: refused before
    # the test split is read (there is none to read here).
    run_store.with_database(run.db_url, lambda e: split_ledger.record_evaluation(
        e, experiment_id="exp", split=TEST, split_fingerprint=test, training_run_id="run-0",
        model_fingerprint="another model"))
    with pytest.raises(TestEvaluationLimitError, match="evaluated by 1 model, and --max-test-evaluations is 1"):
        _evaluate(run, max_test_evaluations=1, test_path=run.path("no-such-file"), **out)
    assert json.loads(Path(run.path("again.json")).read_text())["test_evaluations"] == 1
    assert "Warning" not in Path(run.path("again.html")).read_text()
    result = _evaluate(run, **out)
    assert result.lines[-1].startswith("warning: 2 models of this experiment have been evaluated on this test split: "
                                       "repeated test evaluation overfits the test split")
    assert "repeated test evaluation overfits the test split" in Path(run.path("again.html")).read_text()
    monkeypatch.delenv(RUN_ID_ENV)
    with pytest.raises(InvalidInputError, match=f"{RUN_ID_ENV} is not set"):
        _evaluate(run, **out)


def test_evaluation_refuses_the_holdout_and_a_model_of_another_split(run):
    with pytest.raises(DataLeakageError, match="evaluate_model accepts only the test split, .* role 'holdout'"):
        _evaluate(run, test_path=run.path(HOLDOUT), test_metadata=run.meta("split", HOLDOUT))
    foreign = {**run.meta("train", "model"), META_MANIFEST_FINGERPRINT: "another split"}
    with pytest.raises(DataLeakageError, match="evaluate_model: inputs come from different split manifests"):
        _evaluate(run, model_metadata=foreign)


def test_stamp_copies_metadata_and_metrics_onto_kfp_artifacts_and_prints_progress(capsys):
    model, metrics = dsl.Model(uri="/tmp/model"), dsl.Metrics(uri="/tmp/metrics")
    stamp(StageResult(metadata={"model": {"algorithm": "xgboost"}}, metrics={"fit_metrics": {"train_auc": 0.9}},
                      lines=["trained"]), model=model, fit_metrics=metrics)
    assert model.metadata == {"algorithm": "xgboost"} and metrics.metadata == {"train_auc": 0.9}
    assert capsys.readouterr().out == "[sealtrain] trained\n"
    with pytest.raises(ValueError, match=r"outputs \['fit_metrics'\] that were not passed"):
        stamp(StageResult(metrics={"fit_metrics": {"train_auc": 0.9}}), model=model)


def test_the_stages_load_no_kfp_and_their_package_no_data_library():
    code = (
        "import sys\n"
        "import sealtrain.components.core.stages\n"
        "heavy = sorted(m for m in ('pandas', 'numpy', 'sklearn') if m in sys.modules)\n"
        "from sealtrain.components.core.stages import " + ", ".join(
            ["check_data_quality", "evaluate_model", "fit_preprocessor", "load_dataset", "select_best_trial",
             "split_dataset", "train_model", "tune_hyperparameters"]) + "\n"
        "print(heavy, sorted(m for m in sys.modules if m.split('.')[0] == 'kfp'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[] []"
