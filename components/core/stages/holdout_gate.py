"""Stage `holdout_gate`: may this model version's holdout be read, and from what?"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from .. import holdout_validation, lineage, model_registry, modelio, run_store, split_ledger, splitting, tables
from ..constants import (
    HOLDOUT,
    META_FINGERPRINT,
    META_MANIFEST_FINGERPRINT,
    META_TRAIN_FINGERPRINT,
    PREPROCESSOR_META_FILE,
    RUN_COMPLETED,
)
from ..endpoints import DB_URL_ENV, TRACKING_URI_ENV, redact, resolve
from ..errors import DataLeakageError, InvalidInputError
from ..tracking import MODEL_ARTIFACT_PATH, PREPROCESSOR_ARTIFACT_PATH
from . import StageResult

# The names the training run's files have in its MLflow run (record_run logs them by file name).
MANIFEST_ARTIFACT = "split_manifest"
EVALUATION_ARTIFACT = "evaluation"


def run(*, model_uri: str, experiment_id: str, data_uri: str, force: bool, reason: str, tracking_uri: str,
        db_url: str, model_path: str, preprocessor_path: str, manifest_path: str) -> StageResult:
    """Resolves a registered model reference and lets its holdout be read only when it may be.

    Args:
        model_uri: `models:/NAME@ALIAS` or `models:/NAME/VERSION`.
        experiment_id: The experiment the version must belong to; empty for its training run's.
        data_uri: Where the training data is now; empty for the source its split manifest recorded.
        force: Validate a model that was validated before (needs `reason`).
        reason: Why, recorded in the ledger and on the version.
        tracking_uri: MLflow (or empty for MLFLOW_TRACKING_URI).
        db_url: The run store (or empty for SEALTRAIN_DB_URL).
        model_path: Where the version's model directory goes.
        preprocessor_path: Where its preprocessor directory goes.
        manifest_path: Where its training run's split manifest (JSON) goes.

    Returns:
        Metadata of `model`, `preprocessor` and `split_manifest` (the manifest's lineage, the
        version and its run, the test evaluation's settings); as `value`, the data URI and its
        source fingerprint, for `load_dataset`.

    Raises:
        InvalidInputError: A malformed reference or a --force without reason; no such model,
            version or data; another experiment; a version not logged by a completed sealtrain run.
        HoldoutAccessError: The version is not in production, was validated already and
            `force` is off, or its run recorded no holdout groups.
        DataLeakageError: The logged split manifest is not the one the run was tagged with.
    """
    holdout_validation.require_reason(force, reason)
    reference = model_registry.parse_reference(model_uri)
    tracking_uri = resolve(tracking_uri, TRACKING_URI_ENV, "mlflow_tracking_uri")
    db_url = resolve(db_url, DB_URL_ENV, "run_db_url")
    version = model_registry.resolve_version(tracking_uri, reference)
    holdout_validation.require_production(version)
    if experiment_id and experiment_id != version.experiment:
        raise InvalidInputError(f"{version} was trained in experiment {version.experiment!r}, not {experiment_id!r}")
    run_id = version.training_run_id
    row = run_store.with_database(db_url, lambda engine: run_store.get_run(engine, run_id)) if run_id else None
    if not row or row["status"] != RUN_COMPLETED or row["mlflow_run_id"] != version.run_id:
        raise InvalidInputError(
            f"{version} (MLflow run {version.run_id}) is not a completed sealtrain training run in the run store at "
            f"{redact(db_url)}" + (f" (run {run_id} is {row['status']})" if row else "")
            + ": only a run's own holdout can validate its model"
        )
    model_registry.download_artifacts(tracking_uri, version.run_id, {
        MODEL_ARTIFACT_PATH: model_path, PREPROCESSOR_ARTIFACT_PATH: preprocessor_path,
        MANIFEST_ARTIFACT: manifest_path,
    })
    manifest = json.loads(Path(manifest_path).read_text())
    if splitting.manifest_fingerprint(manifest) != manifest.get("fingerprint"):
        raise DataLeakageError(f"the split manifest logged with {version} does not hash to its own fingerprint "
                               f"{manifest.get('fingerprint')}: it was altered")
    fingerprint = modelio.model_fingerprint(model_path)
    earlier, groups = run_store.with_database(db_url, lambda engine: (
        split_ledger.evaluations(engine, version.experiment, HOLDOUT, fingerprint),
        split_ledger.run_holdout(engine, version.experiment, run_id),
    ))
    holdout_validation.require_first_validation(earlier, version, force)
    holdout_validation.require_locked(groups, run_id)
    settings = _test_settings(tracking_uri, version)
    data_uri = data_uri or manifest["dataset"]["source"]
    source_fingerprint = tables.source_fingerprint(data_uri)
    descent = lineage.Manifest(manifest["fingerprint"], lineage.manifest_core(manifest)).stamp()
    identity = {"registered_model": version.name, "registered_version": version.version,
                "mlflow_run_id": version.run_id, "training_run_id": run_id, "experiment_id": version.experiment}
    train_fingerprint = modelio.read_model_meta(model_path).get(META_TRAIN_FINGERPRINT)
    preprocessor_meta = json.loads((Path(preprocessor_path) / PREPROCESSOR_META_FILE).read_text())
    lines = [f"{version} (aliases: {', '.join(version.aliases)}) from training run {run_id}, MLflow run "
             f"{version.run_id}",
             f"holdout: {len(groups)} groups locked by the run; data: {data_uri}"]
    if force:
        lines.append(f"forced re-validation ({len(earlier)} before): {reason}")
    return StageResult(
        metadata={
            "model": {**descent, **identity, META_TRAIN_FINGERPRINT: train_fingerprint,
                      META_FINGERPRINT: fingerprint, "evaluation_settings": settings},
            "preprocessor": {**descent, META_TRAIN_FINGERPRINT: preprocessor_meta[META_TRAIN_FINGERPRINT]},
            "split_manifest": {META_MANIFEST_FINGERPRINT: manifest["fingerprint"], **identity},
        },
        value={"data_uri": data_uri, "data_fingerprint": source_fingerprint},
        lines=lines,
    )


def _test_settings(tracking_uri: str, version: model_registry.RegisteredVersion) -> dict:
    """The seed, bootstrap and precision@k of the run's test evaluation, so the holdout is scored alike."""
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / EVALUATION_ARTIFACT
        model_registry.download_artifacts(tracking_uri, version.run_id, {EVALUATION_ARTIFACT: str(path)})
        logged = json.loads(path.read_text())
    return {"bootstrap_samples": int(logged["bootstrap_samples"]), "seed": int(version.run_params["seed"]),
            "precision_at_k": [int(k) for k in logged["precision_at_k"]]}
