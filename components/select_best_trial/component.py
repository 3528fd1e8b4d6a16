"""KFP component: read the shared study once every worker is done."""

from kfp import dsl
from kfp.dsl import HTML, Artifact, Dataset, Input, Model, Output

from sealtrain.components.runtime import RUNTIME_IMAGE


@dsl.component(base_image=RUNTIME_IMAGE, install_kfp_package=False)
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
        optuna_storage_url: Optuna RDB storage, or empty to use OPTUNA_STORAGE_URL.
        worker_trials: Trials each worker ran (collected from the loop, it orders this step last).
        best_hyperparameters: JSON with the algorithm, best params (fixed ones included), best
            value, best iteration, the space searched and trial counts.
        trials: One row per trial (CSV).
        history: Optimisation history and best trials (HTML).
    """
    import json
    from pathlib import Path

    from sealtrain.components.core import endpoints, tuning
    from sealtrain.components.core.constants import META_MANIFEST_FINGERPRINT
    from sealtrain.components.core.report import render_tuning_report

    manifest = preprocessor.metadata[META_MANIFEST_FINGERPRINT]
    spec = tuning.study_spec(split_manifest=manifest, algorithm=algorithm, hyperparameter_space=hyperparameter_space,
                             default_hyperparameters=default_hyperparameters, seed=seed, metric=tuning_metric,
                             n_trials=n_trials, warm_start=warm_start)
    result = tuning.collect(endpoints.optuna_storage(optuna_storage_url), spec)
    result.trials.to_csv(trials.path, index=False)
    counts = {state: result.count(state) for state in ("COMPLETE", "PRUNED", "FAIL")}
    Path(best_hyperparameters.path).write_text(json.dumps({
        "algorithm": algorithm,
        "params": {**spec.defaults, **result.best_params},
        "best_value": result.best_value,
        "best_iteration": result.best_iteration,
        "metric": tuning_metric,
        "hyperparameter_space": spec.space,
        "study": spec.name,
        "tuning_trials": len(result.trials),
        "workers": len(worker_trials),
        "trial_states": counts,
        "warm_start": spec.warm_start,
        "seed": seed,
    }, indent=2))
    Path(history.path).write_text(render_tuning_report(
        result.trials, tuning_metric, tuning.check_objective(tuning_metric), f"sealtrain tuning: {algorithm}"
    ))
    best_hyperparameters.metadata.update({
        f"best_validation_{tuning_metric}": result.best_value,
        META_MANIFEST_FINGERPRINT: manifest,
        **{k: float(v) for k, v in counts.items()},
    })
    print(f"[sealtrain] study {spec.name}: {len(result.trials)} trials ({counts}), best validation {tuning_metric} "
          f"{result.best_value:.4f}")
