"""KFP component: fit the preprocessing on the train split, and only on it."""

from kfp import dsl
from kfp.dsl import Dataset, Input, Model, Output

from sealtrain.components.runtime import RUNTIME_IMAGE


@dsl.component(base_image=RUNTIME_IMAGE, install_kfp_package=False)
def fit_preprocessor(train: Input[Dataset], preprocessor: Output[Model]):
    """Fits median imputation, standard scaling and one-hot encoding on the train split.

    Args:
        train: The train split; an artifact of any other role is refused.
        preprocessor: The fitted transformer (skops) and its feature contract (JSON),
            stamped with the train fingerprint and split manifest.
    """
    from sealtrain.components.core import lineage, preprocessing, tables
    from sealtrain.components.core.constants import (
        META_FINGERPRINT,
        META_MANIFEST_FINGERPRINT,
        META_TRAIN_FINGERPRINT,
        TRAIN,
    )

    lineage.require_role(train.metadata, TRAIN, "fit_preprocessor")
    fitted = preprocessing.fit_preprocessor(tables.read_parquet(train.path), train.metadata[META_FINGERPRINT])
    fitted.save(preprocessor.path)
    preprocessor.metadata.update({
        META_TRAIN_FINGERPRINT: train.metadata[META_FINGERPRINT],
        META_MANIFEST_FINGERPRINT: train.metadata[META_MANIFEST_FINGERPRINT],
        "features_in": float(len(fitted.features)),
        "features_out": float(len(fitted.feature_names_out())),
    })
    for warning in fitted.warnings:
        print(f"[sealtrain] preprocessing: {warning}")
