"""Per-column statistics of a Dask frame, each partition summarised where it lives and only summaries moved.

One pass gives, for every numeric column, the count, mean, sum of squared deviations, minimum
and maximum of its non-missing values, and for every other column its level counts and missing
count. Medians are exact (what `np.median` gives on all the values): each further pass narrows
a value range around the middle ranks with a 1,024-bin histogram, until the values left in the
range are few enough to send; on a column of up to `COLLECT_LIMIT` values the first such pass
sends them at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd

from ..schema import coerce_features

# Values of one column a median pass may send to this process (8 MB of float64).
COLLECT_LIMIT = 1_000_000
HISTOGRAM_BINS = 1024
# Partition summaries merged per task of the reduction tree.
TREE_WIDTH = 8


@dataclass
class Moments:
    """Non-missing values of a numeric column: count, mean, sum of squared deviations, range."""

    count: int
    mean: float
    m2: float
    minimum: float
    maximum: float

    @classmethod
    def of(cls, values: np.ndarray) -> "Moments":
        if not len(values):
            return cls(0, 0.0, 0.0, np.inf, -np.inf)
        mean = float(values.mean())
        return cls(len(values), mean, float(((values - mean) ** 2).sum()), float(values.min()), float(values.max()))

    def merge(self, other: "Moments") -> "Moments":
        """The moments of both sets of values (Chan et al.'s pairwise update)."""
        count = self.count + other.count
        if not count:
            return self
        delta = other.mean - self.mean
        return Moments(count, self.mean + delta * other.count / count,
                       self.m2 + other.m2 + delta * delta * self.count * other.count / count,
                       min(self.minimum, other.minimum), max(self.maximum, other.maximum))


@dataclass
class ColumnStatistics:
    """What the preprocessing fit needs of a table, per feature column.

    Attributes:
        rows: Rows of the table.
        numeric: Moments of each float column (after `schema.coerce_features`).
        levels: Level counts of each other column, missing values left out.
        missing: Missing values of each of those columns.
    """

    rows: int
    numeric: dict[str, Moments]
    levels: dict[str, pd.Series]
    missing: dict[str, int]

    def merge(self, other: "ColumnStatistics") -> "ColumnStatistics":
        return ColumnStatistics(
            self.rows + other.rows,
            {c: m.merge(other.numeric[c]) for c, m in self.numeric.items()},
            {c: v.add(other.levels[c], fill_value=0).astype("int64") for c, v in self.levels.items()},
            {c: n + other.missing[c] for c, n in self.missing.items()},
        )


def feature_kinds(frame: dd.DataFrame, features: list[str]) -> tuple[list[str], list[str]]:
    """The numeric and the other features, as `schema.coerce_features` types them."""
    coerced = coerce_features(frame._meta[features])
    numeric = [c for c in features if pd.api.types.is_float_dtype(coerced[c])]
    return numeric, [c for c in features if c not in numeric]


def _summarise(partition: pd.DataFrame, numeric: list[str], other: list[str]) -> ColumnStatistics:
    features = coerce_features(partition[numeric + other])
    values = {c: features[c].to_numpy(dtype=np.float64) for c in numeric}
    return ColumnStatistics(
        len(partition),
        {c: Moments.of(v[~np.isnan(v)]) for c, v in values.items()},
        {c: features[c].value_counts(dropna=True).astype("int64") for c in other},
        {c: int(features[c].isna().sum()) for c in other},
    )


def _merge_all(*parts):
    merged = parts[0]
    for part in parts[1:]:
        merged = merged.merge(part)
    return merged


def reduce_partitions(frame: dd.DataFrame, summarise: Callable, merge: Callable, *args: Any) -> Any:
    """Summarises every partition and merges the summaries in a tree on the workers: one pass."""
    nodes = [dask.delayed(summarise)(part, *args) for part in frame.to_delayed()]
    while len(nodes) > 1:
        nodes = [dask.delayed(merge)(*nodes[i:i + TREE_WIDTH]) for i in range(0, len(nodes), TREE_WIDTH)]
    return nodes[0].compute()


def column_statistics(frame: dd.DataFrame, numeric: list[str], other: list[str]) -> ColumnStatistics:
    """Moments of the numeric columns and level counts of the others, in one distributed pass."""
    return reduce_partitions(frame, _summarise, _merge_all, numeric, other)


@dataclass
class _Bracket:
    """The value range [low, high] that holds a column's middle ranks, and how many values lie below and in it.

    `send` says the values in it go to this process whatever their number: the bins could
    not narrow it (a range a few ulps wide).
    """

    low: float
    high: float
    below: int
    inside: int
    send: bool = False


class _Histogram:
    """Counts, minima and maxima of one column's values in the bins of a range."""

    def __init__(self, counts: np.ndarray, lows: np.ndarray, highs: np.ndarray):
        self.counts, self.lows, self.highs = counts, lows, highs

    def merge(self, other: "_Histogram") -> "_Histogram":
        return _Histogram(self.counts + other.counts, np.minimum(self.lows, other.lows),
                          np.maximum(self.highs, other.highs))


def _inside(partition: pd.DataFrame, column: str, bracket: _Bracket) -> np.ndarray:
    values = coerce_features(partition[[column]])[column].to_numpy(dtype=np.float64)
    return values[(values >= bracket.low) & (values <= bracket.high)]  # NaN compares false: left out


def _median_pass(partition: pd.DataFrame, plan: dict[str, tuple[str, _Bracket]]) -> dict:
    out = {}
    for column, (action, bracket) in plan.items():
        values = _inside(partition, column, bracket)
        if action == "collect":
            out[column] = [values]
            continue
        edges = np.linspace(bracket.low, bracket.high, HISTOGRAM_BINS + 1)
        bins = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, HISTOGRAM_BINS - 1)
        lows, highs = np.full(HISTOGRAM_BINS, np.inf), np.full(HISTOGRAM_BINS, -np.inf)
        np.minimum.at(lows, bins, values)
        np.maximum.at(highs, bins, values)
        out[column] = _Histogram(np.bincount(bins, minlength=HISTOGRAM_BINS), lows, highs)
    return out


