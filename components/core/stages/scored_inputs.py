"""The checked inputs of the stages that score a final model on one held-out split (test, holdout)."""

from __future__ import annotations

from .. import lineage, modelio
from ..constants import META_TRAIN_FINGERPRINT
from ..preprocessing import Preprocessor


def check(consumer: str, role: str, split_metadata: dict, *, preprocessor_path: str, preprocessor_metadata: dict,
          model_path: str, model_metadata: dict) -> tuple[lineage.Manifest, dict, Preprocessor]:
    """Checks, before the split is read, that the split has `role` and that the preprocessor and model
    come from its manifest and were fitted on that manifest's train split (metadata and files).

    Returns:
        The verified manifest, the model's metadata file and the loaded preprocessor.

    Raises:
        DataLeakageError: A wrong role, another split manifest, or a fit on another table.
    """
    lineage.require_role(split_metadata, role, consumer)
    manifest = lineage.require_same_manifest(consumer, **{role: split_metadata}, preprocessor=preprocessor_metadata,
                                             model=model_metadata)
    meta = modelio.read_model_meta(model_path)
    fitted = Preprocessor.load(preprocessor_path)
    lineage.verify_fitted_on_train(consumer, manifest, {
        "preprocessor": preprocessor_metadata.get(META_TRAIN_FINGERPRINT),
        "preprocessor file": fitted.train_fingerprint,
        "model": model_metadata.get(META_TRAIN_FINGERPRINT), "model file": meta.get(META_TRAIN_FINGERPRINT),
    })
    return manifest, meta, fitted
