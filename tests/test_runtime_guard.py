"""The runtime guard beside the static one: components check what they read, by content.

Artifact metadata is only a claim. These tests forge it the ways a component could (relabel
the test split as train, swap in train's fingerprint, alter the chain that names the split
fingerprints, hand over a preprocessor or model fitted on another table) and feed the
forgeries to the real stage functions; the last test runs a forging component under kfp.local
with the real `fit_preprocessor`.
"""

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import kostecki_split
from kfp import dsl, local
from kfp.dsl import Dataset, Input, Output

from sealtrain.components.core import lineage, preprocessing, splitting, tables
from sealtrain.components.core.constants import (
    META_FINGERPRINT,
    META_MANIFEST_CORE,
    META_MANIFEST_FINGERPRINT,
    META_ROLE,
    META_TRAIN_FINGERPRINT,
    MODEL_META_FILE,
    RUN_ID_ENV,
    SPLITS,
    TEST,
    TRAIN,
    VALIDATION,
)
from sealtrain.components.core.errors import DataLeakageError
from sealtrain.components.core.stages import (
    check_data_quality,
    evaluate_model,
    fit_preprocessor,
    load_dataset,
    split_dataset,
    train_model,
)
from sealtrain.components.fit_preprocessor import fit_preprocessor as fit_preprocessor_component
from sealtrain.components.load_dataset import load_dataset as load_dataset_component
from sealtrain.components.runtime import DEFAULT_IMAGE
from sealtrain.components.split_dataset import split_dataset as split_dataset_component

# The split of KosteckiDillon every test here makes, through the stage function or the component.
SPLIT = kostecki_split("guard")


@dataclass
class Split:
    """The real split stage's files and metadata, and a preprocessor and model fitted from it."""

    root: Path
    metadata: dict[str, dict]

    def path(self, name: str) -> str:
        return str(self.root / name)

    def fingerprint(self, role: str) -> str:
        return self.metadata[role][META_FINGERPRINT]


@pytest.fixture(autouse=True)
def _run_id(monkeypatch):
    """The run id evaluate_model's ledger row carries (the local runner or the pod sets it)."""
    monkeypatch.setenv(RUN_ID_ENV, "guard-run")


def _run_store(root: Path) -> str:
    return f"sqlite:///{root / 'runs.db'}"


def _split(root: Path, data: str, salt: str) -> dict[str, dict]:
    loaded = load_dataset.run(data_uri=data, data_fingerprint="", dataset_path=str(root / "dataset"))
    result = split_dataset.run(
        dataset_path=str(root / "dataset"), dataset_metadata=loaded.metadata["dataset"], dataset_uri=data,
        **{**SPLIT, "split_salt": salt}, db_url=_run_store(root),
        split_paths={name: str(root / name) for name in SPLITS}, split_uris={name: str(root / name) for name in SPLITS},
        manifest_path=str(root / "manifest.json"),
        group_splits_path=str(root / "group_splits"),
    )
    return result.metadata


def _train(split: Split, model_path: str, **changes) -> dict:
    params = {
        "train_path": split.path(TRAIN), "train_metadata": split.metadata[TRAIN],
        "validation_path": split.path(VALIDATION), "validation_metadata": split.metadata[VALIDATION],
        "preprocessor_path": split.path("preprocessor"), "preprocessor_metadata": split.metadata["preprocessor"],
        "best_hyperparameters_path": split.path("best.json"), "seed": 7, "threshold_method": "f1",
        "model_path": model_path, "fit_metrics_path": split.path("fit_metrics.json"),
    }
    return train_model.run(**{**params, **changes}).metadata["model"]


def _evaluate(split: Split, **changes) -> None:
    params = {
        "test_path": split.path(TEST), "test_metadata": split.metadata[TEST],
        "preprocessor_path": split.path("preprocessor"), "preprocessor_metadata": split.metadata["preprocessor"],
        "model_path": split.path("model"), "model_metadata": split.metadata["model"], "bootstrap_samples": 10,
        "seed": 7, "precision_at_k": [10], "min_auc": 0.0, "experiment_id": "guard", "model_version_id": "",
        "max_test_evaluations": 0, "db_url": _run_store(split.root), "evaluation_path": split.path("evaluation.json"),
        "test_metrics_path": split.path("test_metrics.json"),
        "classification_metrics_path": split.path("classification.json"), "report_path": split.path("report.html"),
    }
    evaluate_model.run(**{**params, **changes})


