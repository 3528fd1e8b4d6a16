"""`metrics`' point metrics and validation-chosen threshold of a Dask split, computed where the scores live.

Only counts and sums come back to the task, never a split's scores: the pandas engine's
figures (scikit-learn's) to float rounding, and its thresholds exactly.

AUC, PR-AUC and both thresholds depend on the order of the scores only through the positives
and negatives at each distinct score. The (score, label) rows are reduced to those counts per
partition and sorted across the cluster (a shuffle by value ranges, so equal scores meet in one
partition); each sorted partition's share then needs only the counts above and below it, from
one small row per partition. The rest (Brier, log loss, calibration, the confusion matrix at the
threshold) are sums.

scikit-learn's choices are reproduced, not approximated: the maximum-F1 threshold is the lowest
score among equal F1 (`precision_recall_curve` over every distinct score); Youden's is the highest
among equal TPR - FPR over the points `roc_curve` keeps (`drop_intermediate`: a point whose
counts repeat the next lower score's lies on a straight segment and is dropped), its extra point
at infinity included, capped at 1. F1, TPR and FPR are computed with scikit-learn's operations,
so equal values compare equal in both engines.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd

from ..constants import (
    ACCURACY,
    AUC,
    BRIER,
    CALIBRATION_ERROR,
    DEFAULT_CALIBRATION_BINS,
    F1,
    LABEL_COLUMN,
    LOG_LOSS,
    PR_AUC,
    PRECISION,
    RECALL,
)
from ..errors import InvalidInputError
from ..metrics import THRESHOLD_METHODS, calibration_error, calibration_sums

SCORE, POSITIVES, NEGATIVES = "score", "positives", "negatives"
CALIBRATION_SUMS = ("count", "sum_p", "sum_y")
_COUNTS_META = pd.DataFrame({SCORE: pd.Series(dtype="float64"), POSITIVES: pd.Series(dtype="int64"),
                             NEGATIVES: pd.Series(dtype="int64")})


def scored(scores: dd.Series, labels: dd.Series) -> dd.DataFrame:
    """A split's scores beside its labels (0/1), kept on the workers for the passes below."""
    return scores.rename(SCORE).to_frame().assign(**{LABEL_COLUMN: labels.astype("int8")}).persist()


@dataclass(frozen=True)
class Ranking:
    """What the order of a split's scores decides.

    Attributes:
        rows: Rows of the split.
        positives: Its positive rows.
        auc: ROC AUC, None with a single class.
        pr_auc: Average precision, None with a single class.
        f1_threshold: The lowest score of maximum F1 (`metrics.choose_threshold`'s "f1").
        youden_threshold: Its "youden" threshold.
    """

    rows: int
    positives: int
    auc: float | None
    pr_auc: float | None
    f1_threshold: float
    youden_threshold: float

    def threshold(self, method: str) -> float:
        """The decision threshold `metrics.choose_threshold` picks on these scores.

        Raises:
            InvalidInputError: Unknown method.
        """
        if method == "f1":
            return self.f1_threshold
        if method == "youden":
            return self.youden_threshold
        raise InvalidInputError(f"threshold method must be one of {THRESHOLD_METHODS}, got {method!r}")


def _counts(partition: pd.DataFrame) -> pd.DataFrame:
    """Positives and negatives per distinct score."""
    grouped = partition.groupby(SCORE, sort=False)[LABEL_COLUMN].agg(["sum", "size"])
    positives = grouped["sum"].to_numpy(dtype="int64")
    return pd.DataFrame({SCORE: grouped.index.to_numpy(dtype="float64"), POSITIVES: positives,
                         NEGATIVES: grouped["size"].to_numpy(dtype="int64") - positives})


def _merged(partition: pd.DataFrame) -> pd.DataFrame:
    """A sorted partition's counts, one row per score (equal scores came from different partitions)."""
    merged = partition.groupby(SCORE, sort=True)[[POSITIVES, NEGATIVES]].sum()
    return merged.reset_index()


