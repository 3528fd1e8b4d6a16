"""One run's artifacts, built cheaply with the core functions the components call: the
KosteckiDillon split, logistic regression, two trials tuned on log loss."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from sealtrain.components.core import (
    algorithms,
    evaluation,
    metrics,
    modelio,
    optuna_study,
    preprocessing,
    schema,
    training,
    tuning,
)
from sealtrain.components.core.constants import GROUP_COLUMN, LOG_LOSS, TEST, TRAIN, VALIDATION
from sealtrain.components.core.report import render_report
from sealtrain.components.core.run_artifacts import RunArtifacts
from sealtrain.components.core.splitting import SplitResult

SEED = 7


def build_artifacts(directory: Path, raw: pd.DataFrame, spec: schema.DatasetSpec, splits: SplitResult,
                    min_auc: float = 0.0) -> RunArtifacts:
    """Writes the artifacts `record_run` reads into a directory, as the pipeline's steps do."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = RunArtifacts(manifest=str(directory / "split_manifest"), preprocessor=str(directory / "preprocessor"),
                         model=str(directory / "model"), best_hyperparameters=str(directory / "best_hyperparameters"),
                         trials=str(directory / "trials"), evaluation=str(directory / "evaluation"),
                         group_splits=str(directory / "group_splits"), reports=(str(directory / "report"),))
    splits.groups.to_parquet(paths.group_splits, index=False)
    manifest = {**splits.manifest, "dataset": {"group_column": spec.group,
        "feature_dtypes": {name: str(raw[name].dtype) for name in spec.feature_columns(raw)}}}
    Path(paths.manifest).write_text(json.dumps(manifest))
    fitted = preprocessing.fit_preprocessor(splits.tables[TRAIN], manifest["splits"][TRAIN]["fingerprint"])
    fitted.save(paths.preprocessor)
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = (
        schema.split_xy(splits.tables[name]) for name in (TRAIN, VALIDATION, TEST))
    x_train, x_val, x_test = (fitted.transform(x) for x in (x_train, x_val, x_test))

    algo = algorithms.get_algorithm("logistic_regression")
    study = optuna_study.StudySpec("recorded", algo, algo.default_space, {}, SEED, LOG_LOSS, 2, None)
    storage = f"sqlite:///{directory / 'optuna.db'}"
    tuning.run_worker(study, (x_train, y_train, x_val, y_val), storage=storage, n_trials=2, worker=0,
                      progress=lambda _: None)
    result = optuna_study.collect(storage, study)
    result.trials.to_csv(paths.trials, index=False)
    Path(paths.best_hyperparameters).write_text(json.dumps({
        "algorithm": algo.name, "params": result.best_params, "metric": LOG_LOSS,
        "hyperparameter_space": algo.default_space, "tuning_trials": len(result.trials), "seed": SEED,
    }))

    estimator = training.fit(algo, result.best_params, SEED, x_train, y_train, x_val, y_val, metric=LOG_LOSS)
    threshold = metrics.choose_threshold(y_val, training.scores(estimator, x_val))
    fit_metrics = {TRAIN: metrics.point_metrics(y_train, training.scores(estimator, x_train), threshold),
                   VALIDATION: metrics.point_metrics(y_val, training.scores(estimator, x_val), threshold)}
    modelio.save_model(estimator, algo.framework, paths.model, {
        "algorithm": algo.name, "params": result.best_params, "seed": SEED, "best_iteration": None,
        "threshold": threshold, "threshold_method": "f1", "training_samples": len(y_train),
        "training_duration_seconds": 0.1, "metrics": fit_metrics,
    })

    scores = training.scores(estimator, x_test)
    evaluated = evaluation.evaluate(y_test, scores, threshold, splits.tables[TEST][GROUP_COLUMN].to_numpy(), 20, SEED,
                                    (10,))
    evaluated["train_metrics"], evaluated["validation_metrics"] = fit_metrics[TRAIN], fit_metrics[VALIDATION]
    evaluated["acceptance"] = evaluation.acceptance(evaluated["test_metrics"], evaluated["confidence_interval"],
                                                    min_auc)
    Path(paths.evaluation).write_text(json.dumps(evaluated))
    Path(paths.reports[0]).write_text(render_report(y_test, scores, evaluated, "recorded run"))
    return paths
