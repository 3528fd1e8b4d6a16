"""KFP component: read the shared study once every worker is done."""

from kfp import dsl
from kfp.dsl import HTML, Artifact, Dataset, Input, Model, Output

from sealtrain.components.runtime import DEFAULT_IMAGE


@dsl.component(base_image=DEFAULT_IMAGE, install_kfp_package=False)
def select_best_trial(
    preprocessor: Input[Model],
    algorithm: str,
    hyperparameter_space: str,
    default_hyperparameters: str,
    n_trials: int,
    seed: int,
    tuning_metric: str,
    warm_start: str,
    optuna_storage_url: str,
    worker_trials: list,
    best_hyperparameters: Output[Artifact],
    trials: Output[Dataset],
    history: Output[HTML],
):
    """Picks the best trial of the study the workers shared.

    Args:
        preprocessor: The train-fitted preprocessor (names the split manifest of the study).
        algorithm: The algorithm tuned.
        hyperparameter_space: The JSON search space, or empty for the default.
        default_hyperparameters: JSON of fixed hyperparameters.
        n_trials: Trials of the whole study.
        seed: The tuning seed.
        tuning_metric: The validation objective.
        warm_start: The parameters tried first (JSON or `null`).
        optuna_storage_url: Optuna storage (a database URL or journal://PATH), or empty to use OPTUNA_STORAGE_URL.
        worker_trials: Trials each worker ran (collected from the loop, it orders this step last).
        best_hyperparameters: JSON with the algorithm, best params (fixed ones included), best
            value, best iteration, the space searched and trial counts.
        trials: One row per trial (CSV).
        history: Optimisation history and best trials (HTML).
    """
    from sealtrain.components.core.stages import stamp
    from sealtrain.components.core.stages.select_best_trial import run

    # The .html name lets a browser and MLflow's artifact view render the page; kfp.local and the
    # cluster launcher both upload from, and hand downstream, the URI a component returns.
    history.uri += ".html"
    result = run(preprocessor_metadata=preprocessor.metadata, algorithm=algorithm,
                 hyperparameter_space=hyperparameter_space, default_hyperparameters=default_hyperparameters,
                 n_trials=n_trials, seed=seed, tuning_metric=tuning_metric, warm_start=warm_start,
                 optuna_storage_url=optuna_storage_url, workers=len(worker_trials),
                 best_hyperparameters_path=best_hyperparameters.path, trials_path=trials.path,
                 history_path=history.path)
    stamp(result, best_hyperparameters=best_hyperparameters)
