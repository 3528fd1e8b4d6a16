"""What one run logs to MLflow, built from its artifacts: params, metrics, tags and files."""

from __future__ import annotations

import pandas as pd

from .constants import TEST, TRAIN, VALIDATION, metric_name
from .run_artifacts import RunArtifacts, RunResults
from .serving import example_frame
from .tracking import MODEL_ARTIFACT_PATH, PREPROCESSOR_ARTIFACT_PATH, RunLog

TEST_EVALUATIONS_TAG = "sealtrain.test_evaluations"
SPLIT_METRICS = ((TRAIN, "train_metrics"), (VALIDATION, "validation_metrics"), (TEST, "test_metrics"))


def params(run: RunResults) -> dict:
    """The chosen hyperparameters (`hp_*`), the training settings and the size of every split."""
    splits = run.manifest["splits"]
    return {
        **{f"hp_{k}": v for k, v in run.best["params"].items()},
        "algorithm": run.algorithm.name,
        "seed": run.best["seed"],
        "tuning_trials": run.best["tuning_trials"],
        "best_iteration": run.model_meta["best_iteration"],
        "threshold": run.evaluation["optimal_threshold"],
        "threshold_method": run.model_meta["threshold_method"],
        "bootstrap_samples": run.evaluation["bootstrap_samples"],
        **{f"{name}_rows": s["rows"] for name, s in splits.items()},
        **{f"{name}_groups": s["groups"] for name, s in splits.items()},
    }


def metrics(evaluation: dict) -> dict[str, float]:
    """Every split's metrics, the test intervals and precision@k, by their logged names."""
    flat = {}
    for split, key in SPLIT_METRICS:
        flat.update({metric_name(split, k): v for k, v in evaluation[key].items()})
    for name, bounds in evaluation["confidence_interval"].items():
        if bounds:
            flat[metric_name(TEST, name, "ci_low")], flat[metric_name(TEST, name, "ci_high")] = bounds
    flat.update({metric_name(TEST, f"precision_at_{k}"): v for k, v in evaluation["precision_at_k"].items()})
    return flat


def tags(run: RunResults) -> dict:
    """The run's ids, the data and split fingerprints, the gate's verdict, and how many models of the
    experiment have been evaluated on its test split (this one included)."""
    splits = run.manifest["splits"]
    return {
        "training_run_id": run.training_run_id,
        "model_version_id": run.model_version_id,
        "data_fingerprint": run.manifest["data_fingerprint"],
        "split_manifest_fingerprint": run.manifest["fingerprint"],
        "accepted": str(run.acceptance["accepted"]).lower(),
        **{f"{name}_fingerprint": s["fingerprint"] for name, s in splits.items()},
        TEST_EVALUATIONS_TAG: run.test_evaluations,
    }


def run_log(run: RunResults, artifacts: RunArtifacts) -> RunLog:
    """Everything the run logs to MLflow; the model is registered only if it passed the gate."""
    accepted = run.acceptance["accepted"]
    return RunLog(
        params=params(run),
        metrics=metrics(run.evaluation),
        tags=tags(run),
        artifact_dirs={MODEL_ARTIFACT_PATH: artifacts.model, PREPROCESSOR_ARTIFACT_PATH: artifacts.preprocessor},
        artifact_files=[artifacts.manifest, artifacts.best_hyperparameters, artifacts.trials, artifacts.evaluation,
                        *artifacts.reports],
        trials=pd.read_csv(artifacts.trials),
        tuning_metric=run.best["metric"],
        serving_example=example_frame(artifacts.preprocessor, run.manifest["dataset"]["feature_dtypes"]),
        register=accepted,
        registration_note=("registered: " if accepted else "not registered: ") + run.acceptance["reason"],
    )
