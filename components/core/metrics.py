"""Point metrics, the validation-chosen threshold, calibration and precision@k."""

from __future__ import annotations

import numpy as np
from sklearn import metrics as skm

from .constants import (
    ACCURACY,
    AUC,
    BRIER,
    CALIBRATION_ERROR,
    DEFAULT_CALIBRATION_BINS,
    F1,
    LOG_LOSS,
    PR_AUC,
    PRECISION,
    RECALL,
)
from .errors import InvalidInputError

THRESHOLD_METHODS = ("f1", "youden")


def calibration_sums(y: np.ndarray, p: np.ndarray, bins: int = DEFAULT_CALIBRATION_BINS
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows, summed scores and summed labels in each of `bins` equal-width probability bins."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.digitize(p, edges[1:-1], right=True), 0, bins - 1)
    return tuple(np.bincount(index, weights=w, minlength=bins).astype("float64") for w in (None, p, y))


def calibration_error(counts: np.ndarray, sum_p: np.ndarray, sum_y: np.ndarray) -> float:
    """Expected calibration error from `calibration_sums` (added up over partitions, on Dask)."""
    filled = counts > 0
    gaps = np.abs(sum_p[filled] / counts[filled] - sum_y[filled] / counts[filled])
    return float((counts[filled] / counts.sum() * gaps).sum())


def calibration(y: np.ndarray, p: np.ndarray, bins: int = DEFAULT_CALIBRATION_BINS) -> tuple[float, list[dict]]:
    """Expected calibration error over equal-width probability bins.

    Returns:
        The ECE and, per non-empty bin, its range, count, mean score and observed rate.
    """
    counts, sum_p, sum_y = calibration_sums(y, p, bins)
    edges = np.linspace(0.0, 1.0, bins + 1)
    table = [{"low": float(edges[b]), "high": float(edges[b + 1]), "count": int(counts[b]),
              "mean_score": float(sum_p[b] / counts[b]), "observed_rate": float(sum_y[b] / counts[b])}
             for b in range(bins) if counts[b]]
    return calibration_error(counts, sum_p, sum_y), table


SINGLE_CLASS_NOTE = "the split has a single class, so AUC and PR-AUC are undefined (reported as null)"


def point_metrics(y: np.ndarray, p: np.ndarray, threshold: float) -> dict[str, float | None]:
    """The standard metrics of one split at a given decision threshold.

    AUC and PR-AUC are None (never NaN) when the split has a single class.
    """
    both = len(np.unique(y)) == 2
    predicted = (p >= threshold).astype(int)
    return {
        AUC: float(skm.roc_auc_score(y, p)) if both else None,
        PR_AUC: float(skm.average_precision_score(y, p)) if both else None,
        BRIER: float(skm.brier_score_loss(y, p)),
        LOG_LOSS: float(skm.log_loss(y, p, labels=[0, 1])),
        PRECISION: float(skm.precision_score(y, predicted, zero_division=0)),
        RECALL: float(skm.recall_score(y, predicted, zero_division=0)),
        F1: float(skm.f1_score(y, predicted, zero_division=0)),
        ACCURACY: float(skm.accuracy_score(y, predicted)),
        CALIBRATION_ERROR: calibration(y, p)[0],
    }


def choose_threshold(y: np.ndarray, p: np.ndarray, method: str = "f1") -> float:
    """Chooses the decision threshold on the validation split.

    Args:
        y: Validation labels.
        p: Validation scores.
        method: "f1" (maximum F1) or "youden" (maximum TPR - FPR).

    Raises:
        InvalidInputError: Unknown method.
    """
    if method == "f1":
        precision, recall, thresholds = skm.precision_recall_curve(y, p)
        f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros_like(precision),
                       where=(precision + recall) > 0)
        return float(thresholds[int(np.argmax(f1[:-1]))])
    if method == "youden":
        fpr, tpr, thresholds = skm.roc_curve(y, p)
        return float(min(thresholds[int(np.argmax(tpr - fpr))], 1.0))
    raise InvalidInputError(f"threshold method must be one of {THRESHOLD_METHODS}, got {method!r}")


def precision_at_k(y: np.ndarray, p: np.ndarray, ks: tuple[int, ...]) -> tuple[dict[int, float], list[str]]:
    """Precision among the k highest scores, for each k.

    When k exceeds the number of rows the whole split is used, and a note says so.
    """
    order = np.argsort(-p, kind="stable")
    values, notes = {}, []
    for k in ks:
        used = min(k, len(y))
        if used < k:
            notes.append(f"precision@{k} uses all {used} rows: the split has fewer than {k}")
        values[k] = float(y[order[:used]].mean())
    return values, notes
