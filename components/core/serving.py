"""The serving model: preprocessor and classifier chained behind MLflow's pyfunc interface.

`mlflow.pyfunc.load_model(uri).predict(raw_frame)` takes rows as they come (raw feature
columns; label, group and extra columns are ignored) and returns the positive-class
probability and the decision at the threshold chosen on validation.

The model is logged with this module as its pyfunc `loader_module` and the two artifact
directories as its data. Loading imports this module from the installed sealtrain package
and reads the data only through sealtrain's loaders (`modelio`: allow-listed skops types,
xgboost UBJSON). Nothing is pickled and no code is kept in the model directory (no
`python_model.pkl`, no models-from-code script), so a file dropped there is never run.
MLflow itself obeys the model's `MLmodel` file: whoever can rewrite that file chooses the
loader, so the artifact store must be writable by training only.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pandas as pd

from .constants import PREPROCESSOR_EXAMPLE_KEY, PREPROCESSOR_META_FILE
from .modelio import load_model, read_model_meta

PROBABILITY = "probability"
PREDICTION = "prediction"
PREPROCESSOR_DIR = "preprocessor"
MODEL_DIR = "model"


class SealtrainModel:
    """Scores raw rows with the train-fitted preprocessor and the final model.

    Attributes:
        preprocessor: The train-fitted preprocessor.
        model: The fitted classifier.
        threshold: The decision threshold chosen on validation.
    """

    def __init__(self, directory: str) -> None:
        """Loads both artifacts of a serving data directory with sealtrain's safe loaders."""
        from .preprocessing import Preprocessor  # scikit-learn: needed to score, not to log the model

        self.preprocessor = Preprocessor.load(str(Path(directory) / PREPROCESSOR_DIR))
        self.model = load_model(str(Path(directory) / MODEL_DIR))
        self.threshold = float(read_model_meta(str(Path(directory) / MODEL_DIR))["threshold"])

    def predict(self, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        """Returns `probability` and `prediction` (0/1 at the validation threshold) per row."""
        # float64 whatever the framework (xgboost scores in float32), as the signature says.
        scores = self.model.predict_proba(self.preprocessor.transform(model_input))[:, 1].astype("float64")
        return pd.DataFrame({PROBABILITY: scores, PREDICTION: (scores >= self.threshold).astype(int)})


def _load_pyfunc(data_path: str) -> SealtrainModel:
    """MLflow's entry point for a pyfunc model whose `loader_module` is this module."""
    return SealtrainModel(data_path)


def serving_signature(example: pd.DataFrame):
    """The serving model's signature: the example's columns in, `SealtrainModel.predict`'s out.

    Written out rather than inferred from a prediction, so logging the model loads neither it
    nor the preprocessor (nor the libraries behind them); a test checks it against the inferred one.
    """
    from mlflow.models import ModelSignature, infer_signature
    from mlflow.types import ColSpec, Schema

    return ModelSignature(inputs=infer_signature(example).inputs,
                          outputs=Schema([ColSpec("double", PROBABILITY), ColSpec("long", PREDICTION)]))


def example_frame(preprocessor_dir: str, raw_dtypes: dict[str, str]) -> pd.DataFrame:
    """The serving input example: the preprocessor's example row (train statistics, no patient's
    record) in the input table's dtypes, so the serving model accepts rows as they come.

    Reads only the preprocessor's JSON.

    Args:
        preprocessor_dir: The directory `Preprocessor.save` wrote.
        raw_dtypes: The dtype of each feature in the input table, by name.
    """
    meta = json.loads((Path(preprocessor_dir) / PREPROCESSOR_META_FILE).read_text())
    columns = {}
    for name, value in meta[PREPROCESSOR_EXAMPLE_KEY].items():
        dtype = raw_dtypes.get(name, "float64")
        if name in meta["categorical"]:
            columns[name] = pd.Series([value], dtype=object)
        elif dtype == "bool":
            columns[name] = pd.Series([bool(value >= 0.5)])
        elif pd.api.types.is_integer_dtype(dtype):
            columns[name] = pd.Series([round(value)], dtype=dtype)
        else:
            columns[name] = pd.Series([float(value)], dtype="float64")
    return pd.DataFrame(columns)


def log_serving_model(name: str, preprocessor_dir: str, model_dir: str, example: pd.DataFrame,
                      pip_requirements: list[str]):
    """Logs the serving model to the active MLflow run.

    Args:
        name: The model's name in the run.
        preprocessor_dir: The directory `Preprocessor.save` wrote.
        model_dir: The directory `modelio.save_model` wrote.
        example: A raw input row, logged as the input example and used for the signature.
        pip_requirements: The serving environment's pinned requirements.

    Returns:
        MLflow's `ModelInfo` of the logged model.
    """
    import mlflow

    with tempfile.TemporaryDirectory() as scratch:
        data = Path(scratch) / "serving"
        shutil.copytree(preprocessor_dir, data / PREPROCESSOR_DIR)
        shutil.copytree(model_dir, data / MODEL_DIR)
        signature = serving_signature(example)
        return mlflow.pyfunc.log_model(
            name=name,
            loader_module=__name__,
            data_path=str(data),
            input_example=example,
            signature=signature,
            pip_requirements=pip_requirements,
        )
