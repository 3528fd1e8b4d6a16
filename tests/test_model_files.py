"""Model files load only what sealtrain wrote: no code runs from a tampered skops file or serving model."""

from __future__ import annotations

import io
import json
import os
import pickle
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import skops
import skops.io as sio
from skops.io._protocol import PROTOCOL

from sealtrain.components.core import algorithms, modelio, serving, tracking, training
from sealtrain.components.core.constants import MODEL_FILE_SKLEARN, MODEL_META_FILE, PREPROCESSOR_FILE
from sealtrain.components.core.errors import UntrustedModelFileError
from sealtrain.components.core.preprocessing import Preprocessor, fit_preprocessor
from sealtrain.components.core.schema import split_xy

SKLEARN_ALGORITHMS = sorted(name for name, a in algorithms.REGISTRY.items() if a.framework == "sklearn")


@pytest.fixture(scope="module")
def fitted(kostecki_splits):
    """The train-fitted preprocessor (numeric and categorical features) and transformed splits."""
    preprocessor = fit_preprocessor(kostecki_splits.tables["train"], "fp")
    assert preprocessor.numeric and preprocessor.categorical
    xy = {}
    for split in ("train", "validation"):
        features, labels = split_xy(kostecki_splits.tables[split])
        xy[split] = (preprocessor.transform(features), labels)
    return preprocessor, xy


def _fit(fitted, name: str):
    _, xy = fitted
    return training.fit(algorithms.REGISTRY[name], {}, 0, *xy["train"], *xy["validation"])


@pytest.fixture(scope="module")
def written(fitted, tmp_path_factory):
    """Directories as sealtrain writes them: the preprocessor and a model of every scikit-learn algorithm."""
    root = tmp_path_factory.mktemp("written")
    preprocessor, _ = fitted
    preprocessor.save(str(root / "preprocessor"))
    for name in SKLEARN_ALGORITHMS:
        modelio.save_model(_fit(fitted, name), "sklearn", str(root / name), {"threshold": 0.5})
    return root


def test_the_allow_list_is_exactly_what_sealtrain_writes(written, fitted):
    files = [written / "preprocessor" / PREPROCESSOR_FILE,
             *(written / name / MODEL_FILE_SKLEARN for name in SKLEARN_ALGORITHMS)]
    found = set().union(*(sio.get_untrusted_types(file=f) for f in files))
    assert found == modelio.ALLOWED_TYPES
    x_val = fitted[1]["validation"][0]
    for name in SKLEARN_ALGORITHMS:
        model = modelio.load_model(str(written / name))
        assert np.array_equal(model.predict_proba(x_val), _fit(fitted, name).predict_proba(x_val))


def _json(value) -> dict:
    return {"__class__": "str", "__module__": "builtins", "__loader__": "JsonNode",
            "content": json.dumps(value), "is_json": True}


def _call(module: str, function: str, *args) -> dict:
    """A skops node that calls `module.function(*args)` when built."""
    return {"__class__": function, "__module__": module, "__loader__": "ConstructorFromReduceNode",
            "content": {"__class__": "tuple", "__module__": "builtins", "__loader__": "TupleNode",
                        "content": [_json(a) for a in args]}}


def _payloads(marker: Path) -> dict[str, dict]:
    write = f"open({str(marker)!r}, 'w').write('ran')"
    return {
        "builtins.exec": _call("builtins", "exec", write),
        "builtins.eval": _call("builtins", "eval", write),
        "os.system": _call("os", "system", f"touch {marker}"),
        "numpy.savetxt": _call("numpy", "savetxt", str(marker), [1.0]),
    }