@pytest.fixture(scope="module")
def split(tmp_path_factory, kostecki) -> Split:
    """load -> split -> fit preprocessor -> train (logistic regression) on KosteckiDillon."""
    root = tmp_path_factory.mktemp("guard")
    kostecki.to_csv(root / "kostecki.csv", index=False)
    made = Split(root, _split(root, str(root / "kostecki.csv"), SPLIT["split_salt"]))
    made.metadata["preprocessor"] = fit_preprocessor.run(
        train_path=made.path(TRAIN), train_metadata=made.metadata[TRAIN], preprocessor_path=made.path("preprocessor"),
    ).metadata["preprocessor"]
    (root / "best.json").write_text(json.dumps({"algorithm": "logistic_regression", "params": {}, "metric": "auc"}))
    made.metadata["model"] = _train(made, made.path("model"))
    return made


@pytest.fixture(scope="module")
def other_split(tmp_path_factory, kostecki) -> Split:
    """The same table split with another salt: another manifest, another train split."""
    root = tmp_path_factory.mktemp("other")
    kostecki.to_csv(root / "kostecki.csv", index=False)
    return Split(root, _split(root, str(root / "kostecki.csv"), "another salt"))


def _relabelled_test(split: Split, **changes) -> dict:
    return {**split.metadata[TEST], META_ROLE: TRAIN, **changes}


def _both(content: str, expected: str) -> str:
    return rf"content has fingerprint {content} \(the test split of that manifest\), .* fingerprints the train " \
           rf"split as {expected}"


def test_the_content_fingerprint_survives_parquet_and_sees_every_cell(tmp_path):
    text = pd.Series(["a", None, "c"], dtype=object)
    frame = pd.DataFrame({"x": [1.5, np.nan, 3.0], "t": text, "y": np.array([0, 1, 0], dtype="int8")})
    tables.write_parquet(frame, str(tmp_path / "t.parquet"))
    back = tables.read_parquet(str(tmp_path / "t.parquet"))
    assert str(back["t"].dtype) != str(frame["t"].dtype)  # object in memory, str once read
    nan_for_none = frame.assign(t=pd.Series(["a", np.nan, "c"], dtype="str"))
    assert tables.fingerprint(back) == tables.fingerprint(frame) == tables.fingerprint(nan_for_none)
    changed = [frame.assign(t=["a", "", "c"]), frame.assign(t=["a", None, "cc"]), frame.assign(x=[1.5, 0.0, 3.0]),
               frame.assign(y=frame["y"].astype("int64")), frame.rename(columns={"t": "u"}), frame.iloc[:2],
               frame.iloc[::-1].reset_index(drop=True)]
    assert len({tables.fingerprint(other) for other in changed} | {tables.fingerprint(frame)}) == len(changed) + 1


def test_wrong_role_is_refused_with_the_consumer_named():
    with pytest.raises(DataLeakageError, match="fit_preprocessor accepts only the train split, .* role 'validation'"):
        lineage.require_role({META_ROLE: "validation"}, "train", "fit_preprocessor")
    with pytest.raises(DataLeakageError, match="role None"):
        lineage.require_role({}, "train", "fit_preprocessor")


def test_every_split_read_matches_its_manifest_by_content(split):
    manifest = lineage.require_same_manifest("test", **{name: split.metadata[name] for name in SPLITS})
    for name in SPLITS:
        frame = lineage.read_split(split.path(name), name, "test", manifest)
        assert tables.fingerprint(frame) == manifest.split(name) == split.fingerprint(name)
    assert manifest.fingerprint == json.loads(Path(split.path("manifest.json")).read_text())["fingerprint"]


def test_artifacts_of_different_split_manifests_are_refused(split, other_split):
    with pytest.raises(DataLeakageError, match="evaluate_model: inputs come from different split manifests"):
        lineage.require_same_manifest("evaluate_model", test=split.metadata[TEST],
                                      model={**split.metadata["model"], META_MANIFEST_FINGERPRINT: "b"})
    with pytest.raises(DataLeakageError, match="train_model: inputs come from different split manifests"):
        _train(split, split.path("wrong-model"), validation_path=other_split.path(VALIDATION),
               validation_metadata=other_split.metadata[VALIDATION])


@pytest.mark.parametrize("swap_fingerprint", [False, True], ids=["fingerprint kept", "fingerprint swapped to train's"])
def test_test_split_relabelled_as_train_is_refused_naming_both_fingerprints(split, swap_fingerprint):
    changes = {META_FINGERPRINT: split.fingerprint(TRAIN)} if swap_fingerprint else {}
    message = "fit_preprocessor: the train input's " + _both(split.fingerprint(TEST), split.fingerprint(TRAIN))
    with pytest.raises(DataLeakageError, match=message):
        fit_preprocessor.run(train_path=split.path(TEST), train_metadata=_relabelled_test(split, **changes),
                             preprocessor_path=split.path("forged-preprocessor"))
    with pytest.raises(DataLeakageError, match="train_model: the train input's " + _both(split.fingerprint(TEST),
                                                                                           split.fingerprint(TRAIN))):
        _train(split, split.path("forged-model"), train_path=split.path(TEST),
               train_metadata=_relabelled_test(split, **changes))


