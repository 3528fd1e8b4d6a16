"""Vectorised percentile bootstrap of the test metrics.

A resample is a vector of integer weights (how often each row was drawn), so one matrix
product-free pass over sorted scores evaluates a whole chunk of resamples at once. With a
group column whole groups are drawn (cluster bootstrap): rows of one patient are not
independent, and drawing them separately would understate the uncertainty.
"""

from __future__ import annotations

import numpy as np

from .constants import AUC, BRIER, F1, PR_AUC, PRECISION, RECALL

CHUNK = 32


def _resample_weights(rng: np.random.Generator, codes: np.ndarray, n_units: int, size: int) -> np.ndarray:
    unit_weights = rng.multinomial(n_units, np.full(n_units, 1.0 / n_units), size=size).astype(np.float64)
    return unit_weights[:, codes]


def weighted_metrics(y: np.ndarray, p: np.ndarray, threshold: float, w: np.ndarray) -> dict[str, np.ndarray]:
    """Metrics of many weighted copies of one split at once.

    Args:
        y: Labels (n,).
        p: Scores (n,).
        threshold: The decision threshold for precision, recall and F1.
        w: Weights (b, n); integer weights reproduce scikit-learn on the resampled rows.

    Returns:
        One array of b values per metric; NaN where a copy has a single class.
    """
    order = np.argsort(p, kind="stable")
    ys, ps, ws = y[order], p[order], w[:, order]
    starts = np.flatnonzero(np.r_[True, ps[1:] != ps[:-1]])
    pos = np.add.reduceat(ws * ys, starts, axis=1)
    neg = np.add.reduceat(ws * (1 - ys), starts, axis=1)
    total_pos, total_neg = pos.sum(axis=1), neg.sum(axis=1)
    valid = (total_pos > 0) & (total_neg > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        below = np.cumsum(neg, axis=1) - neg
        auc = (pos * (below + 0.5 * neg)).sum(axis=1) / (total_pos * total_neg)
        # Average precision walks thresholds from the highest score down.
        tp = np.cumsum(pos[:, ::-1], axis=1)
        fp = np.cumsum(neg[:, ::-1], axis=1)
        precision_curve = np.where(tp + fp > 0, tp / (tp + fp), 0.0)
        recall_step = pos[:, ::-1] / total_pos[:, None]
        pr_auc = (recall_step * precision_curve).sum(axis=1)
        brier = (ws * (ps - ys) ** 2).sum(axis=1) / ws.sum(axis=1)
        predicted = ps >= threshold
        tp_t = (ws * (ys * predicted)).sum(axis=1)
        fp_t = (ws * ((1 - ys) * predicted)).sum(axis=1)
        fn_t = total_pos - tp_t
        precision = np.where(tp_t + fp_t > 0, tp_t / (tp_t + fp_t), 0.0)
        recall = tp_t / total_pos
        f1 = np.where(2 * tp_t + fp_t + fn_t > 0, 2 * tp_t / (2 * tp_t + fp_t + fn_t), 0.0)
    out = {AUC: auc, PR_AUC: pr_auc, PRECISION: precision, RECALL: recall, F1: f1}
    out = {k: np.where(valid, v, np.nan) for k, v in out.items()}
    out[BRIER] = brier
    return out


def bootstrap_intervals(y: np.ndarray, p: np.ndarray, threshold: float, samples: int, seed: int,
                        groups: np.ndarray | None = None, level: float = 0.95) -> dict:
    """Percentile bootstrap intervals of AUC, PR-AUC, Brier, F1, precision and recall.

    Args:
        y: Test labels.
        p: Test scores.
        threshold: The validation-chosen threshold.
        samples: Number of resamples.
        seed: Seed of the resampling.
        groups: Group id per row for a cluster bootstrap, or None to draw rows.
        level: Coverage of the interval.

    Returns:
        `intervals` (metric -> [low, high]), `samples`, `valid_samples` per metric (resamples
        with one class are left out of class-dependent metrics), `unit` and `level`.
    """
    if groups is None:
        codes, n_units, unit = np.arange(len(y)), len(y), "row"
    else:
        codes, uniques = np.unique(groups, return_inverse=True)[1], np.unique(groups)
        n_units, unit = len(uniques), "group"
    y = y.astype(np.float64)
    rng = np.random.default_rng(seed)
    collected: dict[str, list[np.ndarray]] = {}
    for start in range(0, samples, CHUNK):
        w = _resample_weights(rng, codes, n_units, min(CHUNK, samples - start))
        for name, values in weighted_metrics(y, p, threshold, w).items():
            collected.setdefault(name, []).append(values)
    tail = (1 - level) / 2 * 100
    intervals, valid = {}, {}
    for name, chunks in collected.items():
        values = np.concatenate(chunks)
        finite = values[np.isfinite(values)]
        valid[name] = int(finite.size)
        intervals[name] = (
            [float(np.percentile(finite, tail)), float(np.percentile(finite, 100 - tail))] if finite.size else None
        )
    return {"intervals": intervals, "samples": samples, "valid_samples": valid, "unit": unit, "level": level}
