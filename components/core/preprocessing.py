"""Median impute, standard scale and one-hot encode, fitted on the train split only."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from .constants import (
    MAX_CATEGORY_LEVELS,
    META_TRAIN_FINGERPRINT,
    PREPROCESSOR_EXAMPLE_KEY,
    PREPROCESSOR_FILE,
    PREPROCESSOR_META_FILE,
    RESERVED_COLUMNS,
)
from .errors import InvalidInputError
from .modelio import dump_skops, load_skops
from .schema import coerce_features, split_xy

MISSING_CATEGORY = "__missing__"


@dataclass
class Preprocessor:
    """A fitted column transformer and the feature contract it was fitted under.

    Attributes:
        transformer: The fitted scikit-learn ColumnTransformer.
        numeric: Numeric feature names, in order.
        categorical: Categorical feature names, in order.
        dropped: Features left out at fit time, with the reason.
        train_fingerprint: Content fingerprint of the train split it was fitted on, which
            training and evaluation compare with the split manifest's train split.
        warnings: What the fit had to say about the data.
    """

    transformer: ColumnTransformer
    numeric: list[str]
    categorical: list[str]
    dropped: dict[str, str] = field(default_factory=dict)
    train_fingerprint: str = ""
    warnings: list[str] = field(default_factory=list)

    @property
    def features(self) -> list[str]:
        """The raw feature columns the transformer reads."""
        return [*self.numeric, *self.categorical]

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """Transforms raw or canonical rows with the train-fitted parameters; never refits.

        Zero rows give a (0, features out) array.

        Raises:
            InvalidInputError: A feature seen at fit time is absent.
        """
        absent = [c for c in self.features if c not in frame.columns]
        if absent:
            raise InvalidInputError(f"feature columns {absent} are missing from the input")
        if not len(frame):  # scikit-learn refuses zero rows; a Dask partition may hold none of a split
            return np.empty((0, len(self.feature_names_out())))
        return self.transformer.transform(coerce_features(frame[self.features]))

    def feature_names_out(self) -> list[str]:
        """Names of the transformed columns."""
        return [str(n) for n in self.transformer.get_feature_names_out()]

    def save(self, directory: str) -> None:
        """Writes the transformer (skops) and the contract (JSON) into a directory."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        dump_skops(self.transformer, out / PREPROCESSOR_FILE)
        meta = {
            "numeric": self.numeric,
            "categorical": self.categorical,
            "dropped": self.dropped,
            META_TRAIN_FINGERPRINT: self.train_fingerprint,
            "warnings": self.warnings,
            "feature_names_out": self.feature_names_out(),
            PREPROCESSOR_EXAMPLE_KEY: self.example_values(),
        }
        (out / PREPROCESSOR_META_FILE).write_text(json.dumps(meta, indent=2))

    def example_values(self) -> dict[str, float | str]:
        """A synthetic row of train statistics (each numeric feature's median, each categorical
        feature's first level): an input example that copies no patient's record."""
        transformers = self.transformer.named_transformers_
        values: dict[str, float | str] = {}
        if self.numeric:
            medians = transformers["num"].named_steps["impute"].statistics_
            values.update({name: float(value) for name, value in zip(self.numeric, medians)})
        if self.categorical:
            levels = transformers["cat"].named_steps["onehot"].categories_
            values.update({name: str(first[0]) for name, first in zip(self.categorical, levels)})
        return {name: values[name] for name in self.features}

    @classmethod
    def load(cls, directory: str) -> "Preprocessor":
        """Reads a preprocessor written by `save`."""
        src = Path(directory)
        meta = json.loads((src / PREPROCESSOR_META_FILE).read_text())
        return cls(
            transformer=load_skops(src / PREPROCESSOR_FILE),
            numeric=meta["numeric"],
            categorical=meta["categorical"],
            dropped=meta["dropped"],
            train_fingerprint=meta[META_TRAIN_FINGERPRINT],
            warnings=meta["warnings"],
        )


def fit_preprocessor(train: pd.DataFrame, train_fingerprint: str) -> Preprocessor:
    """Fits the preprocessing on the train split.

    All-missing and constant features are dropped; categorical features with more than
    `MAX_CATEGORY_LEVELS` levels keep the most frequent ones and pool the rest.

    Args:
        train: The canonical train split.
        train_fingerprint: Its content fingerprint, recorded so training and evaluation can
            check the preprocessor was fitted on their manifest's train split.

    Raises:
        InvalidInputError: No usable feature is left.
    """
    features = coerce_features(train.drop(columns=[c for c in RESERVED_COLUMNS if c in train.columns]))
    dropped, warnings = {}, []
    for name in features.columns:
        if features[name].isna().all():
            dropped[name] = "all missing in train"
        elif features[name].nunique(dropna=True) == 1:
            dropped[name] = "constant in train"
    if dropped:
        warnings.append(f"dropped features: {dropped}")
    kept = features.drop(columns=list(dropped))
    numeric = [c for c in kept.columns if pd.api.types.is_float_dtype(kept[c])]
    categorical = [c for c in kept.columns if c not in numeric]
    if not numeric and not categorical:
        raise InvalidInputError("no usable feature left in the train split after dropping constant/empty columns")
    wide = [c for c in categorical if kept[c].nunique() > MAX_CATEGORY_LEVELS]
    if wide:
        warnings.append(f"categorical features with more than {MAX_CATEGORY_LEVELS} levels, rare levels pooled: {wide}")
    transformer = ColumnTransformer(
        [
            ("num", Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]), numeric),
            (
                "cat",
                Pipeline([
                    ("impute", SimpleImputer(strategy="constant", fill_value=MISSING_CATEGORY)),
                    ("onehot", OneHotEncoder(handle_unknown="ignore", max_categories=MAX_CATEGORY_LEVELS,
                                             sparse_output=False)),
                ]),
                categorical,
            ),
        ],
        sparse_threshold=0.0,
    )
    transformer.fit(kept[numeric + categorical])
    return Preprocessor(transformer, numeric, categorical, dropped, train_fingerprint, warnings)


def transform_split(preprocessor: Preprocessor, split: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Returns a canonical split's transformed features and labels."""
    features, labels = split_xy(split)
    return preprocessor.transform(features), labels
