"""The preprocessing fit on a Dask train split: the pandas engine's `Preprocessor`, from statistics.

The fitted state of `preprocessing.fit_preprocessor` depends on the train split only through
per-column statistics: which columns are empty or constant, the level set of each categorical
(and, for one with `MAX_CATEGORY_LEVELS` levels or more, which levels are its most frequent),
and the median, mean and variance of each numeric column after median imputation. Those are
computed on the workers (`column_statistics`: one pass, plus the exact median passes). The
pandas fit itself then runs on a skeleton table of a few rows per level that has the same
empty and constant columns, the same levels and the same most frequent levels, so the column
choices, warnings and encoder are the pandas engine's own; last, the numeric imputer's and
scaler's statistics are set from the distributed ones.
"""

from __future__ import annotations

import dask.dataframe as dd
import numpy as np
import pandas as pd

from .. import preprocessing
from ..constants import MAX_CATEGORY_LEVELS, RESERVED_COLUMNS
from .column_statistics import COLLECT_LIMIT, ColumnStatistics, Moments, column_statistics, exact_medians, feature_kinds


def fit_preprocessor(train: dd.DataFrame, train_fingerprint: str,
                     collect_limit: int = COLLECT_LIMIT) -> preprocessing.Preprocessor:
    """Fits the preprocessing on a Dask train split, as `preprocessing.fit_preprocessor` on the whole table.

    Args:
        train: The canonical train split.
        train_fingerprint: Its content fingerprint, recorded in the preprocessor.
        collect_limit: The most values of one column a median pass sends to this process.

    Raises:
        InvalidInputError: No usable feature is left.
    """
    features = [c for c in train.columns if c not in RESERVED_COLUMNS]
    numeric, other = feature_kinds(train, features)
    stats = column_statistics(train, numeric, other)
    fitted = preprocessing.fit_preprocessor(_skeleton(stats, features), train_fingerprint)
    if fitted.numeric:
        moments = {c: stats.numeric[c] for c in fitted.numeric}
        medians = exact_medians(train, moments, collect_limit)
        _set_numeric_statistics(fitted, stats.rows, moments, medians)
    return fitted


def frequent_levels(counts: pd.Series) -> set:
    """The levels the one-hot encoder keeps apart; the others are pooled as infrequent.

    scikit-learn's rule for `max_categories` without `min_frequency`: with at least
    `MAX_CATEGORY_LEVELS` levels, the `MAX_CATEGORY_LEVELS - 1` largest counts after a stable
    sort of the counts in level order (so among equal counts, the later levels).

    Args:
        counts: Rows per level, as the encoder sees the column (missing values as the
            imputer's `MISSING_CATEGORY` level).
    """
    counts = counts.sort_index()
    if len(counts) < MAX_CATEGORY_LEVELS:
        return set(counts.index)
    order = np.argsort(counts.to_numpy(), kind="mergesort")
    return set(counts.index[order[-(MAX_CATEGORY_LEVELS - 1):]])


def _skeleton(stats: ColumnStatistics, features: list[str]) -> pd.DataFrame:
    """A small table on which the pandas fit makes the same choices as on the train split."""
    columns = {
        name: _numeric_skeleton(stats.numeric[name]) if name in stats.numeric
        else _level_skeleton(stats.levels[name], stats.missing[name])
        for name in features
    }
    length = max(2, *(len(v) for v in columns.values()))
    return pd.DataFrame({
        # The last value repeated: the most frequent level of a wide column stays the most frequent.
        name: pd.Series(values + [values[-1]] * (length - len(values)),
                        dtype="float64" if name in stats.numeric else object)
        for name, values in columns.items()
    })


def _numeric_skeleton(moments: Moments) -> list[float]:
    if not moments.count:
        return [np.nan]
    if moments.minimum == moments.maximum:
        return [0.0]
    # Any two values: the statistics are set from the real ones after the fit.
    return [0.0, 1.0]


def _level_skeleton(levels: pd.Series, missing: int) -> list:
    """Each level once, or twice if it is one of the encoder's frequent levels of a wide column.

    Twice against once reproduces the frequent set: the stable sort puts the levels seen once,
    the pooled ones, first, as it did with the real counts.
    """
    seen = levels.copy()
    if missing:
        seen[preprocessing.MISSING_CATEGORY] = seen.get(preprocessing.MISSING_CATEGORY, 0) + missing
    if len(seen) < MAX_CATEGORY_LEVELS:
        repeats = pd.Series(1, index=seen.index)
    else:
        frequent = frequent_levels(seen)
        repeats = pd.Series([2 if level in frequent else 1 for level in seen.index], index=seen.index)
    repeats = repeats.sort_index()
    values = [np.nan if level == preprocessing.MISSING_CATEGORY else level for level in repeats.index]
    # The most frequent level goes last, where padding adds its rows.
    order = np.argsort(repeats.to_numpy(), kind="mergesort")
    return [values[i] for i in order for _ in range(repeats.iloc[i])] or [np.nan]


def _set_numeric_statistics(fitted: preprocessing.Preprocessor, rows: int, moments: dict[str, Moments],
                            medians: dict[str, float]) -> None:
    """Sets the median imputer's and the scaler's fitted statistics to the train split's.

    The scaler is fitted on the imputed column: the non-missing values plus one copy of the
    median per missing value, so those copies join the moments as a set with no spread.
    """
    pipeline = fitted.transformer.named_transformers_["num"]
    imputed = [moments[c].merge(Moments(rows - moments[c].count, medians[c], 0.0, medians[c], medians[c]))
               for c in fitted.numeric]
    pipeline.named_steps["impute"].statistics_ = np.array([medians[c] for c in fitted.numeric])
    scaler = pipeline.named_steps["scale"]
    scaler.mean_ = np.array([m.mean for m in imputed])
    scaler.var_ = np.array([m.m2 / rows for m in imputed])
    # Constant train columns were dropped, so no variance is zero (which the scaler would map to 1).
    scaler.scale_ = np.sqrt(scaler.var_)
    # In the type the installed scikit-learn gives it (an int in some versions, a float in others).
    scaler.n_samples_seen_ = type(scaler.n_samples_seen_)(rows)