def test_an_altered_chain_is_refused(split):
    core = json.loads(json.dumps(split.metadata[TEST][META_MANIFEST_CORE]))
    core["splits"][TRAIN]["fingerprint"] = split.fingerprint(TEST)
    kept = _relabelled_test(split, **{META_MANIFEST_CORE: core})
    message = (f"the train input names split manifest {split.metadata[TEST][META_MANIFEST_FINGERPRINT]}, but the "
               f"split fingerprints it carries .* hash to {splitting.manifest_fingerprint(core)}")
    with pytest.raises(DataLeakageError, match=message):
        fit_preprocessor.run(train_path=split.path(TEST), train_metadata=kept,
                             preprocessor_path=split.path("forged-preprocessor"))
    # A chain forged whole hashes to a manifest of its own, which no honest input shares.
    rehashed = {**kept, META_MANIFEST_FINGERPRINT: splitting.manifest_fingerprint(core)}
    with pytest.raises(DataLeakageError, match="train_model: inputs come from different split manifests"):
        _train(split, split.path("forged-model"), train_path=split.path(TEST), train_metadata=rehashed)
    with pytest.raises(DataLeakageError, match="has no train split"):
        broken = {**core, "splits": {TEST: core["splits"][TEST]}}
        fit_preprocessor.run(train_path=split.path(TEST), train_metadata=_relabelled_test(split, **{
            META_MANIFEST_CORE: broken, META_MANIFEST_FINGERPRINT: splitting.manifest_fingerprint(broken)}),
            preprocessor_path=split.path("forged-preprocessor"))


def test_a_preprocessor_fitted_on_another_table_is_refused(split):
    test_fingerprint, train_fingerprint = split.fingerprint(TEST), split.fingerprint(TRAIN)
    claimed = {**split.metadata["preprocessor"], META_TRAIN_FINGERPRINT: test_fingerprint}
    message = (rf"the preprocessor was fitted on a table with fingerprint {test_fingerprint} \(the test split of "
               rf"that manifest\), but split manifest .* fingerprints the train split as {train_fingerprint}")
    with pytest.raises(DataLeakageError, match="train_model: " + message):
        _train(split, split.path("forged-model"), preprocessor_metadata=claimed)
    with pytest.raises(DataLeakageError, match="evaluate_model: " + message):
        _evaluate(split, preprocessor_metadata=claimed)
    # Fitted on test, its metadata copied from the honest one: the file itself says so.
    test = tables.read_parquet(split.path(TEST))
    preprocessing.fit_preprocessor(test, tables.fingerprint(test)).save(split.path("test-preprocessor"))
    with pytest.raises(DataLeakageError, match="train_model: the preprocessor file was fitted on a table with "
                                               f"fingerprint {test_fingerprint}"):
        _train(split, split.path("forged-model"), preprocessor_path=split.path("test-preprocessor"))


def test_a_model_from_another_train_split_is_refused(split, other_split):
    other_train, train_fingerprint = other_split.fingerprint(TRAIN), split.fingerprint(TRAIN)
    message = (rf"the model was fitted on a table with fingerprint {other_train} \(no split of that manifest\), "
               rf"but split manifest .* fingerprints the train split as {train_fingerprint}")
    with pytest.raises(DataLeakageError, match="evaluate_model: " + message):
        _evaluate(split, model_metadata={**split.metadata["model"], META_TRAIN_FINGERPRINT: other_train})
    # The model directory of another train, its artifact metadata copied from the honest model.
    forged = Path(split.path("other-model"))
    shutil.copytree(split.path("model"), forged)
    sidecar = json.loads((forged / MODEL_META_FILE).read_text())
    (forged / MODEL_META_FILE).write_text(json.dumps({**sidecar, META_TRAIN_FINGERPRINT: other_train}))
    with pytest.raises(DataLeakageError, match=f"evaluate_model: the model file was fitted on a table with "
                                               f"fingerprint {other_train}"):
        _evaluate(split, model_path=str(forged))


def test_the_honest_chain_evaluates(split):
    _evaluate(split)
    assert json.loads(Path(split.path("evaluation.json")).read_text())["test_metrics"]["auc"] is not None


