"""`leakage`'s two checks on Dask splits, with its own verdicts and messages.

Target leakage: a feature's single-feature AUC on train comes from its rows per (value,
label), counted on the workers; one feature's counts (at most one row per distinct value) come
back at a time, and the AUC is the pandas engine's (Mann-Whitney, ties counted half, missing
below every value; levels scored by their positive rate, levels under `MIN_LEVEL_ROWS` rows
pooled). Re-identified patients: each split's rows are hashed as in `leakage` where they live and
shuffled by hash, so each pair of splits is judged per partition; only counts and the
examples of a breach come back.
"""

from __future__ import annotations

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd

from .. import leakage
from ..constants import GROUP_COLUMN, LABEL_COLUMN, MAX_CATEGORY_LEVELS, RESERVED_COLUMNS, SPLITS

MISSING = "\x00missing"
HASH, OWNER, SPLIT_CODE = "__hash__", "__owner__", "__split__"
PAIR, TWINS, COMMON = "pair", "twins", "common"


def _counts_auc(values: np.ndarray, positives: np.ndarray, negatives: np.ndarray) -> float:
    """The AUC of scoring each row by `values` from the rows per value (ties counted half)."""
    order = np.argsort(values, kind="mergesort")
    pos, neg = positives[order], negatives[order]
    below = np.cumsum(neg) - neg
    return float(((below + neg / 2) * pos).sum() / (pos.sum() * neg.sum()))


def feature_auc(train: dd.DataFrame, name: str) -> tuple[float, str]:
    """`leakage.feature_auc` of one column of a Dask train split."""
    column = train[name]
    numeric = pd.api.types.is_numeric_dtype(train._meta[name])
    values = column.fillna(-np.inf) if numeric else column.astype(object).where(column.notnull(), MISSING)
    counts = train.assign(value=values)[["value", LABEL_COLUMN]].groupby(["value", LABEL_COLUMN]).size().compute()
    table = counts.unstack(fill_value=0).reindex(columns=[0, 1], fill_value=0)
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


def check_target_leakage(train: dd.DataFrame, allow_features: tuple[str, ...] = ()) -> dict:
    """`leakage.check_target_leakage` on a Dask train split: the same section, verdicts and errors."""
    labels = train[LABEL_COLUMN].value_counts().compute()
    features = [c for c in train.columns if c not in RESERVED_COLUMNS]
    return leakage.judge_target_leakage(features, int(labels.sum()), len(labels) == 2, allow_features,
                                        lambda name: feature_auc(train, name))


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
