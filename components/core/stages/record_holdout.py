"""Stage `record_holdout`: the holdout result on the version's MLflow run, on the version and in the ledger."""

from __future__ import annotations

import json
from pathlib import Path

from .. import evaluation, holdout_validation, model_registry, modelio, run_store, split_ledger
from ..constants import HOLDOUT
from ..endpoints import DB_URL_ENV, TRACKING_URI_ENV, redact, resolve
from . import StageResult


def run(*, evaluation_path: str, report_path: str, model_path: str, model_metadata: dict, min_auc: float,
        force: bool, reason: str, tracking_uri: str, db_url: str, record_path: str) -> StageResult:
    """Records a holdout validation: MLflow first, the ledger row last (what makes it count).

    A failure before the ledger row leaves the version unvalidated, so the same (deterministic)
    validation can simply run again; MLflow then keeps the latest values.

    Args:
        evaluation_path: The holdout evaluation (JSON).
        report_path: Its HTML report.
        model_path: The version's model directory (the ledger knows a model by its fingerprint).
        model_metadata: Its artifact metadata: the version, its run and experiment.
        min_auc: The lower 95% bound of holdout AUC the model must reach to pass; 0 for none.
        force: A forced re-validation.
        reason: Why, if forced.
        tracking_uri: MLflow (or empty for MLFLOW_TRACKING_URI).
        db_url: The run store (or empty for SEALTRAIN_DB_URL).
        record_path: Where the validation record (JSON) goes.

    Returns:
        Lines naming the verdict and where it was recorded.

    Raises:
        HoldoutAccessError: An unforced validation of this model was recorded meanwhile.
    """
    tracking_uri = resolve(tracking_uri, TRACKING_URI_ENV, "mlflow_tracking_uri")
    db_url = resolve(db_url, DB_URL_ENV, "run_db_url")
    result = json.loads(Path(evaluation_path).read_text())
    version = model_registry.RegisteredVersion(
        model_metadata["registered_model"], model_metadata["registered_version"], (),
        model_metadata["mlflow_run_id"], model_metadata["experiment_id"], model_metadata["training_run_id"])
    fingerprint = modelio.model_fingerprint(model_path)
    # The gate checked this before the holdout was read; two validations may have passed it at once.
    earlier = run_store.with_database(db_url, lambda engine: split_ledger.evaluations(
        engine, version.experiment, HOLDOUT, fingerprint))
    holdout_validation.require_first_validation(earlier, version, force)
    judged = holdout_validation.verdict(result, min_auc)
    validated_at = run_store.utcnow()
    tags = holdout_validation.version_tags(result, judged, validated_at, reason if force else "")
    metrics = evaluation.logged_metrics(result, HOLDOUT)
    model_registry.log_result(
        tracking_uri, version, metrics=metrics,
        run_tags={"holdout_fingerprint": result["split_fingerprint"],
                  holdout_validation.TAG_RESULT: tags[holdout_validation.TAG_RESULT]},
        version_tags=tags, files=[evaluation_path, report_path], artifact_path=holdout_validation.ARTIFACT_PATH)
    ledger = {"metrics": result["test_metrics"], "confidence_interval": result["confidence_interval"],
              "precision_at_k": result["precision_at_k"], "verdict": judged}
    validations = run_store.with_database(db_url, lambda engine: split_ledger.record_evaluation(
        engine, experiment_id=version.experiment, split=HOLDOUT, split_fingerprint=result["split_fingerprint"],
        training_run_id=version.training_run_id, model_fingerprint=fingerprint,
        model_version=f"models:/{version.name}/{version.version}", forced=force, reason=reason if force else "",
        metrics=ledger))
    record = {
        "model": f"models:/{version.name}/{version.version}", "model_fingerprint": fingerprint,
        "training_run_id": version.training_run_id, "experiment_id": version.experiment,
        "mlflow": {"tracking_uri": redact(tracking_uri), "run_id": version.run_id},
        "holdout": {"fingerprint": result["split_fingerprint"], "rows": result["details"]["test_samples"]},
        "metrics": result["test_metrics"], "confidence_interval": result["confidence_interval"],
        "precision_at_k": result["precision_at_k"], "verdict": judged, "version_tags": tags,
        "forced": force, "reason": reason if force else "", "validated_at": tags[holdout_validation.TAG_DATE],
        "models_validated_on_this_holdout": validations,
    }
    Path(record_path).write_text(json.dumps(record, indent=2))
    return StageResult(lines=[
        f"{version}: holdout validation {tags[holdout_validation.TAG_RESULT]} ({judged['reason']}); "
        f"holdout AUC {tags[holdout_validation.TAG_AUC]}",
        f"recorded on MLflow run {version.run_id}, on the version's tags and in the split ledger",
    ])