def _edges(partition: pd.DataFrame) -> pd.DataFrame:
    """A sorted partition's totals and its lowest and highest score's counts, as one row."""
    first = partition.iloc[0] if len(partition) else None
    last = partition.iloc[-1] if len(partition) else None
    return pd.DataFrame({
        "rows": [len(partition)],
        POSITIVES: [int(partition[POSITIVES].sum())], NEGATIVES: [int(partition[NEGATIVES].sum())],
        "first_pos": [int(first[POSITIVES]) if first is not None else -1],
        "first_neg": [int(first[NEGATIVES]) if first is not None else -1],
        "last_pos": [int(last[POSITIVES]) if last is not None else -1],
        "last_neg": [int(last[NEGATIVES]) if last is not None else -1],
    })


def _share(partition: pd.DataFrame, neg_below: int, pos_above: int, neg_above: int, positives: int,
           negatives: int, below: tuple[int, int] | None, is_top: bool) -> dict:
    """One sorted partition's share: AUC and average-precision sums and its best threshold candidates.

    Args:
        partition: Distinct scores ascending with their counts.
        neg_below: Negatives with a lower score, in earlier partitions.
        pos_above: Positives with a higher score, in later partitions.
        neg_above: Negatives with a higher score, in later partitions.
        positives: Positives of the split.
        negatives: Negatives of the split.
        below: The counts of the next lower score (the previous non-empty partition's highest),
            or None when this partition holds the lowest score.
        is_top: This partition holds the highest score.
    """
    pos = partition[POSITIVES].to_numpy(dtype="int64")
    neg = partition[NEGATIVES].to_numpy(dtype="int64")
    score = partition[SCORE].to_numpy(dtype="float64")
    # Twice the Mann-Whitney sum (ties counted half), in integers: exact.
    auc_twice = int((pos * (2 * (neg_below + np.cumsum(neg) - neg) + neg)).sum())
    # Rows at or above each score, as scikit-learn's curves count them (floats, as its cumsum).
    tps = (pos_above + np.cumsum(pos[::-1])[::-1]).astype("float64")
    fps = (neg_above + np.cumsum(neg[::-1])[::-1]).astype("float64")
    precision = tps / (tps + fps)
    recall = tps / positives if positives else np.ones_like(tps)
    ap_sum = float((pos / positives * precision).sum()) if positives else 0.0
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros_like(precision),
                   where=(precision + recall) > 0)
    share = {"auc_twice": auc_twice, "ap_sum": ap_sum, "f1": None, "youden": None}
    if len(score):
        best = int(np.argmax(f1))  # ascending scores: the first maximum is the lowest score
        share["f1"] = (float(f1[best]), float(score[best]))
    if len(score) and positives and negatives:
        # roc_curve keeps a score whose counts differ from the next lower score's, the lowest and the highest.
        previous_pos = np.concatenate([[below[0] if below else -1], pos[:-1]])
        previous_neg = np.concatenate([[below[1] if below else -1], neg[:-1]])
        kept = (pos != previous_pos) | (neg != previous_neg)
        if below is None:
            kept[0] = True
        if is_top:
            kept[-1] = True
        youden = tps / positives - fps / negatives
        youden[~kept] = -np.inf
        best = len(youden) - 1 - int(np.argmax(youden[::-1]))  # the last maximum is the highest score
        if kept[best]:
            share["youden"] = (float(youden[best]), float(score[best]))
    return share


