"""Recording a finished run: MLflow, the run table and the design's output records."""

from __future__ import annotations

import json
import os
from pathlib import Path

from . import run_store, tracking
from .algorithms import get_algorithm
from .constants import METRIC_PREFIX, RUN_COMPLETED, TEST, TRAIN, VALIDATION
from .errors import InvalidInputError
from .records import TrainedModel, ValidationMetrics

TRACKING_URI_ENV = "MLFLOW_TRACKING_URI"
DB_URL_ENV = "SEALTRAIN_DB_URL"


def resolve(value: str, env: str, parameter: str) -> str:
    """A parameter's value, else its environment variable (set from a Secret on a cluster).

    Raises:
        InvalidInputError: Neither is set; the message names both.
    """
    resolved = value or os.environ.get(env, "")
    if not resolved:
        raise InvalidInputError(f"{parameter} is empty and {env} is not set")
    return resolved


def _flat_metrics(evaluation: dict) -> dict[str, float]:
    flat = {}
    for split, key in ((TRAIN, "train_metrics"), (VALIDATION, "validation_metrics"), (TEST, "test_metrics")):
        flat.update({METRIC_PREFIX[split] + k: v for k, v in evaluation[key].items()})
    for name, bounds in evaluation["confidence_interval"].items():
        if bounds:
            flat[f"test_{name}_ci_low"], flat[f"test_{name}_ci_high"] = bounds
    flat.update({f"test_precision_at_{k}": v for k, v in evaluation["precision_at_k"].items()})
    return flat


def record_run(*, training_run_id: str, experiment_id: str, model_version_id: str, tracking_uri: str, db_url: str,
               manifest_path: str, preprocessor_dir: str, model_dir: str, best_path: str, trials_path: str,
               evaluation_path: str) -> tuple[TrainedModel, ValidationMetrics, dict]:
    """Logs the run to MLflow, upserts its `completed` row and builds the output records.

    Returns:
        The TrainedModel and ValidationMetrics records and the MLflow run info.
    """
    tracking_uri = resolve(tracking_uri, TRACKING_URI_ENV, "mlflow_tracking_uri")
    db_url = resolve(db_url, DB_URL_ENV, "run_db_url")
    manifest = json.loads(Path(manifest_path).read_text())
    best = json.loads(Path(best_path).read_text())
    evaluation = json.loads(Path(evaluation_path).read_text())
    model_meta = json.loads((Path(model_dir) / "model.json").read_text())
    algorithm = get_algorithm(best["algorithm"])
    model_version_id = model_version_id or f"{algorithm.name}-{training_run_id}"
    splits = manifest["splits"]
    params = {
        **{f"hp_{k}": v for k, v in best["params"].items()},
        "algorithm": algorithm.name,
        "seed": best["seed"],
        "tuning_trials": best["tuning_trials"],
        "best_iteration": model_meta["best_iteration"],
        "threshold": evaluation["optimal_threshold"],
        "threshold_method": model_meta["threshold_method"],
        "bootstrap_samples": evaluation["bootstrap_samples"],
        **{f"{name}_rows": s["rows"] for name, s in splits.items()},
        **{f"{name}_groups": s["groups"] for name, s in splits.items()},
    }
    tags = {
        "training_run_id": training_run_id,
        "model_version_id": model_version_id,
        "data_fingerprint": manifest["data_fingerprint"],
        "split_manifest_fingerprint": manifest["fingerprint"],
        **{f"{name}_fingerprint": s["fingerprint"] for name, s in splits.items()},
    }
    logged = tracking.log_training_run(
        tracking_uri, experiment_id, training_run_id, params, _flat_metrics(evaluation), tags,
        {tracking.MODEL_ARTIFACT_PATH: model_dir, tracking.PREPROCESSOR_ARTIFACT_PATH: preprocessor_dir},
        [manifest_path, best_path, trials_path, evaluation_path],
    )
    trained = TrainedModel(
        training_run_id=training_run_id,
        model_version_id=model_version_id,
        experiment_id=experiment_id,
        algorithm_name=algorithm.name,
        framework=algorithm.framework,
        best_hyperparameters=best["params"],
        tuning_trials=best["tuning_trials"],
        model_artifact_uri=logged[f"{tracking.MODEL_ARTIFACT_PATH}_uri"],
        preprocessing_artifact_uri=logged[f"{tracking.PREPROCESSOR_ARTIFACT_PATH}_uri"],
        training_samples=model_meta["training_samples"],
        training_duration_seconds=model_meta["training_duration_seconds"],
        training_completed_at=run_store.utcnow().isoformat(),
    )
    test = evaluation["test_metrics"]
    validation = ValidationMetrics(
        training_run_id=training_run_id,
        train_metrics=evaluation["train_metrics"],
        validation_metrics=evaluation["validation_metrics"],
        test_metrics=test,
        auc=test["auc"],
        precision=test["precision"],
        recall=test["recall"],
        f1=test["f1"],
        pr_auc=test["pr_auc"],
        brier_score=test["brier_score"],
        calibration_error=test["calibration_error"],
        optimal_threshold=evaluation["optimal_threshold"],
        precision_at_k=evaluation["precision_at_k"],
        confidence_interval=evaluation["confidence_interval"],
        bootstrap_samples=evaluation["bootstrap_samples"],
        details=evaluation["details"],
    )
    engine = run_store.engine_for(db_url)
    run_store.ensure_schema(engine)
    run_store.upsert_run(engine, {
        "training_run_id": training_run_id,
        "model_version_id": model_version_id,
        "experiment_id": experiment_id,
        "mlflow_run_id": logged["run_id"],
        "algorithm_name": algorithm.name,
        "framework": algorithm.framework,
        "hyperparameters": best["params"],
        "hyperparameter_space": best["hyperparameter_space"],
        "tuning_trials": best["tuning_trials"],
        "train_metrics": evaluation["train_metrics"],
        "validation_metrics": evaluation["validation_metrics"],
        "test_metrics": test,
        "train_samples": splits[TRAIN]["rows"],
        "validation_samples": splits[VALIDATION]["rows"],
        "test_samples": splits[TEST]["rows"],
        "model_artifact_uri": trained.model_artifact_uri,
        "preprocessing_artifact_uri": trained.preprocessing_artifact_uri,
        "status": RUN_COMPLETED,
        "completed_at": run_store.utcnow(),
        "training_duration_seconds": trained.training_duration_seconds,
    })
    engine.dispose()
    return trained, validation, {"tracking_uri": tracking_uri, **logged}
