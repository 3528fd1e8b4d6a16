"""KFP component: the exit task that marks a failed run `failed`."""

from kfp import dsl

from sealtrain.components.runtime import DEFAULT_IMAGE


@dsl.component(base_image=DEFAULT_IMAGE, install_kfp_package=False)
def finalize_run(status: dsl.PipelineTaskFinalStatus, training_run_id: str, run_db_url: str):
    """Runs after everything else, whatever happened, and records a failure.

    Args:
        status: The final state of the training steps, filled in by KFP.
        training_run_id: The KFP run's id.
        run_db_url: Run-table database URL, or empty to use SEALTRAIN_DB_URL.
    """
    from sealtrain.components.core import recording

    failed = recording.fail_run(
        training_run_id=training_run_id, db_url=run_db_url, state=status.state, error=status.error_message or ""
    )
    print(f"[sealtrain] run {training_run_id} finished: {status.state}" + (", recorded as failed" if failed else ""))
