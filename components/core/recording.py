"""The run's life in the records: `running` at the start, then `completed` or `failed`.

Every write is an idempotent upsert keyed by the KFP run id, so a retried step never
duplicates a row, and transient database errors are retried a bounded number of times.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable, TypeVar

import pandas as pd
import sqlalchemy as sa

from . import run_store, tracking
from .algorithms import get_algorithm
from .constants import MODEL_META_FILE, RUN_COMPLETED, RUN_FAILED, RUN_RUNNING, TEST, TRAIN, VALIDATION, metric_name
from .endpoints import DB_URL_ENV, TRACKING_URI_ENV, normalise_url, resolve
from .errors import ModelTrainerError
from .preprocessing import Preprocessor, example_frame
from .records import TrainedModel, ValidationMetrics
from .search_space import load_space

DB_ATTEMPTS = 3
DB_RETRY_SECONDS = 2.0
T = TypeVar("T")


class RunRecordError(ModelTrainerError):
    """The run table could not be written."""


def model_version(model_version_id: str, algorithm: str, training_run_id: str) -> str:
    """The candidate's version id, or one derived from the algorithm and the run."""
    return model_version_id or f"{algorithm}-{training_run_id}"


def _with_database(db_url: str, write: Callable[[sa.Engine], T]) -> T:
    """Runs a write against the run table, retrying transient connection failures."""
    safe_url = sa.engine.make_url(normalise_url(db_url)).render_as_string(hide_password=True)
    for attempt in range(1, DB_ATTEMPTS + 1):
        engine = run_store.engine_for(db_url)
        try:
            run_store.ensure_schema(engine)
            return write(engine)
        except sa.exc.OperationalError as exc:
            if attempt == DB_ATTEMPTS:
                raise RunRecordError(f"run table at {safe_url} unreachable after {DB_ATTEMPTS} attempts: {exc.orig}") from exc
            time.sleep(DB_RETRY_SECONDS * attempt)
        finally:
            engine.dispose()
    raise AssertionError("unreachable")


def start_run(*, training_run_id: str, experiment_id: str, model_version_id: str, algorithm: str,
              hyperparameter_space: str, tracking_uri: str, db_url: str) -> None:
    """Writes the `running` row and checks that MLflow answers, before any data is read."""
    tracking_uri = resolve(tracking_uri, TRACKING_URI_ENV, "mlflow_tracking_uri")
    db_url = resolve(db_url, DB_URL_ENV, "run_db_url")
    algo = get_algorithm(algorithm)
    tracking.ensure_experiment(tracking_uri, experiment_id)
    space = load_space(hyperparameter_space, algo)
    row = {
        "training_run_id": training_run_id,
        "experiment_id": experiment_id,
        "model_version_id": model_version(model_version_id, algo.name, training_run_id),
        "algorithm_name": algo.name,
        "framework": algo.framework,
        "hyperparameters": {},
        "hyperparameter_space": space,
        "status": RUN_RUNNING,
        "started_at": run_store.utcnow(),
    }
    _with_database(db_url, lambda engine: run_store.upsert_run(engine, row))


def fail_run(*, training_run_id: str, db_url: str, state: str, error: str) -> bool:
    """Marks a run `failed` unless it completed; returns whether it did.

    Args:
        training_run_id: The KFP run id.
        db_url: The run table (or empty for SEALTRAIN_DB_URL).
        state: The pipeline's final state (SUCCEEDED, FAILED, CANCELLED...).
        error: What the orchestrator said went wrong.
    """
    if state == "SUCCEEDED":
        return False
    db_url = resolve(db_url, DB_URL_ENV, "run_db_url")

    def write(engine: sa.Engine) -> bool:
        existing = run_store.get_run(engine, training_run_id)
        if existing and existing["status"] == RUN_COMPLETED:
            return False
        run_store.upsert_run(engine, {
            "training_run_id": training_run_id,
            "algorithm_name": existing["algorithm_name"] if existing else "unknown",
            "hyperparameters": existing["hyperparameters"] if existing else {},
            "status": RUN_FAILED,
            "completed_at": run_store.utcnow(),
            "error": f"{state}: {error}",
        })
        return True

    return _with_database(db_url, write)