def _merge_passes(*parts: dict) -> dict:
    merged = dict(parts[0])
    for part in parts[1:]:
        for column, value in part.items():
            merged[column] = merged[column] + value if isinstance(value, list) else merged[column].merge(value)
    return merged


def exact_medians(frame: dd.DataFrame, moments: dict[str, Moments], collect_limit: int = COLLECT_LIMIT) -> dict:
    """The median of each numeric column's non-missing values, exactly, in as few passes as it takes.

    Args:
        frame: The table.
        moments: `ColumnStatistics.numeric` of the columns (counts and ranges), none empty.
        collect_limit: The most values of one column a pass sends to this process.

    Returns:
        The median of each column: the middle value, or the mean of the two middle values.
    """
    ranks = {c: ((m.count - 1) // 2, m.count // 2) for c, m in moments.items()}
    pending = {c: _Bracket(m.minimum, m.maximum, 0, m.count) for c, m in moments.items()}
    medians = {}
    while pending:
        plan = {c: ("collect" if b.inside <= collect_limit or b.low == b.high or b.send else "histogram", b)
                for c, b in pending.items()}
        result = reduce_partitions(frame, _median_pass, _merge_passes, plan)
        for column, (action, bracket) in plan.items():
            first, second = (r - bracket.below for r in ranks[column])
            if action == "collect":
                values = np.sort(np.concatenate(result[column]))
                medians[column] = float((values[first] + values[second]) / 2)
                del pending[column]
                continue
            histogram = result[column]
            ends = np.cumsum(histogram.counts)
            lo_bin, hi_bin = np.searchsorted(ends, first, side="right"), np.searchsorted(ends, second, side="right")
            below = bracket.below + int(ends[lo_bin] - histogram.counts[lo_bin])
            inside = int(ends[hi_bin] - ends[lo_bin] + histogram.counts[lo_bin])
            pending[column] = _Bracket(float(histogram.lows[lo_bin]), float(histogram.highs[hi_bin]), below, inside,
                                       send=inside == bracket.inside)
    return medians
