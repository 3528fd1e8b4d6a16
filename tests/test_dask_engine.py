"""`sealtrain run --engine dask` through the real CLI on the bundled covid_testing demo, against --engine pandas.

Both runs split in time order (`--time-column pan_day`: follow-up rows dropped, cuts re-chosen)
and train xgboost with the same fixed hyperparameters (a one-point space, one trial); the Dask
run reads the demo as a directory of Parquet files. So they differ only in the engine and the
input's form: the split must be the same row for row, the test AUC within 0.01, and the records
complete. The refusals are checked before anything runs.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from sealtrain.components.core import metrics, modelio, schema, splitting, tables, training
from sealtrain.components.core.constants import GROUP_COLUMN, LABEL_COLUMN, SPLITS, TEST, TRAIN, VALIDATION
from sealtrain.components.core.errors import DataLeakageError
from sealtrain.components.core.preprocessing import Preprocessor
from sealtrain.pipelines.contract import DEMO

TIME_COLUMN = "pan_day"
CANDIDATE = {"algorithm_name": "xgboost", "hyperparameter_space": {"max_depth": [4]},
             "default_hyperparameters": {"learning_rate": 0.1}}


def sealtrain(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sealtrain.pipelines.cli", *args], capture_output=True, text=True,
                          timeout=600)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One run per engine on the demo in time order, same candidate, one trial, few resamples.

    The Dask run reads the demo as a Parquet dataset of three files, as a large table arrives.
    """
    root = tmp_path_factory.mktemp("engines")
    candidate = root / "candidate.json"
    candidate.write_text(json.dumps(CANDIDATE))
    dataset = root / "demo"
    dataset.mkdir()
    table = tables.read_table(str(DEMO["data"]))
    size = -(-len(table) // 3)
    for part in range(3):
        table.iloc[part * size:(part + 1) * size].to_parquet(dataset / f"part.{part}.parquet", index=False)
    done = {}
    for engine in ("pandas", "dask"):
        extra = ["--engine", "dask", "--dask-workers", "2", "--data", str(dataset), "--label", DEMO["label"],
                 "--positive-class", DEMO["positive_class"], "--group", DEMO["group"]] if engine == "dask" else []
        result = sealtrain("run", "--model-candidate", str(candidate), "--trials", "1", "--bootstrap-samples", "50",
                           "--output", str(root / engine), "--summary-json", str(root / f"{engine}.json"),
                           "--time-column", TIME_COLUMN, *extra)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        done[engine] = json.loads((root / f"{engine}.json").read_text())
    return root, done


def _task_output(summary: dict, task: str, name: str) -> Path:
    return next(Path(summary["pipeline_root"]).glob(f"**/{task}/{name}"))


@pytest.mark.pipeline
def test_dask_puts_every_patient_in_the_split_pandas_does(runs):
    _, done = runs
    pandas_groups, dask_groups = (tables.read_parquet(str(_task_output(done[e], "split-dataset", "group_splits")))
                                  for e in ("pandas", "dask"))
    pd.testing.assert_frame_equal(pandas_groups, dask_groups)
    # Row for row: the dask split's parts hold exactly the pandas split's rows.
    for name in SPLITS:
        left = tables.read_parquet(str(_task_output(done["pandas"], "split-dataset", name)))
        right = pd.read_parquet(_task_output(done["dask"], "split-dataset", name))
        key = list(left.columns)
        pd.testing.assert_frame_equal(left.sort_values(key, ignore_index=True),
                                      right[key].astype(left.dtypes.to_dict()).sort_values(key, ignore_index=True))
    for name in SPLITS:
        assert {k: done["pandas"]["splits"][name][k] for k in ("rows", "groups", "positive_rate")} == \
            {k: done["dask"]["splits"][name][k] for k in ("rows", "groups", "positive_rate")}
    pandas_manifest, dask_manifest = (json.loads(_task_output(done[e], "split-dataset", "split_manifest").read_text())
                                      for e in ("pandas", "dask"))
    assert dask_manifest["time_ordered"] is True
    assert dask_manifest["time_order"] == pandas_manifest["time_order"]
    assert dask_manifest["time_order"]["rows_dropped"] > 0


@pytest.mark.pipeline
def test_dask_test_auc_is_the_pandas_one_on_the_same_hyperparameters(runs):
    _, done = runs
    assert done["pandas"]["best_hyperparameters"] == done["dask"]["best_hyperparameters"]
    assert abs(done["pandas"]["metrics"]["test"]["auc"] - done["dask"]["metrics"]["test"]["auc"]) < 0.01


@pytest.mark.pipeline
def test_the_dask_run_is_recorded_and_its_manifest_names_the_engine(runs):
    root, done = runs
    manifest = json.loads(_task_output(done["dask"], "split-dataset", "split_manifest").read_text())
    assert manifest["engine"] == "dask"
    assert manifest["fingerprint_function"] == "distributed.fingerprints.frame_fingerprint"
    assert _task_output(done["dask"], "split-dataset", TEST).is_dir()
    with sqlite3.connect(root / "dask" / "runs.db") as db:
        status, = db.execute("select status from ml_training_runs where training_run_id = ?",
                             (done["dask"]["training_run_id"],)).fetchone()
    assert status == "completed"
    import mlflow

    client = mlflow.MlflowClient(f"sqlite:///{root / 'dask' / 'mlflow.db'}")
    run = client.get_run(done["dask"]["mlflow"]["run_id"])
    assert run.data.metrics["test_auc"] == pytest.approx(done["dask"]["metrics"]["test"]["auc"])


@pytest.mark.pipeline
def test_the_dask_threshold_and_fit_metrics_come_from_their_own_splits(runs):
    """Computed on the workers from counts, they are recomputed here from the run's own files with the pandas
    engine's functions: a threshold chosen on train, or metrics crossed between splits, would differ."""
    _, done = runs
    summary = done["dask"]
    model_dir = str(_task_output(summary, "train-model", "model"))
    meta, model = modelio.read_model_meta(model_dir), modelio.load_model(model_dir)
    fitted = Preprocessor.load(str(_task_output(summary, "fit-preprocessor", "preprocessor")))
    for name in (TRAIN, VALIDATION):
        frame = pd.read_parquet(_task_output(summary, "split-dataset", name))
        labels = frame[LABEL_COLUMN].to_numpy()
        # In float64, as the workers score: sums of float32 squares drift in the eighth digit.
        scores = training.scores(model, fitted.transform(frame)).astype("float64")
        if name == VALIDATION:
            assert meta["threshold"] == metrics.choose_threshold(labels, scores, meta["threshold_method"])
        expected = metrics.point_metrics(labels, scores, meta["threshold"])
        assert meta["metrics"][name] == pytest.approx(expected, rel=1e-9), name


@pytest.mark.pipeline
def test_a_relabelled_or_swapped_dask_split_is_refused_by_content(runs):
    from sealtrain.components.core import lineage
    from sealtrain.components.core.distributed import cluster

    _, done = runs
    manifest = json.loads(_task_output(done["dask"], "split-dataset", "split_manifest").read_text())
    descent = lineage.Manifest(manifest["fingerprint"], lineage.manifest_core(manifest))
    test_path = str(_task_output(done["dask"], "split-dataset", TEST))
    with cluster.dask_client(workers=2, threads_per_worker=1, processes=False):
        lineage.read_split(test_path, TEST, "evaluate_model", descent, "dask")
        with pytest.raises(DataLeakageError, match="the test split of that manifest"):
            lineage.read_split(test_path, "train", "fit_preprocessor", descent, "dask")
        # The pandas engine's reading of the same parts is another fingerprint: refused too.
        with pytest.raises(DataLeakageError):
            lineage.verify_split(pd.read_parquet(test_path), TEST, "evaluate_model", descent)


@pytest.mark.parametrize("flags, message", [
    (["--algorithm", "random_forest"], "no distributed implementation"),
    (["--dask-scheduler", "tcp://127.0.0.1:9"], "no Dask scheduler answered"),
])
def test_dask_refuses_what_it_cannot_run_before_anything_runs(tmp_path, flags, message):
    result = sealtrain("run", "--engine", "dask", "--output", str(tmp_path / "out"), *flags)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.pipeline
def test_the_demo_split_is_pandas_own_split(runs):
    """The pandas run's groups are splitting.split_table's on the demo: the comparison above has a reference."""
    _, done = runs
    raw = tables.read_table(str(DEMO["data"]))
    spec = schema.DatasetSpec(DEMO["label"], DEMO["positive_class"], DEMO["group"], time=TIME_COLUMN)
    reference = splitting.split_table(schema.prepare(raw, spec, "demo"), times=schema.time_order(raw, spec))
    assert done["pandas"]["splits"][TEST]["rows"] == len(reference.tables[TEST])
    assert reference.tables[TEST][GROUP_COLUMN].nunique() == done["dask"]["splits"][TEST]["groups"]
