"""The run summary: the JSON contract of `sealtrain run --summary-json` and its text form."""

from __future__ import annotations

import json
from pathlib import Path

from sealtrain.components.core.constants import HOLDOUT, MODEL_META_FILE, SPLITS, TEST, TRAIN, VALIDATION
from sealtrain.components.core.report import test_reuse_warning

SUMMARY_METRICS = ("auc", "pr_auc", "precision", "recall", "f1", "brier_score", "calibration_error")


def _read(path: str) -> dict:
    return json.loads(Path(path).read_text())


def build_summary(record: dict, pipeline_root: str, cached: list[str]) -> dict:
    """Assembles the summary from the run record that `record_run` wrote.

    Args:
        record: The run record: `training_run_id`, `mlflow` and the URI of every artifact.
        pipeline_root: Where kfp.local wrote the artifacts.
        cached: Tasks whose results came from the cache.
    """
    paths = record["artifacts"]
    manifest = _read(paths["split_manifest"])
    trained = _read(paths["trained_model"])
    validation = _read(paths["validation_metrics"])
    best = _read(paths["best_hyperparameters"])
    qc = _read(paths["qc_report"])
    model_meta = _read(str(Path(paths["model"]) / MODEL_META_FILE))
    mlflow = record["mlflow"]
    acceptance = validation["details"]["acceptance"]
    return {
        "training_run_id": record["training_run_id"],
        "status": "completed",
        "qc": {"status": qc["status"], "overall_score": qc["overall_score"],
               "warnings": [f"{c['name']}: {c['detail']}" for c in qc["checks"] if c["status"] != "PASSED"]},
        "dataset": manifest["dataset"],
        "splits": {
            name: {key: manifest["splits"][name][key] for key in ("rows", "groups", "positive_rate", "fingerprint")}
            | {"path": manifest["splits"][name]["uri"]}
            for name in SPLITS
        },
        "split_manifest_fingerprint": manifest["fingerprint"],
        "holdout_lock": {key: manifest["holdout_lock"][key] for key in ("lock_size", "locked_groups", "new_groups")}
        | {"added": record["holdout_groups_locked"]},
        "test_evaluations": record["test_evaluations"],
        "duplicate_rows_across_splits": manifest["duplicate_rows_across_splits"],
        "artifacts": {
            "preprocessor": paths["preprocessor"],
            "model": paths["model"],
            "report": paths["report"],
            "trials": paths["trials"],
            "tuning_history": paths["tuning_history"],
            "model_artifact_uri": trained["model_artifact_uri"],
            "preprocessing_artifact_uri": trained["preprocessing_artifact_uri"],
            "serving_model_uri": mlflow["serving_model_uri"],
        },
        "algorithm": trained["algorithm_name"],
        "best_hyperparameters": trained["best_hyperparameters"],
        "best_iteration": model_meta["best_iteration"],
        "tuning_trials": trained["tuning_trials"],
        "trial_states": best["trial_states"],
        "threshold": validation["optimal_threshold"],
        "metrics": {TRAIN: validation["train_metrics"], VALIDATION: validation["validation_metrics"],
                    TEST: validation["test_metrics"]},
        "confidence_interval": validation["confidence_interval"],
        "precision_at_k": validation["precision_at_k"],
        "acceptance": acceptance,
        "mlflow": {
            "tracking_uri": mlflow["tracking_uri"],
            "run_id": mlflow["run_id"],
            "registered_model": mlflow.get("registered_model"),
            "registered_version": mlflow.get("registered_version"),
        },
        "cached_tasks": cached,
        "pipeline_root": pipeline_root,
    }


def render(summary: dict) -> str:
    """The short human summary printed at the end of a run."""
    lines = [f"Run {summary['training_run_id']} {summary['status']}", ""]
    lines.append(f"QC {summary['qc']['status']} (score {summary['qc']['overall_score']})")
    lines += [f"  warning: {w}" for w in summary["qc"]["warnings"]]
    lines.append("")
    lines.append(f"{'split':<11}{'rows':>8}{'groups':>8}{'positive':>10}")
    for name, s in summary["splits"].items():
        lines.append(f"{name:<11}{s['rows']:>8}{s['groups']:>8}{s['positive_rate']:>10.3f}")
    lock = summary["holdout_lock"]
    lines.append(f"{HOLDOUT}: {lock['locked_groups']} groups locked by earlier runs of the experiment, "
                 f"{lock['new_groups']} new; the lock now holds {lock['lock_size'] + lock['added']} groups")
    if duplicates := summary["duplicate_rows_across_splits"]:
        lines.append(f"{duplicates} {'row shares' if duplicates == 1 else 'rows share'} all feature values with a row "
                     "in another split")
    lines.append("")
    params = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                       for k, v in summary["best_hyperparameters"].items())
    states = ", ".join(f"{v} {k.lower()}" for k, v in summary["trial_states"].items() if v)
    lines.append(f"{summary['algorithm']}: {summary['tuning_trials']} trials ({states})")
    lines.append(f"  best: {params}")
    lines.append(f"  threshold {summary['threshold']:.4f}, chosen on validation")
    lines.append("")
    lines.append(f"{'metric':<19}{'train':>8}{'valid.':>8}{'test':>8}  test 95% CI")
    for name in SUMMARY_METRICS:
        row = [summary["metrics"][s].get(name) for s in (TRAIN, VALIDATION, TEST)]
        ci = summary["confidence_interval"].get(name)
        interval = f"  [{ci[0]:.4f}, {ci[1]:.4f}]" if ci else ""
        lines.append(f"{name:<19}" + "".join(f"{v:>8.4f}" if v is not None else f"{'n/a':>8}" for v in row) + interval)
    lines.append("")
    gate = summary["acceptance"]
    lines.append(f"Validation gate: {'accepted' if gate['accepted'] else 'rejected'} ({gate['reason']})")
    count = summary["test_evaluations"]
    lines.append(f"Test split evaluated by {count} {'model' if count == 1 else 'models'} of the experiment, "
                 "this one included")
    if warning := test_reuse_warning(count):
        lines.append(f"warning: {warning}")
    lines.append(f"MLflow run {summary['mlflow']['run_id']} at {summary['mlflow']['tracking_uri']}")
    if summary["mlflow"]["registered_version"]:
        lines.append(f"Registered as {summary['mlflow']['registered_model']} version "
                     f"{summary['mlflow']['registered_version']} (alias candidate)")
    lines.append(f"Report: {summary['artifacts']['report']}")
    if summary["cached_tasks"]:
        lines.append(f"From cache: {', '.join(summary['cached_tasks'])}")
    lines.append(f"Artifacts under {summary['pipeline_root']}")
    return "\n".join(lines)
