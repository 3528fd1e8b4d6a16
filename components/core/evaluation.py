"""The final evaluation on the test split: metrics, intervals, curves."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import confusion_matrix, roc_curve

from . import bootstrap, metrics
from .constants import DEFAULT_CALIBRATION_BINS, TEST, metric_name

ROC_POINTS = 200


def roc_points(y: np.ndarray, p: np.ndarray) -> dict[str, list[float]]:
    """The ROC curve, thinned to at most `ROC_POINTS` points for the KFP UI."""
    fpr, tpr, thresholds = roc_curve(y, p)
    keep = np.unique(np.linspace(0, len(fpr) - 1, min(ROC_POINTS, len(fpr))).astype(int))
    return {
        "fpr": fpr[keep].tolist(),
        "tpr": tpr[keep].tolist(),
        "thresholds": np.minimum(thresholds[keep], 1.0).tolist(),
    }


def evaluate(y: np.ndarray, p: np.ndarray, threshold: float, groups: np.ndarray | None,
             bootstrap_samples: int, seed: int, ks: tuple[int, ...]) -> dict:
    """Scores the test split once.

    Args:
        y: Test labels.
        p: Test scores.
        threshold: The threshold chosen on validation; applied unchanged.
        groups: Group ids for the cluster bootstrap, or None.
        bootstrap_samples: Number of bootstrap resamples.
        seed: Seed of the bootstrap.
        ks: The k of precision@k.

    Returns:
        The test metrics, the design's headline fields, intervals, calibration bins, the
        ROC curve and the confusion matrix.
    """
    test_metrics = metrics.point_metrics(y, p, threshold)
    at_k, notes = metrics.precision_at_k(y, p, ks)
    if test_metrics["auc"] is None:
        notes.append(f"test: {metrics.SINGLE_CLASS_NOTE}")
    ece, bins = metrics.calibration(y, p, DEFAULT_CALIBRATION_BINS)
    ci = bootstrap.bootstrap_intervals(y, p, threshold, bootstrap_samples, seed, groups)
    degenerate = {k: bootstrap_samples - v for k, v in ci["valid_samples"].items() if v < bootstrap_samples}
    if degenerate:
        notes.append(f"bootstrap resamples with a single class were left out of {sorted(degenerate)} "
                     f"({max(degenerate.values())} of {bootstrap_samples} at most)")
    matrix = confusion_matrix(y, (p >= threshold).astype(int), labels=[0, 1])
    return {
        "test_metrics": test_metrics,
        "optimal_threshold": threshold,
        "precision_at_k": {str(k): v for k, v in at_k.items()},
        "confidence_interval": ci["intervals"],
        "bootstrap_samples": bootstrap_samples,
        "details": {
            "bootstrap": {k: v for k, v in ci.items() if k != "intervals"},
            "calibration_bins": bins,
            "calibration_error": ece,
            "notes": notes,
            "test_samples": int(len(y)),
            "roc_curve": roc_points(y, p) if test_metrics["auc"] is not None else None,
            "confusion_matrix": matrix.tolist(),
        },
    }


def acceptance(test_metrics: dict, intervals: dict, min_auc: float, split: str = TEST) -> dict:
    """The validation gate: is the model good enough to register?

    The criterion is judged on the lower bound of the bootstrap interval, so a lucky test
    split does not pass a model whose AUC could well be below the bar.

    Args:
        test_metrics: Point metrics of the test split.
        intervals: Bootstrap intervals by metric.
        min_auc: The required AUC; 0 means no criterion.
        split: The split the metrics were measured on, as the reason names it.

    Returns:
        `accepted`, `reason` and the `criteria` applied.
    """
    if min_auc <= 0:
        return {"accepted": True, "reason": "no acceptance criteria set", "criteria": {}}
    if test_metrics["auc"] is None:
        return {"accepted": False, "reason": f"{split} AUC is undefined (single-class {split} split)",
                "criteria": {"min_auc": min_auc}}
    bounds = intervals.get("auc")
    judged, basis = (bounds[0], f"lower 95% bound of {split} AUC") if bounds else (test_metrics["auc"], f"{split} AUC")
    accepted = judged >= min_auc
    relation = ">=" if accepted else "<"
    return {
        "accepted": accepted,
        "reason": f"{basis} {judged:.4f} {relation} required {min_auc:g}",
        "criteria": {"min_auc": min_auc},
    }


def logged_metrics(result: dict, split: str = TEST) -> dict[str, float]:
    """The metrics of an evaluation as logged (`test_auc`, `test_auc_ci_low`, `test_precision_at_100`...)."""
    logged = {metric_name(split, name): value for name, value in result["test_metrics"].items() if value is not None}
    for name, bounds in result["confidence_interval"].items():
        if bounds:
            logged[metric_name(split, name, "ci_low")], logged[metric_name(split, name, "ci_high")] = bounds
    logged.update({metric_name(split, f"precision_at_{k}"): v for k, v in result["precision_at_k"].items()
                   if v is not None})
    return logged
