"""The rows a run leaves in `ml_training_runs`: `running`, then `completed` or `failed`."""

from __future__ import annotations

from datetime import datetime

from .algorithms import get_algorithm
from .constants import RUN_COMPLETED, RUN_FAILED, RUN_RUNNING, TEST, TRAIN, VALIDATION
from .records import TrainedModel
from .run_artifacts import RunResults, model_version
from .search_space import load_space


def running_row(*, training_run_id: str, experiment_id: str, model_version_id: str, algorithm: str,
                hyperparameter_space: str, started_at: datetime) -> dict:
    """The row of a run that starts; the algorithm and the search space are checked on the way.

    Raises:
        InvalidInputError: The algorithm is unknown or the search space malformed.
    """
    algo = get_algorithm(algorithm)
    return {
        "training_run_id": training_run_id,
        "experiment_id": experiment_id,
        "model_version_id": model_version(model_version_id, algo.name, training_run_id),
        "algorithm_name": algo.name,
        "framework": algo.framework,
        "hyperparameters": {},
        "hyperparameter_space": load_space(hyperparameter_space, algo),
        "status": RUN_RUNNING,
        "started_at": started_at,
    }


def failed_row(*, training_run_id: str, experiment_id: str, algorithm: str, error: str,
               completed_at: datetime) -> dict:
    """The row of a run that failed; over a `running` row only its status, time and error count.

    Args:
        training_run_id: The run's id.
        experiment_id: The run's experiment, for a run whose start was never recorded.
        algorithm: The algorithm asked for, likewise (kept as given when it is unknown).
        error: What failed: the failing task and its error when known.
        completed_at: When the failure was recorded.
    """
    return {
        "training_run_id": training_run_id,
        "experiment_id": experiment_id or None,
        "algorithm_name": algorithm or "unknown",
        "hyperparameters": {},
        "status": RUN_FAILED,
        "completed_at": completed_at,
        "error": error,
    }


def completed_row(run: RunResults, trained: TrainedModel, mlflow_run_id: str, completed_at: datetime) -> dict:
    """The row of a run recorded in MLflow: its hyperparameters, metrics, sizes and artifacts."""
    splits, evaluation = run.manifest["splits"], run.evaluation
    return {
        "training_run_id": run.training_run_id,
        "model_version_id": run.model_version_id,
        "experiment_id": run.experiment_id,
        "mlflow_run_id": mlflow_run_id,
        "algorithm_name": run.algorithm.name,
        "framework": run.algorithm.framework,
        "hyperparameters": run.best["params"],
        "hyperparameter_space": run.best["hyperparameter_space"],
        "tuning_trials": run.best["tuning_trials"],
        "train_metrics": evaluation["train_metrics"],
        "validation_metrics": evaluation["validation_metrics"],
        "test_metrics": evaluation["test_metrics"],
        "train_samples": splits[TRAIN]["rows"],
        "validation_samples": splits[VALIDATION]["rows"],
        "test_samples": splits[TEST]["rows"],
        "model_artifact_uri": trained.model_artifact_uri,
        "preprocessing_artifact_uri": trained.preprocessing_artifact_uri,
        "status": RUN_COMPLETED,
        "completed_at": completed_at,
        "training_duration_seconds": trained.training_duration_seconds,
    }
