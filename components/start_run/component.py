"""KFP component: the run's `running` row, written before any data is read."""

from kfp import dsl

from sealtrain.components.runtime import DEFAULT_IMAGE


@dsl.component(base_image=DEFAULT_IMAGE, install_kfp_package=False)
def start_run(
    training_run_id: str,
    pipeline_job_id: str,
    experiment_id: str,
    model_version_id: str,
    algorithm: str,
    hyperparameter_space: str,
    mlflow_tracking_uri: str,
    run_db_url: str,
) -> str:
    """Records the run as `running` and checks that MLflow and the run table answer.

    Failing here, before any compute, spares a long run that could not be recorded.

    Args:
        training_run_id: The run's id minted by whoever started it, or empty for the job's.
        pipeline_job_id: The orchestrator's job id.
        experiment_id: MLflow experiment and `ml_experiments` key.
        model_version_id: The candidate's version id, or empty to derive one.
        algorithm: The algorithm to train.
        hyperparameter_space: The JSON search space, or empty for the default.
        mlflow_tracking_uri: MLflow URI, or empty to use MLFLOW_TRACKING_URI.
        run_db_url: Run-table database URL, or empty to use SEALTRAIN_DB_URL.

    Returns:
        The run's id, which every later record of the run carries.
    """
    from sealtrain.components.core import recording

    run_id = recording.run_id(training_run_id, pipeline_job_id)
    recording.start_run(
        training_run_id=run_id,
        experiment_id=experiment_id,
        model_version_id=model_version_id,
        algorithm=algorithm,
        hyperparameter_space=hyperparameter_space,
        tracking_uri=mlflow_tracking_uri,
        db_url=run_db_url,
    )
    print(f"[sealtrain] run {run_id} recorded as running")
    return run_id
