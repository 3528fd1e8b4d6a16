"""MLflow logging of one training run: params, metrics, tags and versioned artifacts."""

from __future__ import annotations

from pathlib import Path

from .errors import ModelTrainerError

MODEL_ARTIFACT_PATH = "model"
PREPROCESSOR_ARTIFACT_PATH = "preprocessor"
MLFLOW_PARAM_LIMIT = 6000


class TrackingError(ModelTrainerError):
    """The MLflow tracking server could not be reached or refused a write."""


def _artifact_root(tracking_uri: str) -> str | None:
    # A SQLite store keeps artifacts beside the database, not in the task's working directory.
    if tracking_uri.startswith("sqlite:///"):
        return (Path(tracking_uri.removeprefix("sqlite:///")).parent / "mlartifacts").resolve().as_uri()
    return None


def log_training_run(tracking_uri: str, experiment_name: str, run_name: str, params: dict, metrics: dict,
                     tags: dict, artifact_dirs: dict[str, str], artifact_files: list[str]) -> dict:
    """Logs one run to MLflow.

    Args:
        tracking_uri: Where MLflow is (`sqlite:///...`, `http://...`).
        experiment_name: Created when missing.
        run_name: The run's name (the training run id).
        params: Flat parameters; values are stringified.
        metrics: Flat numeric metrics.
        tags: Flat tags.
        artifact_dirs: Directories to log, by artifact path (model, preprocessor).
        artifact_files: Single files to log at the root (manifest, reports).

    Returns:
        `run_id`, `experiment_id`, `artifact_uri` and the URI of every logged directory.

    Raises:
        TrackingError: MLflow was unreachable or refused; the message names the URI.
    """
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        mlflow.set_tracking_uri(tracking_uri)
        experiment = mlflow.get_experiment_by_name(experiment_name)
        experiment_id = (
            experiment.experiment_id
            if experiment
            else mlflow.create_experiment(experiment_name, artifact_location=_artifact_root(tracking_uri))
        )
        with mlflow.start_run(experiment_id=experiment_id, run_name=run_name) as run:
            mlflow.log_params({k: str(v)[:MLFLOW_PARAM_LIMIT] for k, v in params.items()})
            mlflow.log_metrics({k: float(v) for k, v in metrics.items() if v is not None})
            mlflow.set_tags(tags)
            for path, directory in artifact_dirs.items():
                mlflow.log_artifacts(directory, artifact_path=path)
            for file in artifact_files:
                mlflow.log_artifact(file)
            base = run.info.artifact_uri
            return {
                "run_id": run.info.run_id,
                "experiment_id": experiment_id,
                "artifact_uri": base,
                **{f"{path}_uri": f"{base}/{path}" for path in artifact_dirs},
            }
    except (MlflowException, OSError) as exc:
        raise TrackingError(f"MLflow at {tracking_uri} failed: {exc}") from exc