def test_a_dataset_changed_after_it_was_loaded_is_neither_checked_nor_split(tmp_path, kostecki):
    """One headache label flipped in the loaded dataset between load_dataset and the next stages."""
    kostecki.to_csv(tmp_path / "kostecki.csv", index=False)
    dataset = str(tmp_path / "dataset")
    loaded = load_dataset.run(data_uri=str(tmp_path / "kostecki.csv"), data_fingerprint="", dataset_path=dataset)
    changed = tables.read_parquet(dataset)
    changed.loc[0, "headache"] = "no" if changed.loc[0, "headache"] == "yes" else "yes"
    Path(dataset).unlink()
    tables.write_parquet(changed, dataset)
    refused = (rf"the dataset input {re.escape(dataset)} has fingerprint \w+, but load_dataset wrote one with "
               rf"fingerprint {loaded.metadata['dataset'][META_FINGERPRINT]}: it changed after it was loaded")
    with pytest.raises(DataLeakageError, match="check_data_quality: " + refused):
        check_data_quality.run(dataset_path=dataset, dataset_metadata=loaded.metadata["dataset"],
                               label_column="headache", positive_class="yes", group_column="id", no_group=False,
                               drop_columns=["rownames"], time_column="", upstream_report="",
                               qc_report_path=str(tmp_path / "qc.json"))
    with pytest.raises(DataLeakageError, match="split_dataset: " + refused):
        split_dataset.run(
            dataset_path=dataset, dataset_metadata=loaded.metadata["dataset"], dataset_uri=dataset, **SPLIT,
            db_url=_run_store(tmp_path), split_paths={name: str(tmp_path / name) for name in SPLITS},
            split_uris={name: str(tmp_path / name) for name in SPLITS}, manifest_path=str(tmp_path / "manifest.json"),
            group_splits_path=str(tmp_path / "group_splits"),
        )
    assert sorted(path.name for path in tmp_path.iterdir()) == ["dataset", "kostecki.csv", "runs.db"]
    with pytest.raises(DataLeakageError, match="no fingerprint in its metadata: it was not written by load_dataset"):
        lineage.read_loaded(dataset, {"source": "kostecki.csv"}, "split_dataset")


@dsl.component(base_image=DEFAULT_IMAGE, install_kfp_package=False)
def relabel_test_as_train(test: Input[Dataset], train: Input[Dataset], forged: Output[Dataset]):
    """A forger: the test split's file, with its metadata saying train (and train's fingerprint)."""
    import shutil

    shutil.copyfile(test.path, forged.path)
    forged.metadata.update({**test.metadata, "role": "train", "fingerprint": train.metadata["fingerprint"]})


@dsl.pipeline
def preprocessor_fitted_on_forged_train(data_uri: str, run_db_url: str):
    loaded = load_dataset_component(data_uri=data_uri, data_fingerprint="")
    split = split_dataset_component(dataset=loaded.outputs["dataset"], run_db_url=run_db_url, **SPLIT)
    forged = relabel_test_as_train(test=split.outputs["test"], train=split.outputs["train"])
    fit_preprocessor_component(train=forged.outputs["forged"])


@dsl.pipeline
def preprocessor_fitted_on_validation(data_uri: str, run_db_url: str):
    loaded = load_dataset_component(data_uri=data_uri, data_fingerprint="")
    split = split_dataset_component(dataset=loaded.outputs["dataset"], run_db_url=run_db_url, **SPLIT)
    fit_preprocessor_component(train=split.outputs["validation"])


@pytest.mark.pipeline
def test_a_mis_wired_pipeline_fails_at_run_time(tmp_path, kostecki, capfd):
    kostecki.to_csv(tmp_path / "k.csv", index=False)
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path / "root"), raise_on_error=True)
    with pytest.raises(RuntimeError, match="Inner task failed: .*fit-preprocessor"):
        preprocessor_fitted_on_validation(data_uri=str(tmp_path / "k.csv"), run_db_url=_run_store(tmp_path))
    assert "DataLeakageError: fit_preprocessor accepts only the train split" in capfd.readouterr().out


@pytest.mark.pipeline
def test_a_forged_train_split_fails_at_run_time_naming_both_fingerprints(tmp_path, split, capfd):
    data = split.path("kostecki.csv")
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path / "root"), raise_on_error=True)
    with pytest.raises(RuntimeError, match="Inner task failed: .*fit-preprocessor"):
        preprocessor_fitted_on_forged_train(data_uri=data, run_db_url=_run_store(tmp_path))
    out = capfd.readouterr().out
    assert "relabel-test-as-train" in out
    assert ("DataLeakageError: fit_preprocessor: the train input's content has fingerprint "
            f"{split.fingerprint(TEST)} (the test split of that manifest), but split manifest "
            f"{split.metadata[TEST][META_MANIFEST_FINGERPRINT]} fingerprints the train split as "
            f"{split.fingerprint(TRAIN)}") in out
