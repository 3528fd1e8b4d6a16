"""KFP component: validate the tuning plan before any trial runs."""

from kfp import dsl

from sealtrain.components.runtime import DEFAULT_IMAGE


@dsl.component(base_image=DEFAULT_IMAGE, install_kfp_package=False)
def plan_tuning(
    algorithm: str,
    hyperparameter_space: str,
    default_hyperparameters: str,
    n_trials: int,
    tuning_workers: int,
    tuning_metric: str,
    warm_start: str,
) -> list:
    """Checks the model candidate and the study's settings, and names the workers.

    Args:
        algorithm: A registered algorithm name.
        hyperparameter_space: A JSON search space, or empty for the algorithm's default.
        default_hyperparameters: JSON of fixed hyperparameters, or empty.
        n_trials: Trials of the whole study.
        tuning_workers: How many workers share the study.
        tuning_metric: auc, pr_auc or log_loss on validation.
        warm_start: Parameters to try first (JSON or `null`), handed to every worker.

    Returns:
        One item per parallel tuning task: its `worker` index and the `warm_start`. (The
        memory travels inside the items because kfp.local hands a task in a loop the loop
        item in place of a parameter produced outside the loop.)

    Raises:
        HyperparameterTuningError: A malformed space or default, naming the parameter, or
            fewer trials than workers.
    """
    from sealtrain.components.core import tuning_plan

    workers = tuning_plan.plan(algorithm, hyperparameter_space, default_hyperparameters, n_trials, tuning_workers,
                               tuning_metric)
    print(f"[sealtrain] tuning {algorithm}: {n_trials} trials on {len(workers)} worker(s), objective {tuning_metric}")
    return [{"worker": worker, "warm_start": warm_start} for worker in workers]