def best_configuration(*, db_url: str, experiment_id: str, algorithm: str) -> dict | None:
    """Procedural memory: the hyperparameters of the latest completed run of an algorithm.

    Returns:
        Those hyperparameters, or None when the experiment has no completed run of it.
    """
    db_url = resolve(db_url, DB_URL_ENV, "run_db_url")
    table = run_store.training_runs

    def read(engine: sa.Engine) -> dict | None:
        query = (
            sa.select(table.c.hyperparameters)
            .where(table.c.experiment_id == experiment_id, table.c.algorithm_name == algorithm,
                   table.c.status == RUN_COMPLETED)
            .order_by(table.c.completed_at.desc())
            .limit(1)
        )
        with engine.connect() as conn:
            return conn.execute(query).scalar()

    return _with_database(db_url, read)


def _flat_metrics(evaluation: dict) -> dict[str, float]:
    flat = {}
    for split, key in ((TRAIN, "train_metrics"), (VALIDATION, "validation_metrics"), (TEST, "test_metrics")):
        flat.update({metric_name(split, k): v for k, v in evaluation[key].items()})
    for name, bounds in evaluation["confidence_interval"].items():
        if bounds:
            flat[metric_name(TEST, name, "ci_low")], flat[metric_name(TEST, name, "ci_high")] = bounds
    flat.update({metric_name(TEST, f"precision_at_{k}"): v for k, v in evaluation["precision_at_k"].items()})
    return flat


def record_run(*, training_run_id: str, experiment_id: str, model_version_id: str, tracking_uri: str, db_url: str,
               manifest_path: str, preprocessor_dir: str, model_dir: str, best_path: str, trials_path: str,
               evaluation_path: str, report_paths: list[str]) -> tuple[TrainedModel, ValidationMetrics, dict]:
    """Logs the run to MLflow, upserts its `completed` row and builds the output records.

    Returns:
        The TrainedModel and ValidationMetrics records and the MLflow run info.
    """
    tracking_uri = resolve(tracking_uri, TRACKING_URI_ENV, "mlflow_tracking_uri")
    db_url = resolve(db_url, DB_URL_ENV, "run_db_url")
    manifest = json.loads(Path(manifest_path).read_text())
    best = json.loads(Path(best_path).read_text())
    evaluation = json.loads(Path(evaluation_path).read_text())
    model_meta = json.loads((Path(model_dir) / MODEL_META_FILE).read_text())
    algorithm = get_algorithm(best["algorithm"])
    version_id = model_version(model_version_id, algorithm.name, training_run_id)
    splits = manifest["splits"]
    gate = evaluation["acceptance"]
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
        "model_version_id": version_id,
        "data_fingerprint": manifest["data_fingerprint"],
        "split_manifest_fingerprint": manifest["fingerprint"],
        "accepted": str(gate["accepted"]).lower(),
        **{f"{name}_fingerprint": s["fingerprint"] for name, s in splits.items()},
    }
    logged = tracking.log_training_run(tracking_uri, experiment_id, training_run_id, tracking.RunLog(
        params=params,
        metrics=_flat_metrics(evaluation),
        tags=tags,
        artifact_dirs={tracking.MODEL_ARTIFACT_PATH: model_dir, tracking.PREPROCESSOR_ARTIFACT_PATH: preprocessor_dir},
        artifact_files=[manifest_path, best_path, trials_path, evaluation_path, *report_paths],
        trials=pd.read_csv(trials_path),
        serving_example=example_frame(Preprocessor.load(preprocessor_dir), manifest["dataset"]["feature_dtypes"]),
        register=gate["accepted"],
        registration_note=("registered: " if gate["accepted"] else "not registered: ") + gate["reason"],
    ))
    trained = TrainedModel(
        training_run_id=training_run_id,
        model_version_id=version_id,
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
        details={**evaluation["details"], "acceptance": gate},
    )
    row = {
        "training_run_id": training_run_id,
        "model_version_id": version_id,
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
    }
    _with_database(db_url, lambda engine: run_store.upsert_run(engine, row))
    return trained, validation, {"tracking_uri": tracking_uri, **logged}
