"""`leakage`'s two checks on Dask splits, with its own verdicts and messages.

Target leakage: a feature's single-feature AUC on train comes from its rows per (value,
label), counted on the workers for all features in one pass, and is the pandas engine's
(Mann-Whitney, ties counted half, missing below every value; levels scored by their positive
rate, levels under `MIN_LEVEL_ROWS` rows pooled). A number with too many values to send back
is bounded from binned counts instead, and counted exactly only if the bound is not clear of
the warning separation (`feature_aucs`). Re-identified patients: each split's rows are hashed
as in `leakage` where they live and shuffled by hash, so each pair of splits is judged per
partition; only counts and the examples of a breach come back.
"""

from __future__ import annotations

import functools
import sys

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd

from .. import leakage
from ..constants import GROUP_COLUMN, LABEL_COLUMN, MAX_CATEGORY_LEVELS, RESERVED_COLUMNS, SPLITS
from . import column_statistics

MISSING = "\x00missing"
HASH, OWNER, SPLIT_CODE = "__hash__", "__owner__", "__split__"
PAIR, TWINS, COMMON = "pair", "twins", "common"


def _counts_auc(values: np.ndarray, positives: np.ndarray, negatives: np.ndarray) -> float:
    """The AUC of scoring each row by `values` from the rows per value (ties counted half)."""
    order = np.argsort(values, kind="mergesort")
    pos, neg = positives[order], negatives[order]
    below = np.cumsum(neg) - neg
    return float(((below + neg / 2) * pos).sum() / (pos.sum() * neg.sum()))


def _keys(column: pd.Series, numeric: bool) -> pd.Series:
    """A column's values as counted: missing below every number, or a level of its own."""
    return column.fillna(-np.inf) if numeric else column.astype(object).where(column.notnull(), MISSING)


def _table_auc(table: pd.DataFrame, numeric: bool) -> tuple[float, str]:
    """`leakage.feature_auc` from a feature's train rows per value and label (columns 0 and 1)."""
    candidates = []
    if numeric:
        candidates.append((_counts_auc(table.index.to_numpy(dtype=float), table[1].to_numpy(), table[0].to_numpy()),
                           "value"))
    distinct = len(table) - int(numeric and bool(np.isneginf(table.index.to_numpy(dtype=float)).any()))
    if not numeric or distinct <= MAX_CATEGORY_LEVELS:
        rows = table[0] + table[1]
        rare = rows < leakage.MIN_LEVEL_ROWS
        levels = pd.concat([table[~rare], table[rare].sum().to_frame().T]) if rare.any() else table
        rates = (levels[1] / (levels[0] + levels[1])).to_numpy()
        candidates.append((_counts_auc(rates, levels[1].to_numpy(), levels[0].to_numpy()), "level label rates"))
    return max(candidates, key=lambda c: abs(c[0] - 0.5))


def feature_auc(train: dd.DataFrame, name: str) -> tuple[float, str]:
    """`leakage.feature_auc` of one column of a Dask train split, from all its (value, label) counts."""
    numeric = {name: pd.api.types.is_numeric_dtype(train._meta[name])}
    # The one-pass counting of `feature_aucs` with no limit on the values that come back.
    unlimited = sys.maxsize
    tables = column_statistics.reduce_partitions(train[[name, LABEL_COLUMN]], _tables,
                                                 functools.partial(_merge_tables, limit=unlimited), numeric, unlimited)
    return _table_auc(tables[name], numeric[name])


# --- every feature in one pass ------------------------------------------------------------------
# A feature with at most TABLE_LIMIT distinct values is counted per (value, label) exactly. A
# number with more (a lab value, a timestamp) cannot come back whole: the pass keeps a sample
# of its values instead, a second pass counts its rows per label in bins cut at the sample's
# quantiles, and the bins bound its AUC (pairs of rows in one bin are in unknown order). Only
# a feature whose bound reaches the warning separation is counted exactly, alone.
TABLE_LIMIT = 10_000
SAMPLE_SIZE = 20_000
BINS = 2_048


def _count(values: pd.Series, labels: np.ndarray) -> pd.DataFrame:
    counts = pd.DataFrame({"value": values.to_numpy(), "label": labels}).groupby(["value", "label"]).size()
    return counts.unstack(fill_value=0).reindex(columns=[0, 1], fill_value=0)


