"""The checked inputs of the stages that fit on train and score on validation (tuning, final training)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import lineage
from ..constants import META_TRAIN_FINGERPRINT, TRAIN, VALIDATION
from ..preprocessing import Preprocessor, transform_split


@dataclass(frozen=True)
class FitInputs:
    """Train and validation, transformed by the train-fitted preprocessor, and their lineage.

    Attributes:
        manifest: The verified split manifest of every input.
        preprocessor: The preprocessor, fitted on the manifest's train split.
        x_train, y_train: The train split's features and 0/1 labels.
        x_val, y_val: The validation split's.
    """

    manifest: lineage.Manifest
    preprocessor: Preprocessor
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray


@dataclass(frozen=True)
class DaskFitInputs:
    """Train and validation as verified Dask frames on the current client's cluster, and their lineage.

    Attributes:
        manifest: The verified split manifest of every input.
        preprocessor: The preprocessor, fitted on the manifest's train split.
        train, validation: The canonical splits, transformed partition by partition where used.
    """

    manifest: lineage.Manifest
    preprocessor: Preprocessor
    train: Any
    validation: Any


def read(consumer: str, *, train_path: str, train_metadata: dict, validation_path: str, validation_metadata: dict,
         preprocessor_path: str, preprocessor_metadata: dict, engine: str = "pandas") -> FitInputs | DaskFitInputs:
    """Guards and reads the inputs: roles, one manifest, contents and the preprocessor's train split.

    Args:
        consumer: The component reading them, for the messages.
        train_path, validation_path: The splits (Parquet).
        train_metadata, validation_metadata: Their artifact metadata.
        preprocessor_path: The train-fitted preprocessor's directory.
        preprocessor_metadata: Its artifact metadata.
        engine: "pandas", or "dask" to read the splits as Dask frames (inside a Dask session).

    Raises:
        DataLeakageError: An input has the wrong role or another split manifest, a split's
            content is not the manifest's split of its role, or the preprocessor was not
            fitted on the manifest's train split.
    """
    lineage.require_role(train_metadata, TRAIN, f"{consumer} (train input)")
    lineage.require_role(validation_metadata, VALIDATION, f"{consumer} (validation input)")
    manifest = lineage.require_same_manifest(consumer, train=train_metadata, validation=validation_metadata,
                                             preprocessor=preprocessor_metadata)
    fitted = Preprocessor.load(preprocessor_path)
    lineage.verify_fitted_on_train(consumer, manifest, {
        "preprocessor": preprocessor_metadata.get(META_TRAIN_FINGERPRINT),
        "preprocessor file": fitted.train_fingerprint,
    })
    train = lineage.read_split(train_path, TRAIN, consumer, manifest, engine)
    validation = lineage.read_split(validation_path, VALIDATION, consumer, manifest, engine)
    if engine == "dask":
        return DaskFitInputs(manifest, fitted, train, validation)
    return FitInputs(manifest, fitted, *transform_split(fitted, train), *transform_split(fitted, validation))
