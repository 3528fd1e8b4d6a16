"""Stage `fit_preprocessor`: imputation, scaling and one-hot encoding fitted on train."""

from __future__ import annotations

from .. import engines, lineage, preprocessing, tables
from ..constants import META_TRAIN_FINGERPRINT, TRAIN
from . import StageResult


def run(*, train_path: str, train_metadata: dict, preprocessor_path: str, engine: str = engines.PANDAS,
        dask_scheduler: str = "", dask_workers: int = 0) -> StageResult:
    """Fits the preprocessor on the train split and saves it.

    Args:
        train_path: The train split (Parquet): a local path, or with dask its gs:// URI (`locations.table_location`).
        train_metadata: Its artifact metadata; it must carry the train role.
        preprocessor_path: The directory the fitted preprocessor goes to.
        engine: "pandas" or "dask"; with dask the statistics are computed on the cluster
            (`distributed.preprocessing`) and the preprocessor is the same.
        dask_scheduler: With dask, a running scheduler's address; empty starts a cluster for the task
            (`engines.dask_session`).
        dask_workers: With dask and no scheduler, the task's cluster's workers; 0 sizes a
            LocalCluster to the machine.

    Returns:
        Metadata of `preprocessor` (the content fingerprint of the table it was fitted on, its
        split manifest and what that hashes, feature counts), and a line per preprocessing
        warning.

    Raises:
        DataLeakageError: The input is not the train split: by role, or by content (a
            relabelled copy of another split), or its lineage is altered.
        InvalidInputError: No usable feature is left.
    """
    lineage.require_role(train_metadata, TRAIN, "fit_preprocessor")
    manifest = lineage.require_same_manifest("fit_preprocessor", train=train_metadata)
    if engines.check_engine(engine) == engines.DASK:
        from ..distributed.preprocessing import fit_preprocessor

        with engines.dask_session(dask_scheduler, dask_workers):
            train = lineage.read_split(train_path, TRAIN, "fit_preprocessor", manifest, engine)
            content = manifest.split(TRAIN)
            fitted = fit_preprocessor(train, content)
    else:
        train = tables.read_parquet(train_path)
        content = lineage.verify_split(train, TRAIN, "fit_preprocessor", manifest)
        fitted = preprocessing.fit_preprocessor(train, content)
    fitted.save(preprocessor_path)
    return StageResult(
        metadata={"preprocessor": {
            META_TRAIN_FINGERPRINT: content,
            **manifest.stamp(),
            "features_in": float(len(fitted.features)),
            "features_out": float(len(fitted.feature_names_out())),
        }},
        lines=[f"preprocessing: {warning}" for warning in fitted.warnings],
    )
