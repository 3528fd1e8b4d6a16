"""KFP component: the exit task that marks a failed run `failed`."""

from kfp import dsl

from sealtrain.components.runtime import DEFAULT_IMAGE


@dsl.component(base_image=DEFAULT_IMAGE, install_kfp_package=False)
def finalize_run(
    status: dsl.PipelineTaskFinalStatus,
    training_run_id: str,
    pipeline_job_id: str,
    experiment_id: str,
    algorithm: str,
    run_db_url: str,
):
    """Runs after everything else, whatever happened, and records a failure.

    A run that never recorded its start gets a `failed` row with its experiment and algorithm;
    a finished row, whichever run wrote it, is left as it is.

    Args:
        status: The final state of the training steps, filled in by KFP.
        training_run_id: The run's id minted by whoever started it, or empty for the job's.
        pipeline_job_id: The orchestrator's job id.
        experiment_id: MLflow experiment and `ml_experiments` key.
        algorithm: The algorithm asked for.
        run_db_url: Run-table database URL, or empty to use SEALTRAIN_DB_URL.
    """
    from sealtrain.components.core import recording

    run_id = recording.run_id(training_run_id, pipeline_job_id)
    failed = recording.fail_run(
        training_run_id=run_id, db_url=run_db_url, state=status.state, experiment_id=experiment_id,
        algorithm=algorithm, error=recording.final_error(status.pipeline_task_name, status.error_message),
    )
    print(f"[sealtrain] run {run_id} finished: {status.state}" + (", recorded as failed" if failed else ""))
