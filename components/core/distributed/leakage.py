"""`leakage`'s two checks on Dask splits, with its own verdicts and messages.

Target leakage: a feature's single-feature AUC on train comes from its rows per (value,
label), counted on the workers; one feature's counts (at most one row per distinct value) come
back at a time, and the AUC is the pandas engine's (Mann-Whitney, ties counted half, missing
below every value; levels scored by their positive rate, levels under `MIN_LEVEL_ROWS` rows
pooled). Re-identified patients: each split's rows are hashed as in `leakage` where they live,
the owners of each hash counted per earlier split, and the later split's hashes joined to
them on the workers; only counts and the examples of a breach come back.
"""

from __future__ import annotations

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd

from .. import leakage
from ..constants import GROUP_COLUMN, LABEL_COLUMN, MAX_CATEGORY_LEVELS, RESERVED_COLUMNS, SPLITS

MISSING = "\x00missing"
HASH, OWNERS, OWNER = "__hash__", "__owners__", "__owner__"


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


def _hashes(partition: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({HASH: pd.util.hash_pandas_object(partition.drop(columns=list(RESERVED_COLUMNS)),
                                                          index=False).to_numpy(),
                         GROUP_COLUMN: partition[GROUP_COLUMN].to_numpy()})


def duplicates_across(splits: dict[str, dd.DataFrame], max_duplicate_share: float) -> dict:
    """`leakage.duplicates_across` on Dask splits: the same section, threshold and error."""
    meta = pd.DataFrame({HASH: pd.Series(dtype="uint64"), GROUP_COLUMN: pd.Series(dtype=object)})
    hashed = {name: splits[name].map_partitions(_hashes, meta=meta) for name in SPLITS}
    owners = {}
    for name in SPLITS[:-1]:
        by_hash = hashed[name].groupby(HASH)[GROUP_COLUMN]
        owners[name] = by_hash.nunique().to_frame(OWNERS).merge(by_hash.first().to_frame(OWNER), left_index=True,
                                                                right_index=True)
    matches = {}
    for i, source in enumerate(SPLITS):
        for target in SPLITS[i + 1:]:
            joined = hashed[target].merge(owners[source], left_on=HASH, right_index=True, how="left")
            matches[(source, target)] = joined
    totals = dask.compute({f"{s}/{t}": (j[OWNERS].eq(1).sum(), j[OWNERS].gt(1).sum(), j.shape[0])
                           for (s, t), j in matches.items()})[0]

    def examples(source: str, target: str) -> tuple[int, list]:
        joined = matches[(source, target)]
        pairs = joined[joined[OWNERS].eq(1)][[GROUP_COLUMN, OWNER]].drop_duplicates()
        count, shown = dask.compute(pairs.shape[0], pairs.head(leakage.EXAMPLES, npartitions=-1, compute=False))
        return int(count), [f"{target} {g!r} = {source} {o!r}" for g, o in zip(shown[GROUP_COLUMN], shown[OWNER])]

    return leakage.duplicates_section(
        {pair: (int(t[0]), int(t[1]), int(t[2])) for pair, t in totals.items()}, max_duplicate_share, examples)
