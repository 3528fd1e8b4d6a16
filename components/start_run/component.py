"""KFP component: the run's `running` row, written before any data is read."""

from typing import NamedTuple

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
    split_salt: str,
    group_column: str,
    mlflow_tracking_uri: str,
    run_db_url: str,
) -> NamedTuple("StartOutputs", training_run_id=str, lock_fingerprint=str):
    """Records the run as `running`, checks that MLflow and the run table answer, and reads the
    experiment's holdout lock.

    Failing here, before any compute, spares a long run that could not be recorded, or whose
    split salt or group column would make the lock meaningless.

    Args:
        training_run_id: The run's id minted by whoever started it, or empty for the job's.
        pipeline_job_id: The orchestrator's job id.
        experiment_id: MLflow experiment and `ml_experiments` key.
        model_version_id: The candidate's version id, or empty to derive one.
        algorithm: The algorithm to train.
        hyperparameter_space: The JSON search space, or empty for the default.
        split_salt: The split salt; a lock made with another is refused.
        group_column: The group column ('' for row hashes); likewise.
        mlflow_tracking_uri: MLflow URI, or empty to use MLFLOW_TRACKING_URI.
        run_db_url: Run-table database URL, or empty to use SEALTRAIN_DB_URL.

    Returns:
        training_run_id: The run's id, which every later record of the run carries.
        lock_fingerprint: The fingerprint of the holdout lock (a parameter, not the hashes: a
            parameter with the same value keeps the split's cache key, and the hashes may be
            too many for a command line).
    """
    from sealtrain.components.core import recording

    run_id = recording.run_id(training_run_id, pipeline_job_id)
    locked = recording.start_run(
        training_run_id=run_id,
        experiment_id=experiment_id,
        model_version_id=model_version_id,
        algorithm=algorithm,
        hyperparameter_space=hyperparameter_space,
        split_salt=split_salt,
        group_column=group_column,
        tracking_uri=mlflow_tracking_uri,
        db_url=run_db_url,
    )
    print(f"[sealtrain] run {run_id} recorded as running; holdout lock of {experiment_id!r}: {len(locked)} groups")
    return run_id, recording.lock_fingerprint(locked)
