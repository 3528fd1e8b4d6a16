"""Stage `train_model`: the final model, fitted on train with the best hyperparameters."""

from __future__ import annotations

import json
import time
from pathlib import Path

from .. import algorithms, engines, metrics, modelio, training
from ..constants import LABEL_COLUMN, META_MANIFEST_FINGERPRINT, META_TRAIN_FINGERPRINT, TRAIN, VALIDATION, metric_name
from . import StageResult, fit_inputs


def run(*, train_path: str, train_metadata: dict, validation_path: str, validation_metadata: dict,
        preprocessor_path: str, preprocessor_metadata: dict, best_hyperparameters_path: str, seed: int,
        threshold_method: str, model_path: str, fit_metrics_path: str, engine: str = engines.PANDAS,
        dask_scheduler: str = "", dask_workers: int = 0) -> StageResult:
    """Trains the final model and fixes its decision threshold on validation.

    Train fits the model; validation only stops boosting early and chooses the threshold.
    The test split is not an input.

    Args:
        train_path: The train split (Parquet): a local path, or with dask its gs:// URI (`locations.table_location`).
        train_metadata: Its artifact metadata; it must carry the train role.
        validation_path: The validation split, likewise.
        validation_metadata: Its artifact metadata; it must carry the validation role.
        preprocessor_path: The train-fitted preprocessor.
        preprocessor_metadata: Its artifact metadata (the split manifest it descends from).
        best_hyperparameters_path: The tuning result (JSON).
        seed: Seed of the estimator.
        threshold_method: "f1" (maximum F1) or "youden" on validation.
        model_path: The directory the model and its metadata JSON go to.
        fit_metrics_path: Where the `train_*` and `val_*` metrics (JSON) go.
        engine: "pandas" (in this process) or "dask": xgboost.dask fits on the cluster, and the
            metrics and threshold are computed there (`distributed.metrics`): only counts come back.
        dask_scheduler: With dask, a running scheduler's address; empty starts a cluster for the task
            (`engines.dask_session`).
        dask_workers: With dask and no scheduler, the task's cluster's workers; 0 sizes a
            LocalCluster to the machine.

    Returns:
        Metadata of `model` (with the content fingerprint of the train split it was fitted on
        and its split manifest), the metrics of `fit_metrics` and a summary line.

    Raises:
        DataLeakageError: An input has the wrong role or another split manifest, a split's
            content is not the manifest's split of its role, or the preprocessor was not
            fitted on the manifest's train split.
        TrainingFailedError: The estimator failed to fit.
    """
    reader = dict(train_path=train_path, train_metadata=train_metadata, validation_path=validation_path,
                  validation_metadata=validation_metadata, preprocessor_path=preprocessor_path,
                  preprocessor_metadata=preprocessor_metadata)
    best = json.loads(Path(best_hyperparameters_path).read_text())
    algo = algorithms.get_algorithm(best["algorithm"])
    if engines.check_engine(engine) == engines.DASK:
        from ..distributed import metrics as dask_metrics
        from ..distributed import training as dask_training

        with engines.dask_session(dask_scheduler, dask_workers) as client:
            inputs = fit_inputs.read("train_model", **reader, engine=engine)
            started = time.monotonic()
            estimator = dask_training.fit(client, algo.name, best["params"], seed, inputs.train, inputs.validation,
                                          inputs.preprocessor, metric=best["metric"])
            duration = time.monotonic() - started
            # The scores stay on the cluster: only counts and sums come back for the metrics.
            train_pairs, val_pairs = (dask_metrics.scored(dask_training.scores(estimator, split, inputs.preprocessor),
                                                          split[LABEL_COLUMN])
                                      for split in (inputs.train, inputs.validation))
            train_ranking, val_ranking = dask_metrics.ranking(train_pairs), dask_metrics.ranking(val_pairs)
            threshold = val_ranking.threshold(threshold_method)
            split_metrics = {
                TRAIN: dask_metrics.point_metrics(train_pairs, threshold, train_ranking),
                VALIDATION: dask_metrics.point_metrics(val_pairs, threshold, val_ranking),
            }
            samples = {TRAIN: train_ranking.rows, VALIDATION: val_ranking.rows}
    else:
        inputs = fit_inputs.read("train_model", **reader)
        y_train, y_val = inputs.y_train, inputs.y_val
        started = time.monotonic()
        estimator = training.fit(algo, best["params"], seed, inputs.x_train, y_train, inputs.x_val, y_val,
                                 metric=best["metric"])
        duration = time.monotonic() - started
        train_scores, val_scores = training.scores(estimator, inputs.x_train), training.scores(estimator, inputs.x_val)
        threshold = metrics.choose_threshold(y_val, val_scores, threshold_method)
        split_metrics = {
            TRAIN: metrics.point_metrics(y_train, train_scores, threshold),
            VALIDATION: metrics.point_metrics(y_val, val_scores, threshold),
        }
        samples = {TRAIN: len(y_train), VALIDATION: len(y_val)}
    manifest, train_fingerprint = inputs.manifest, inputs.manifest.split(TRAIN)
    modelio.save_model(estimator, algo.framework, model_path, {
        "algorithm": algo.name,
        "params": best["params"],
        "seed": seed,
        "best_iteration": training.best_iteration(estimator),
        "threshold": threshold,
        "threshold_method": threshold_method,
        "training_samples": int(samples[TRAIN]),
        "validation_samples": int(samples[VALIDATION]),
        "training_duration_seconds": round(duration, 3),
        "metrics": split_metrics,
        META_MANIFEST_FINGERPRINT: manifest.fingerprint,
        META_TRAIN_FINGERPRINT: train_fingerprint,
    })
    logged = {metric_name(split, name): value
              for split, values in split_metrics.items() for name, value in values.items() if value is not None}
    Path(fit_metrics_path).write_text(json.dumps(logged, indent=2))
    return StageResult(
        metadata={"model": {META_TRAIN_FINGERPRINT: train_fingerprint, **manifest.stamp(), "algorithm": algo.name,
                            "framework": algo.framework, "threshold": threshold}},
        metrics={"fit_metrics": logged},
        lines=[f"trained {algo.name} in {duration:.1f}s: train AUC {split_metrics[TRAIN]['auc']:.4f}, "
               f"validation AUC {split_metrics[VALIDATION]['auc']:.4f}, threshold {threshold:.4f}"],
    )

