"""KFP component: the final model, fitted on train with the best hyperparameters."""

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Metrics, Model, Output

from sealtrain.components.runtime import RUNTIME_IMAGE


@dsl.component(base_image=RUNTIME_IMAGE, install_kfp_package=False)
def train_model(
    train: Input[Dataset],
    validation: Input[Dataset],
    preprocessor: Input[Model],
    best_hyperparameters: Input[Artifact],
    seed: int,
    threshold_method: str,
    model: Output[Model],
    fit_metrics: Output[Metrics],
):
    """Trains the final model and fixes its decision threshold on validation.

    The train split fits the model; validation only stops boosting early and chooses the
    threshold. Train and validation metrics are recorded here so that the test split stays
    unread until evaluation.

    Args:
        train: The train split.
        validation: The validation split.
        preprocessor: The train-fitted preprocessor.
        best_hyperparameters: The tuning result.
        seed: Seed of the estimator.
        threshold_method: "f1" (maximum F1) or "youden" on validation.
        model: The model file (xgboost UBJSON or skops) with its metadata JSON.
        fit_metrics: `train_*` and `val_*` metrics.
    """
    import json
    import time
    from pathlib import Path

    from sealtrain.components.core import algorithms, lineage, metrics, modelio, training
    from sealtrain.components.core.constants import META_MANIFEST_FINGERPRINT, METRIC_PREFIX, TRAIN, VALIDATION
    from sealtrain.components.core.preprocessing import Preprocessor, transform_split

    lineage.require_role(train.metadata, TRAIN, "train_model (train input)")
    lineage.require_role(validation.metadata, VALIDATION, "train_model (validation input)")
    manifest = lineage.require_same_manifest(
        "train_model", train=train.metadata, validation=validation.metadata, preprocessor=preprocessor.metadata
    )
    best = json.loads(Path(best_hyperparameters.path).read_text())
    algo = algorithms.get_algorithm(best["algorithm"])
    fitted = Preprocessor.load(preprocessor.path)
    x_train, y_train = transform_split(fitted, train.path)
    x_val, y_val = transform_split(fitted, validation.path)
    started = time.monotonic()
    estimator = training.fit(algo, best["params"], seed, x_train, y_train, x_val, y_val, metric=best["metric"])
    duration = time.monotonic() - started
    val_scores = training.scores(estimator, x_val)
    threshold = metrics.choose_threshold(y_val, val_scores, threshold_method)
    split_metrics = {
        TRAIN: metrics.point_metrics(y_train, training.scores(estimator, x_train), threshold),
        VALIDATION: metrics.point_metrics(y_val, val_scores, threshold),
    }
    modelio.save_model(estimator, algo.framework, model.path, {
        "algorithm": algo.name,
        "params": best["params"],
        "seed": seed,
        "best_iteration": training.best_iteration(estimator),
        "threshold": threshold,
        "threshold_method": threshold_method,
        "training_samples": int(len(y_train)),
        "validation_samples": int(len(y_val)),
        "training_duration_seconds": round(duration, 3),
        "metrics": split_metrics,
        "split_manifest_fingerprint": manifest,
    })
    model.metadata.update({META_MANIFEST_FINGERPRINT: manifest, "algorithm": algo.name, "framework": algo.framework, "threshold": threshold})
    for split, values in split_metrics.items():
        for name, value in values.items():
            if value is not None:
                fit_metrics.log_metric(METRIC_PREFIX[split] + name, value)
    # KFP keeps metrics in metadata only; a file at the path lets the step be cached.
    Path(fit_metrics.path).write_text(json.dumps(fit_metrics.metadata, indent=2))
    print(f"[sealtrain] trained {algo.name} in {duration:.1f}s: train AUC {split_metrics[TRAIN]['auc']:.4f}, "
          f"validation AUC {split_metrics[VALIDATION]['auc']:.4f}, threshold {threshold:.4f}")
