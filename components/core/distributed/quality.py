"""The QC report of a Dask table: `quality.compute_report`'s checks, from statistics computed on the workers.

Each check's verdict is `quality`'s own (`label_check`, `groups_check`, ...); only the
numbers behind it are computed here, in few passes whatever the number of columns: the label's
value counts, the columns' profiles (`column_profiles`, shared with `frames.find_identifiers`),
and one shuffle that counts distinct group keys and distinct rows together. Exact copies of a
row are counted by a 64-bit hash of each row (`pd.util.hash_pandas_object`) instead of
comparing rows. The time column is parsed partition by partition as one pandas column would be
(`identifiers.dates`); only a time column that does not parse is gathered here, for pandas'
own message.
"""

from __future__ import annotations

import dask.dataframe as dd
import numpy as np
import pandas as pd

from .. import quality, schema
from ..constants import DEFAULT_RATIOS, MAX_CATEGORY_LEVELS, QC_FAILED, QC_PASSED
from ..errors import InvalidInputError
from ..identifiers import RECORD_KEY
from . import column_profiles, frames
from . import identifiers as dask_identifiers

# The columns of the per-row keys whose distinct values are counted after one shuffle.
_ROW, _KEY = "row", "key"


def _keys(partition: pd.DataFrame, group: str, hashed: list[str]) -> pd.DataFrame:
    """Per row: a hash of the whole row, and its group key (the group's text, else a hash of `hashed`)."""
    keys = pd.DataFrame({_ROW: pd.util.hash_pandas_object(partition, index=False).to_numpy()}, index=partition.index)
    if group:
        values = partition[group]
        # str() of an integer is the integer, one to one; other values are counted as the text they split by.
        keys[_KEY] = values if pd.api.types.is_integer_dtype(values) else values.astype(str)
    else:
        keys[_KEY] = pd.util.hash_pandas_object(partition[hashed], index=False).to_numpy()
    return keys


def _distinct(partition: pd.DataFrame) -> pd.DataFrame:
    return partition.nunique().to_frame().T


def distinct_counts(frame: dd.DataFrame, group: str, hashed: list[str]) -> dict[str, int]:
    """Distinct rows (by `_keys`' row hash) and distinct group keys, after one shuffle.

    The rows are shuffled by their group key, so every key's rows meet in one partition; so do
    exact copies of a row, whose group keys are equal, and each partition's distinct counts add
    up to the table's.
    """
    keys = frame.map_partitions(_keys, group, hashed, meta=_keys(frame._meta, group, hashed))
    counts = keys.shuffle(on=_KEY).map_partitions(_distinct, meta=_distinct(keys._meta).astype("int64")).sum()
    return {k: int(v) for k, v in counts.compute().items()}


def time_check(frame: dd.DataFrame, spec: schema.DatasetSpec, missing: int) -> quality.QCCheck:
    """The `time_column` check of `quality.compute_report` (`schema.time_order`), from the column's missing values."""
    try:
        if missing:
            raise InvalidInputError(f"time column {spec.time!r} has {missing} missing values")
        if not (pd.api.types.is_numeric_dtype(frame._meta[spec.time]) or dask_identifiers.dates(frame[spec.time])):
            # pandas' own message, from the column gathered here: only a column that does not parse is.
            schema.time_order(frame[[spec.time]].compute(), spec)
    except InvalidInputError as exc:
        return quality.QCCheck("time_column", QC_FAILED, str(exc))
    return quality.QCCheck("time_column", QC_PASSED, f"{spec.time!r} orders the rows")


def compute_report(frame: dd.DataFrame, spec: schema.DatasetSpec,
                   ratios: dict[str, float] = DEFAULT_RATIOS) -> quality.QCReport:
    """Checks a raw Dask table against the dataset contract, as `quality.compute_report` does.

    """
    meta = frame._meta
    missing = spec.missing_columns(meta)
    if missing:
        detail = f"{', '.join(missing)} not found; the columns are {list(meta.columns)}"
        return quality.summarise([quality.QCCheck("required_columns", QC_FAILED, detail)])
    checks = [quality.QCCheck("required_columns", QC_PASSED, "label, group and drop columns present")]
    counts = frames.label_counts(frame, spec)
    try:
        positive = frames.positive_of(counts, spec)
    except InvalidInputError as exc:
        checks.append(quality.QCCheck("label_binary", QC_FAILED, str(exc)))
    else:
        checks.append(quality.label_check(positive, float(counts.get(positive, 0) / counts.sum())))
    candidates = spec.candidate_columns(meta)
    profiles = column_profiles.profile(frame, [*candidates, *filter(None, [spec.group, spec.time])])
    found = frames.find_identifiers(frame, candidates, profiles)
    record_keys = {i.column for i in found if i.kind == RECORD_KEY}
    features = [c for c in candidates if c not in record_keys]
    numeric = list(meta[features].select_dtypes(include=[np.number]).columns)
    categorical = [c for c in features if c not in numeric]
    # Without a group each distinct row is one (`schema.group_keys`): the hash of its features and label.
    hashed = [] if spec.group else [*features, spec.label]
    distinct = distinct_counts(frame, spec.group, hashed)
    rows, columns = profiles.rows, profiles.columns
    group_missing = columns[spec.group].missing if spec.group else 0
    needed = quality.min_groups_needed(ratios)
    if group_missing:
        checks.append(quality.QCCheck("groups", QC_FAILED, f"group column {spec.group!r} has {group_missing} "
                                                           "missing ids"))
    else:
        checks.append(quality.groups_check(distinct[_KEY], spec, needed))
    checks.append(quality.identifiers_check(found, spec))
    if spec.time:
        checks.append(time_check(frame, spec, columns[spec.time].missing))
    if not features:
        checks.append(quality.QCCheck("features", QC_FAILED, "no feature columns left after label, group and drop"))
    else:
        levels = {c: columns[c].levels for c in features}
        checks.extend(quality.feature_checks(
            pd.Series({c: columns[c].missing for c in features}, dtype=float) / rows,
            [c for c in features if levels[c] == 1],
            [c for c in numeric if columns[c].infinite],
            # None: more than DISTINCT_CAP levels.
            [c for c in categorical if levels[c] is None or levels[c] > MAX_CATEGORY_LEVELS],
        ))
    checks.append(quality.duplicates_check(rows - distinct[_ROW]))
    return quality.summarise(checks)