def _write_skops(path: Path, schema: dict, arrays_from: Path | None = None) -> None:
    """Writes a skops zip around a hand-built schema, keeping the array files of a real dump."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as out:
        if arrays_from is not None:
            with zipfile.ZipFile(arrays_from) as real:
                for name in real.namelist():
                    if name != "schema.json":
                        out.writestr(name, real.read(name))
        out.writestr("schema.json", json.dumps({**schema, "protocol": PROTOCOL, "_skops_version": skops.__version__}))
    path.write_bytes(buffer.getvalue())


def _tamper_skops(file: Path, payload: dict, hidden: bool) -> None:
    """Replaces a real dump by a bare payload, or swaps one plain attribute of its root for the payload."""
    if not hidden:
        _write_skops(file, payload)
        return
    schema = json.loads(zipfile.ZipFile(file).read("schema.json"))
    attrs = schema["content"]["content"]
    plain = next(k for k, node in attrs.items() if node["__loader__"] == "JsonNode")
    attrs[plain] = payload
    _write_skops(file, schema, arrays_from=file)


def _place(written: Path, where: str, tmp_path: Path) -> tuple[Path, Path, callable]:
    """A copy of a directory sealtrain wrote, the skops file in it, and the loader that reads it."""
    if where == "preprocessor":
        directory = shutil.copytree(written / "preprocessor", tmp_path / where)
        return directory, directory / PREPROCESSOR_FILE, Preprocessor.load
    directory = shutil.copytree(written / "logistic_regression", tmp_path / where)
    return directory, directory / MODEL_FILE_SKLEARN, modelio.load_model


@pytest.mark.parametrize("hidden", [False, True], ids=["bare", "inside-a-real-dump"])
@pytest.mark.parametrize("where", ["preprocessor", "model"])
@pytest.mark.parametrize("payload", ["builtins.exec", "builtins.eval", "os.system", "numpy.savetxt"])
def test_a_crafted_skops_file_is_refused_and_never_runs(written, tmp_path, payload, where, hidden):
    marker = tmp_path / "marker"
    directory, file, load = _place(written, where, tmp_path)
    _tamper_skops(file, _payloads(marker)[payload], hidden)
    with pytest.raises(UntrustedModelFileError, match=rf"{file}.*{payload}"):
        load(str(directory))
    assert not marker.exists()
    # The file is live: skops told to trust what it names runs the payload.
    sio.load(file, trusted=sio.get_untrusted_types(file=file))
    assert marker.exists()


def _tamper_tree(model, field: str, value) -> None:
    tree = model.estimators_[0].tree_
    state = tree.__getstate__()
    state["nodes"] = state["nodes"].copy()
    state["nodes"][field][0] = value
    tree.__setstate__(state)


def _tamper_predictor(model, field: str, value) -> None:
    model._predictors[0][0].nodes[field][0] = value


@pytest.mark.parametrize("name,tamper,field,value", [
    ("random_forest", _tamper_tree, "left_child", 10**6),
    ("random_forest", _tamper_tree, "right_child", 0),
    ("random_forest", _tamper_tree, "feature", 10**6),
    ("hist_gradient_boosting", _tamper_predictor, "left", 10**6),
    ("hist_gradient_boosting", _tamper_predictor, "feature_idx", 10**6),
    ("hist_gradient_boosting", _tamper_predictor, "is_categorical", 1),
])
def test_a_tree_with_out_of_range_nodes_is_refused_before_predict(fitted, tmp_path, name, tamper, field, value):
    model = _fit(fitted, name)
    tamper(model, field, value)
    modelio.save_model(model, "sklearn", str(tmp_path), {"threshold": 0.5})
    with pytest.raises(UntrustedModelFileError, match="out-of-range node indices"):
        modelio.load_model(str(tmp_path))


@pytest.mark.parametrize("framework,file", [
    ("sklearn", "../../evil.skops"),
    ("sklearn", "ABSOLUTE"),
    ("xgboost", MODEL_FILE_SKLEARN),
    ("pickle", "model.pkl"),
])
def test_metadata_cannot_point_loading_at_another_file(written, tmp_path, framework, file):
    evil = tmp_path / "evil.skops"
    shutil.copy(written / "logistic_regression" / MODEL_FILE_SKLEARN, evil)
    directory = shutil.copytree(written / "logistic_regression", tmp_path / "a" / "b")
    meta = {**json.loads((directory / MODEL_META_FILE).read_text()), "framework": framework,
            "file": str(evil) if file == "ABSOLUTE" else file}
    (directory / MODEL_META_FILE).write_text(json.dumps(meta))
    with pytest.raises(UntrustedModelFileError, match="is not a model sealtrain writes"):
        modelio.load_model(str(directory))


class _Payload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.fixture(scope="module")
def serving_model(fitted, kostecki, tmp_path_factory):
    """A serving model logged as training logs it (xgboost and the preprocessor), downloaded locally."""
    import mlflow

    root = tmp_path_factory.mktemp("serving")
    preprocessor, _ = fitted
    preprocessor.save(str(root / "preprocessor"))
    modelio.save_model(_fit(fitted, "xgboost"), "xgboost", str(root / "model"), {"threshold": 0.5})
    example = serving.example_frame(str(root / "preprocessor"), {n: str(dtype) for n, dtype in kostecki.dtypes.items()})
    mlflow.set_tracking_uri(f"sqlite:///{root}/mlflow.db")
    try:
        experiment = mlflow.create_experiment("model-files", artifact_location=(root / "artifacts").as_uri())
        with mlflow.start_run(experiment_id=experiment):
            info = serving.log_serving_model("serving_model", str(root / "preprocessor"), str(root / "model"),
                                             example, tracking.serving_requirements())
        yield Path(mlflow.artifacts.download_artifacts(info.model_uri, dst_path=str(root / "downloaded")))
    finally:
        # Unset, not restored: setting the default back would export it as MLFLOW_TRACKING_URI, and every
        # later `sealtrain run` would record in ./mlflow.db instead of its --output.
        mlflow.set_tracking_uri(None)


def test_the_serving_example_and_written_signature_are_what_the_model_takes_and_gives(fitted, kostecki, tmp_path):
    from mlflow.models import infer_signature

    preprocessor, _ = fitted
    preprocessor.save(str(tmp_path / "preprocessor"))
    modelio.save_model(_fit(fitted, "xgboost"), "xgboost", str(tmp_path / "model"), {"threshold": 0.5})
    example = serving.example_frame(str(tmp_path / "preprocessor"), {n: str(t) for n, t in kostecki.dtypes.items()})
    # The example is the train statistics in the input's own dtypes, not a patient's row.
    assert list(example.columns) == preprocessor.features
    assert {n: str(example[n].dtype) for n in preprocessor.numeric} == {
        n: str(kostecki[n].dtype) if str(kostecki[n].dtype).startswith("int") else "float64"
        for n in preprocessor.numeric}
    medians = preprocessor.transformer.named_transformers_["num"].named_steps["impute"].statistics_
    assert [float(example[n].iloc[0]) for n in preprocessor.numeric] == pytest.approx(
        [round(m) if str(example[n].dtype).startswith("int") else m for n, m in zip(preprocessor.numeric, medians)])
    predicted = serving.SealtrainModel(str(tmp_path)).predict(example)
    assert serving.serving_signature(example) == infer_signature(example, predicted)


def test_the_serving_model_holds_no_pickle_and_ignores_one_dropped_in(serving_model, kostecki, tmp_path):
    import mlflow
    import yaml

    flavor = yaml.safe_load((serving_model / "MLmodel").read_text())["flavors"]["python_function"]
    assert flavor["loader_module"] == serving.__name__
    assert "python_model" not in flavor and "model_code_path" not in flavor
    assert not [p for p in serving_model.rglob("*") if p.suffix in (".pkl", ".pickle", ".cloudpickle", ".py")]
    marker = tmp_path / "marker"
    crafted = pickle.dumps(_Payload(marker))
    directory = shutil.copytree(serving_model, tmp_path / "model")
    for folder in (directory, *(p for p in directory.rglob("*") if p.is_dir())):
        (folder / "python_model.pkl").write_bytes(crafted)
    predictions = mlflow.pyfunc.load_model(str(directory)).predict(kostecki.drop(columns=["headache"]).tail(10))
    assert list(predictions.columns) == [serving.PROBABILITY, serving.PREDICTION] and len(predictions) == 10
    assert not marker.exists()
    pickle.loads(crafted)  # the dropped file is live: unpickled, it runs
    assert marker.exists()


def test_a_tampered_preprocessor_in_the_serving_model_is_refused(serving_model, tmp_path):
    import mlflow

    marker = tmp_path / "marker"
    directory = shutil.copytree(serving_model, tmp_path / "model")
    (file,) = directory.rglob(PREPROCESSOR_FILE)
    _write_skops(file, _payloads(marker)["builtins.exec"])
    with pytest.raises(UntrustedModelFileError, match="builtins.exec"):
        mlflow.pyfunc.load_model(str(directory))
    assert not marker.exists()
