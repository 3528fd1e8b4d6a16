"""The QC report of a Dask table: `quality.compute_report`'s checks, from statistics computed on the workers.

Each check's verdict is `quality`'s own (`label_check`, `groups_check`, ...); only the
numbers behind it are computed here. Exact copies of a row are counted by a 64-bit hash of
each row (`pd.util.hash_pandas_object`) instead of comparing rows; identifier columns as
`frames.find_identifiers` finds them (its note is in the check's detail). The time column
is not checked: the Dask engine refuses a time-ordered split.
"""

from __future__ import annotations

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd

from .. import quality, schema
from ..constants import DEFAULT_RATIOS, GROUP_COLUMN, MAX_CATEGORY_LEVELS, QC_FAILED, QC_PASSED
from ..errors import InvalidInputError
from ..identifiers import RECORD_KEY
from . import frames


def _infinite(partition: pd.DataFrame, numeric: list[str]) -> pd.Series:
    return pd.Series({c: bool(np.isinf(partition[c].to_numpy(dtype=float)).any()) for c in numeric}, dtype=bool)


def _row_hashes(partition: pd.DataFrame) -> pd.Series:
    return pd.util.hash_pandas_object(partition, index=False)


def _any(*parts: pd.Series) -> pd.Series:
    return pd.concat(parts).groupby(level=0).any()


def compute_report(frame: dd.DataFrame, spec: schema.DatasetSpec,
                   ratios: dict[str, float] = DEFAULT_RATIOS) -> quality.QCReport:
    """Checks a raw Dask table against the dataset contract, as `quality.compute_report` does.

    Raises:
        InvalidInputError: Neither a group nor `no_group` was given (`frames.require_group_decision`).
    """
    frames.require_group_decision(spec)
    meta = frame._meta
    missing = spec.missing_columns(meta)
    if missing:
        detail = f"{', '.join(missing)} not found; the columns are {list(meta.columns)}"
        return quality.summarise([quality.QCCheck("required_columns", QC_FAILED, detail)])
    checks = [quality.QCCheck("required_columns", QC_PASSED, "label, group and drop columns present")]
    counts = frames.label_counts(frame, spec)
    try:
        positive = frames.positive_of(counts, spec)
        checks.append(quality.label_check(positive, float(counts.get(positive, 0) / counts.sum())))
    except InvalidInputError as exc:
        checks.append(quality.QCCheck("label_binary", QC_FAILED, str(exc)))
        positive = None
    found = frames.find_identifiers(frame, spec.candidate_columns(meta))
    record_keys = {i.column for i in found if i.kind == RECORD_KEY}
    features = [c for c in spec.candidate_columns(meta) if c not in record_keys]
    numeric = list(meta[features].select_dtypes(include=[np.number]).columns)
    categorical = [c for c in features if c not in numeric]
    row_hashes = frame.map_partitions(_row_hashes, meta=pd.Series(dtype="uint64"))
    group_present, group_count = 0, None
    if spec.group:
        group_present, group_count = frame[spec.group].count(), frame[spec.group].dropna().astype(str).nunique()
    elif positive is not None and features:
        # Without a group each distinct row is one (`schema.group_keys`): the keys are the canonical ones.
        group_count = frames.prepare(frame, spec, "data").frame[GROUP_COLUMN].nunique()
    stats = dask.compute({
        "rows": frame.shape[0],
        "missing": {c: frame[c].isna().sum() for c in features},
        "levels": {c: frame[c].dropna().nunique() for c in features},
        "copies": row_hashes.value_counts(),
        "group_present": group_present,
        "group_count": group_count,
    })[0]
    # Apart: one dask.compute of Delayed objects and frame expressions together misplaced results in dask 2026.8.
    infinite = dask.delayed(_any)(*[dask.delayed(_infinite)(part, numeric) for part in frame.to_delayed()]).compute()
    levels, group_count = stats["levels"], stats["group_count"]
    group_missing = stats["rows"] - stats["group_present"] if spec.group else 0
    needed = quality.min_groups_needed(ratios)
    if group_missing:
        checks.append(quality.QCCheck("groups", QC_FAILED, f"group column {spec.group!r} has {group_missing} "
                                                           "missing ids"))
    elif group_count is not None:
        checks.append(quality.groups_check(int(group_count), spec, needed))
    checks.append(quality.identifiers_check(found, spec, frames.ENTITY_RULE_NOTE))
    if not features:
        checks.append(quality.QCCheck("features", QC_FAILED, "no feature columns left after label, group and drop"))
    else:
        checks.extend(quality.feature_checks(
            pd.Series(stats["missing"], dtype=float) / stats["rows"],
            [c for c in features if levels[c] == 1],
            [c for c in numeric if infinite.get(c, False)],
            [c for c in categorical if levels[c] > MAX_CATEGORY_LEVELS],
        ))
    checks.append(quality.duplicates_check(int((stats["copies"] - 1).sum())))
    return quality.summarise(checks)
