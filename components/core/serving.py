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

import shutil
import tempfile
from pathlib import Path

import pandas as pd

from .modelio import load_model, read_model_meta
from .preprocessing import Preprocessor

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
        self.preprocessor = Preprocessor.load(str(Path(directory) / PREPROCESSOR_DIR))
        self.model = load_model(str(Path(directory) / MODEL_DIR))
        self.threshold = float(read_model_meta(str(Path(directory) / MODEL_DIR))["threshold"])

    def predict(self, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        """Returns `probability` and `prediction` (0/1 at the validation threshold) per row."""
        scores = self.model.predict_proba(self.preprocessor.transform(model_input))[:, 1]
        return pd.DataFrame({PROBABILITY: scores, PREDICTION: (scores >= self.threshold).astype(int)})


def _load_pyfunc(data_path: str) -> SealtrainModel:
    """MLflow's entry point for a pyfunc model whose `loader_module` is this module."""
    return SealtrainModel(data_path)


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
    from mlflow.models import infer_signature

    with tempfile.TemporaryDirectory() as scratch:
        data = Path(scratch) / "serving"
        shutil.copytree(preprocessor_dir, data / PREPROCESSOR_DIR)
        shutil.copytree(model_dir, data / MODEL_DIR)
        signature = infer_signature(example, SealtrainModel(str(data)).predict(example))
        return mlflow.pyfunc.log_model(
            name=name,
            loader_module=__name__,
            data_path=str(data),
            input_example=example,
            signature=signature,
            pip_requirements=pip_requirements,
        )
