"""KFP component: the Optuna study on the validation split."""

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Model, Output

from sealtrain.components.runtime import RUNTIME_IMAGE


@dsl.component(base_image=RUNTIME_IMAGE, install_kfp_package=False)
def tune_hyperparameters(
    train: Input[Dataset],
    validation: Input[Dataset],
    preprocessor: Input[Model],
    algorithm: str,
    hyperparameter_space: str,
    n_trials: int,
    seed: int,
    best_hyperparameters: Output[Artifact],
    trials: Output[Dataset],
):
    """Searches hyperparameters with seeded TPE, scoring each trial by validation AUC.

    Args:
        train: The train split, which fits every trial's model.
        validation: The validation split, which scores, early-stops and prunes trials.
        preprocessor: The train-fitted preprocessor.
        algorithm: A registered algorithm name.
        hyperparameter_space: A JSON search space, or empty for the algorithm's default.
        n_trials: Number of Optuna trials.
        seed: Seed of the sampler and the estimators.
        best_hyperparameters: JSON with the algorithm, best params, best value, best
            iteration, the space searched and trial counts.
        trials: One row per trial (CSV).
    """
    import json
    from pathlib import Path

    from sealtrain.components.core import algorithms, lineage, search_space, tuning
    from sealtrain.components.core.constants import TRAIN, VALIDATION
    from sealtrain.components.core.preprocessing import Preprocessor, transform_split

    lineage.require_role(train.metadata, TRAIN, "tune_hyperparameters (train input)")
    lineage.require_role(validation.metadata, VALIDATION, "tune_hyperparameters (validation input)")
    manifest = lineage.require_same_manifest(
        "tune_hyperparameters", train=train.metadata, validation=validation.metadata, preprocessor=preprocessor.metadata
    )
    algo = algorithms.get_algorithm(algorithm)
    space = search_space.load_space(hyperparameter_space, algo)
    fitted = Preprocessor.load(preprocessor.path)
    data = (*transform_split(fitted, train.path), *transform_split(fitted, validation.path))
    result = tuning.tune(algo, space, data, n_trials, seed, progress=lambda line: print(f"[sealtrain] {line}"))
    result.trials.to_csv(trials.path, index=False)
    counts = {state: result.count(state) for state in ("COMPLETE", "PRUNED", "FAIL")}
    Path(best_hyperparameters.path).write_text(json.dumps({
        "algorithm": algorithm,
        "params": result.best_params,
        "best_value": result.best_value,
        "best_iteration": result.best_iteration,
        "hyperparameter_space": space,
        "tuning_trials": len(result.trials),
        "trial_states": counts,
        "seed": seed,
    }, indent=2))
    best_hyperparameters.metadata.update({"best_validation_auc": result.best_value, "split_manifest_fingerprint": manifest, **{k: float(v) for k, v in counts.items()}})