def ranking(pairs: dd.DataFrame) -> Ranking:
    """AUC, PR-AUC and both thresholds of a split's (score, label) rows (`scored`)."""
    ordered = pairs.map_partitions(_counts, meta=_COUNTS_META).sort_values(SCORE) \
        .map_partitions(_merged, meta=_COUNTS_META).persist()
    edges = ordered.map_partitions(_edges).compute().reset_index(drop=True)
    positives, negatives = int(edges[POSITIVES].sum()), int(edges[NEGATIVES].sum())
    pos_after = edges[POSITIVES][::-1].cumsum()[::-1].shift(-1, fill_value=0).astype(int)
    neg_after = edges[NEGATIVES][::-1].cumsum()[::-1].shift(-1, fill_value=0).astype(int)
    neg_before = edges[NEGATIVES].cumsum().shift(1, fill_value=0).astype(int)
    filled = [i for i in range(len(edges)) if edges["rows"][i]]
    tasks, previous = [], None
    for part, i in zip(ordered.to_delayed(), range(len(edges))):
        if not edges["rows"][i]:
            continue
        below = None if previous is None else (int(edges["last_pos"][previous]), int(edges["last_neg"][previous]))
        tasks.append(dask.delayed(_share)(part, int(neg_before[i]), int(pos_after[i]), int(neg_after[i]),
                                          positives, negatives, below, i == filled[-1]))
        previous = i
    shares = dask.compute(*tasks)
    both = positives > 0 and negatives > 0
    # Equal F1: the lowest score; equal J: the highest (the point at infinity, J = 0, is highest of all).
    f1_value, f1_threshold = max((s["f1"] for s in shares if s["f1"]), key=lambda c: (c[0], -c[1]))
    youden = max([(0.0, math.inf)] + [s["youden"] for s in shares if s["youden"]], key=lambda c: (c[0], c[1]))
    return Ranking(
        rows=positives + negatives, positives=positives,
        auc=sum(s["auc_twice"] for s in shares) / (2 * positives * negatives) if both else None,
        pr_auc=max(0.0, sum(s["ap_sum"] for s in shares)) if both else None,
        f1_threshold=f1_threshold, youden_threshold=min(youden[1], 1.0))


def _sums(partition: pd.DataFrame, threshold: float, bins: int) -> pd.DataFrame:
    """A partition's confusion counts at the threshold, Brier and log-loss sums and calibration bin sums."""
    p = partition[SCORE].to_numpy(dtype="float64")
    y = partition[LABEL_COLUMN].to_numpy(dtype="float64")
    predicted, actual = p >= threshold, y == 1
    eps = np.finfo("float64").eps  # log_loss clips as scikit-learn does
    row = {
        "tp": int((predicted & actual).sum()), "fp": int((predicted & ~actual).sum()),
        "fn": int((~predicted & actual).sum()), "tn": int((~predicted & ~actual).sum()),
        "brier": float(((y - p) ** 2).sum()),
        "log_loss": float(-(y * np.log(np.clip(p, eps, 1 - eps))
                            + (1 - y) * np.log(np.clip(1 - p, eps, 1 - eps))).sum()),
    }
    for name, sums in zip(CALIBRATION_SUMS, calibration_sums(y, p, bins)):
        row.update({f"{name}_{b}": float(value) for b, value in enumerate(sums)})
    return pd.DataFrame({key: [value] for key, value in row.items()})


def summed_metrics(pairs: dd.DataFrame, threshold: float, bins: int = DEFAULT_CALIBRATION_BINS) -> dict[str, float]:
    """`metrics.point_metrics` but AUC and PR-AUC (the `ranking`'s): sums over the rows, at a threshold."""
    sums = pairs.map_partitions(_sums, threshold, bins).compute().sum()
    tp, fp, fn, tn = (int(sums[k]) for k in ("tp", "fp", "fn", "tn"))
    rows = tp + fp + fn + tn
    return {
        BRIER: float(sums["brier"] / rows),
        LOG_LOSS: float(sums["log_loss"] / rows),
        PRECISION: float(tp / (tp + fp)) if tp + fp else 0.0,
        RECALL: float(tp / (tp + fn)) if tp + fn else 0.0,
        F1: float(2 * tp / (2 * tp + fp + fn)) if tp else 0.0,
        ACCURACY: float((tp + tn) / rows),
        CALIBRATION_ERROR: calibration_error(*(np.array([sums[f"{name}_{b}"] for b in range(bins)])
                                               for name in CALIBRATION_SUMS)),
    }


def point_metrics(pairs: dd.DataFrame, threshold: float, ranked: Ranking) -> dict[str, float | None]:
    """`metrics.point_metrics` of a split's (score, label) rows at a threshold, with their `ranking`."""
    return {AUC: ranked.auc, PR_AUC: ranked.pr_auc, **summed_metrics(pairs, threshold)}