def _sample(values: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """At most SAMPLE_SIZE of the values (seeded), drawn by weight when the values are counted."""
    if not len(values) or (weights is None and len(values) <= SAMPLE_SIZE):
        return values
    rng = np.random.default_rng(0)
    if weights is None:
        return rng.choice(values, SAMPLE_SIZE, replace=False)
    return rng.choice(values, SAMPLE_SIZE, p=weights / weights.sum())


def _tables(partition: pd.DataFrame, numeric: dict[str, bool], limit: int) -> dict:
    """Per feature: its rows per (value, label), or past `limit` values a sample (numbers) or None."""
    labels = partition[LABEL_COLUMN].to_numpy()
    out = {}
    for name, is_numeric in numeric.items():
        values = _keys(partition[name], is_numeric)
        table = _count(values, labels)
        if len(table) <= limit:
            out[name] = table
        else:
            finite = values.to_numpy(dtype=float) if is_numeric else None
            out[name] = _sample(finite[np.isfinite(finite)]) if is_numeric else None
    return out


def _merge_tables(*parts: dict, limit: int) -> dict:
    merged = {}
    for name in parts[0]:
        pieces = [part[name] for part in parts]
        if any(piece is None for piece in pieces):
            merged[name] = None
        elif (all(isinstance(piece, pd.DataFrame) for piece in pieces)
              and len(table := pd.concat(pieces).groupby(level=0).sum()) <= limit):
            merged[name] = table
        else:
            merged[name] = _merged_sample(pieces)
    return merged


def _merged_sample(pieces: list) -> np.ndarray | None:
    """A sample of the numbers of counted tables and samples alike."""
    if not all(isinstance(p, np.ndarray) or pd.api.types.is_numeric_dtype(p.index) for p in pieces):
        return None
    drawn = []
    for piece in pieces:
        if isinstance(piece, np.ndarray):
            drawn.append(piece)
        else:
            finite = np.isfinite(piece.index.to_numpy(dtype=float))
            drawn.append(_sample(piece.index.to_numpy(dtype=float)[finite],
                                 (piece[0] + piece[1]).to_numpy(dtype=float)[finite]))
    return _sample(np.concatenate(drawn))


def _binned(partition: pd.DataFrame, edges: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per feature, its rows per label (rows 0, 1) in each bin: missing, then below, between and above the edges."""
    positive = partition[LABEL_COLUMN].to_numpy() == 1
    out = {}
    for name, cuts in edges.items():
        values = partition[name].to_numpy(dtype=float, na_value=np.nan)
        bins = np.where(np.isnan(values), 0, np.searchsorted(cuts, values, side="right") + 1)
        size = len(cuts) + 2
        out[name] = np.stack([np.bincount(bins[~positive], minlength=size),
                              np.bincount(bins[positive], minlength=size)])
    return out


def _sum_binned(*parts: dict) -> dict:
    return {name: sum(part[name] for part in parts) for name in parts[0]}


def auc_bounds(counts: np.ndarray) -> tuple[float, float]:
    """The range of a feature's AUC by value from its rows per label in ordered bins.

    Bin 0 holds the missing values, all equal (their pairs are ties, counted half); in any
    other bin the order of a positive and a negative row is unknown, so their pairs count
    from 0 to 1.
    """
    neg, pos = counts[0].astype(float), counts[1].astype(float)
    below = np.cumsum(neg) - neg
    low = (pos * below).sum() + pos[0] * neg[0] / 2
    unknown = (pos[1:] * neg[1:]).sum()
    pairs = pos.sum() * neg.sum()
    return low / pairs, (low + unknown) / pairs


def feature_aucs(train: dd.DataFrame, features: list[str],
                 limit: int = TABLE_LIMIT) -> dict[str, tuple[float, str] | tuple[float, float]]:
    """Every feature's single-feature AUC, or for a number with more than `limit` values the range it lies in.

    Returns:
        Per feature `(auc, scored_by)` as `leakage.feature_auc`, or `(low, high)` floats for
        a number too many-valued to count exactly, whose AUC is in that range; text with more
        than `limit` levels is left out.
    """
    numeric = {name: pd.api.types.is_numeric_dtype(train._meta[name]) for name in features}
    tables = column_statistics.reduce_partitions(train, _tables, functools.partial(_merge_tables, limit=limit),
                                                 numeric, limit)
    result = {name: _table_auc(table, numeric[name]) for name, table in tables.items()
              if isinstance(table, pd.DataFrame)}
    edges = {name: np.unique(np.quantile(sample, np.linspace(0, 1, BINS + 1)))
             for name, sample in tables.items() if isinstance(sample, np.ndarray) and len(sample)}
    if edges:
        for name, counts in column_statistics.reduce_partitions(train, _binned, _sum_binned, edges).items():
            result[name] = auc_bounds(counts)
    return result


def check_target_leakage(train: dd.DataFrame, allow_features: tuple[str, ...] = ()) -> dict:
    """`leakage.check_target_leakage` on a Dask train split: the same section, verdicts and errors.

    All features are scored in one or two passes (`feature_aucs`); a feature known only to
    lie in a range is counted exactly, alone, when that range reaches the warning separation,
    so every verdict and every recorded AUC is the pandas engine's.
    """
    labels = train[LABEL_COLUMN].value_counts().compute()
    features = [c for c in train.columns if c not in RESERVED_COLUMNS]
    two_classes = len(labels) == 2
    scored = feature_aucs(train, features) if two_classes else {}

    def auc_of(name: str) -> tuple[float, str]:
        if name not in scored:
            return feature_auc(train, name)
        first, second = scored[name]
        if isinstance(second, str):
            return first, second
        if max(second, 1 - first) < leakage.LEAK_WARN_SEPARATION:
            # Wherever the AUC lies in the range, the feature is neither flagged nor recorded.
            return (first + second) / 2, "value"
        return feature_auc(train, name)

    return leakage.judge_target_leakage(features, int(labels.sum()), two_classes, allow_features, auc_of)


def _hashes(partition: pd.DataFrame, code: int) -> pd.DataFrame:
    return pd.DataFrame({HASH: pd.util.hash_pandas_object(partition.drop(columns=list(RESERVED_COLUMNS)),
                                                          index=False).to_numpy(),
                         GROUP_COLUMN: partition[GROUP_COLUMN].to_numpy(),
                         SPLIT_CODE: np.full(len(partition), code, dtype="int8")})


def _pairs(partition: pd.DataFrame):
    """Each earlier/later pair of splits in a partition holding every row of its hashes.

    Yields:
        The pair's name, the number of distinct groups of the earlier split that have each
        later row's hash (NaN for none), the first of those groups, and the later rows.
    """
    by_split = dict(tuple(partition.groupby(SPLIT_CODE, sort=False)))
    for i, source in enumerate(SPLITS):
        if i not in by_split:
            continue
        owners = by_split[i].groupby(HASH)[GROUP_COLUMN]
        patients, first = owners.nunique(), owners.first()
        for j in range(i + 1, len(SPLITS)):
            if j in by_split:
                later = by_split[j]
                yield (f"{source}/{SPLITS[j]}", patients.reindex(later[HASH].to_numpy()).to_numpy(),
                       first.reindex(later[HASH].to_numpy()).to_numpy(), later)


def _pair_counts(partition: pd.DataFrame) -> pd.DataFrame:
    """Per pair, the later rows that one earlier patient has (`TWINS`) and that several have (`COMMON`)."""
    counts = [(pair, int((shared == 1).sum()), int((shared > 1).sum())) for pair, shared, _, _ in _pairs(partition)]
    return pd.DataFrame(counts, columns=[PAIR, TWINS, COMMON]).astype({PAIR: object, TWINS: "int64", COMMON: "int64"})


def _twin_groups(partition: pd.DataFrame, wanted: str) -> pd.DataFrame:
    """The distinct (later group, earlier patient) pairs of one pair's rows that one earlier patient has."""
    for pair, shared, first, later in _pairs(partition):
        if pair == wanted:
            twins = shared == 1
            return pd.DataFrame({GROUP_COLUMN: later[GROUP_COLUMN].to_numpy()[twins],
                                 OWNER: first[twins]}).drop_duplicates()
    return pd.DataFrame({GROUP_COLUMN: pd.Series(dtype=object), OWNER: pd.Series(dtype=object)})


def duplicates_across(splits: dict[str, dd.DataFrame], max_duplicate_share: float) -> dict:
    """`leakage.duplicates_across` on Dask splits: the same section, threshold and error.

    One shuffle brings every row of a hash, from all four splits, into one partition, where
    each pair of splits is judged as in `leakage`; only a few counts per partition come back
    (and, for a pair over the threshold, its matching groups).
    """
    meta = pd.DataFrame({HASH: pd.Series(dtype="uint64"), GROUP_COLUMN: pd.Series(dtype=object),
                         SPLIT_CODE: pd.Series(dtype="int8")})
    tagged = dd.concat([splits[name].map_partitions(_hashes, code, meta=meta) for code, name in enumerate(SPLITS)])
    by_hash = tagged.shuffle(on=HASH)
    counts_meta = pd.DataFrame({PAIR: pd.Series(dtype=object), TWINS: pd.Series(dtype="int64"),
                                COMMON: pd.Series(dtype="int64")})
    matched, sizes = dask.compute(by_hash.map_partitions(_pair_counts, meta=counts_meta).groupby(PAIR).sum(),
                                  tagged[SPLIT_CODE].value_counts())
    counts = {}
    for i, source in enumerate(SPLITS):
        for j in range(i + 1, len(SPLITS)):
            pair = f"{source}/{SPLITS[j]}"
            twins, common = (matched.loc[pair, TWINS], matched.loc[pair, COMMON]) if pair in matched.index else (0, 0)
            counts[pair] = (int(twins), int(common), int(sizes.get(j, 0)))

    def examples(source: str, target: str) -> tuple[int, list]:
        pairs = by_hash.map_partitions(_twin_groups, f"{source}/{target}",
                                       meta=_twin_groups(by_hash._meta, "")).drop_duplicates()
        count, shown = dask.compute(pairs.shape[0], pairs.head(leakage.EXAMPLES, npartitions=-1, compute=False))
        return int(count), [f"{target} {g!r} = {source} {o!r}" for g, o in zip(shown[GROUP_COLUMN], shown[OWNER])]

    return leakage.duplicates_section(counts, max_duplicate_share, examples)
