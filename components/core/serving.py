"""The serving model: preprocessor and classifier chained behind MLflow's pyfunc interface.

`mlflow.pyfunc.load_model(uri).predict(raw_frame)` takes rows as they come (raw feature
columns; label, group and extra columns are ignored) and returns the positive-class
probability and the decision at the threshold chosen on validation.
"""

from __future__ import annotations

import pandas as pd

try:  # MLflow is a dependency of the package, but the class must import where it is absent too.
    from mlflow.pyfunc import PythonModel
except ImportError:  # pragma: no cover
    PythonModel = object

PROBABILITY = "probability"
PREDICTION = "prediction"


class SealtrainModel(PythonModel):
    """Scores raw rows with the train-fitted preprocessor and the final model."""

    def load_context(self, context) -> None:
        """Loads both artifacts with sealtrain's safe loaders."""
        from .modelio import load_model, read_model_meta
        from .preprocessing import Preprocessor

        self.preprocessor = Preprocessor.load(context.artifacts["preprocessor"])
        self.model = load_model(context.artifacts["model"])
        self.threshold = float(read_model_meta(context.artifacts["model"])["threshold"])

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        """Returns `probability` and `prediction` (0/1 at the validation threshold) per row."""
        scores = self.model.predict_proba(self.preprocessor.transform(model_input))[:, 1]
        return pd.DataFrame({PROBABILITY: scores, PREDICTION: (scores >= self.threshold).astype(int)})
