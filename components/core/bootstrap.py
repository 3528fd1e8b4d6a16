"""Vectorised percentile bootstrap of the test metrics.

A resample is a vector of counts: how often each unit (row, or group for a cluster bootstrap)
was drawn. Every metric here depends on the rows only through their (score, label) pair, so
each resample is reduced to counts per cell, a distinct score and a label, and a chunk of
resamples is scored from cumulative sums over those cells at once. With a group column whole
groups are drawn (cluster bootstrap): rows of one patient are not independent, and drawing
them separately would understate the uncertainty.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from .constants import AUC, BRIER, F1, PR_AUC, PRECISION, RECALL

# Resamples x max(units, cells) per chunk: bounds each chunk's arrays to 4 MB, small enough to
# stay in cache between the passes over them (larger chunks measured slower at 100k rows).
CHUNK_ELEMENTS = 1 << 19


def _cells(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct scores (ascending) and each row's cell: score index, plus their count if positive."""
    scores, block = np.unique(p, return_inverse=True)
    return scores, block.ravel() + len(scores) * (y > 0)


def _metrics(counts: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, np.ndarray]:
    """Metrics of resamples given as counts per cell (b, 2 x distinct scores); see `_cells`."""
    neg, pos = counts[:, : len(scores)], counts[:, len(scores) :]
    total_pos, total_neg = pos.sum(axis=1), neg.sum(axis=1)
    valid = (total_pos > 0) & (total_neg > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        # Mann-Whitney: each positive beats the negatives below its score and ties half of its own.
        cum_neg = np.cumsum(neg, axis=1)
        wins = np.einsum("ij,ij->i", pos, cum_neg) - 0.5 * np.einsum("ij,ij->i", pos, neg)
        auc = wins / (total_pos * total_neg)
        # Average precision: thresholds walk down from the highest score; recall rises by each
        # score's positives at the precision of everything scored at or above it.
        above_pos = total_pos[:, None] - np.cumsum(pos, axis=1) + pos
        above = above_pos + total_neg[:, None] - cum_neg + neg
        precision_curve = np.divide(above_pos, above, out=np.zeros(above.shape), where=above > 0)
        pr_auc = np.einsum("ij,ij->i", pos, precision_curve) / total_pos
        brier = (neg @ scores**2 + pos @ (1 - scores) ** 2) / (total_pos + total_neg)
        first_predicted = np.searchsorted(scores, threshold, side="left")
        tp_t = pos[:, first_predicted:].sum(axis=1)
        fp_t = neg[:, first_predicted:].sum(axis=1)
        fn_t = total_pos - tp_t
        precision = np.where(tp_t + fp_t > 0, tp_t / (tp_t + fp_t), 0.0)
        recall = tp_t / total_pos
        f1 = np.where(2 * tp_t + fp_t + fn_t > 0, 2 * tp_t / (2 * tp_t + fp_t + fn_t), 0.0)
    out = {AUC: auc, PR_AUC: pr_auc, PRECISION: precision, RECALL: recall, F1: f1}
    out = {k: np.where(valid, v, np.nan) for k, v in out.items()}
    out[BRIER] = brier
    return out


def _incidence(units: np.ndarray, cells: np.ndarray, n_units: int, n_cells: int) -> sparse.csr_matrix:
    """How many rows of each unit fall in each cell (n_units, n_cells)."""
    return sparse.csr_matrix((np.ones(len(units)), (units, cells)), shape=(n_units, n_cells))


def _count_per_row(values: np.ndarray, n_bins: int) -> np.ndarray:
    """Occurrences of 0..n_bins-1 in each row of a 2-D integer array."""
    offsets = (np.arange(len(values)) * n_bins)[:, None]
    return np.bincount((values + offsets).ravel(), minlength=len(values) * n_bins).reshape(len(values), n_bins)


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
    scores, cells = _cells(y, p)
    rows_to_cells = _incidence(np.arange(len(y)), cells, len(y), 2 * len(scores))
    return _metrics(np.asarray((rows_to_cells.T @ w.T).T), scores, threshold)


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
    scores, cells = _cells(y, p)
    n_cells = 2 * len(scores)
    if groups is None:
        n_units, unit, groups_to_cells = len(y), "row", None
    else:
        codes = np.unique(groups, return_inverse=True)[1].ravel()
        n_units, unit = int(codes.max()) + 1, "group"
        groups_to_cells = _incidence(codes, cells, n_units, n_cells)
    chunk = max(1, CHUNK_ELEMENTS // max(n_units, n_cells))
    rng = np.random.default_rng(seed)
    collected: dict[str, list[np.ndarray]] = {}
    for start in range(0, samples, chunk):
        drawn = rng.integers(0, n_units, (min(chunk, samples - start), n_units))
        if groups_to_cells is None:
            counts = _count_per_row(cells[drawn], n_cells)
        else:
            counts = np.asarray((groups_to_cells.T @ _count_per_row(drawn, n_units).T).T)
        for name, values in _metrics(counts, scores, threshold).items():
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
