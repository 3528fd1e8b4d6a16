"""A raw Dask table in sealtrain's terms: its label, its identifier columns, its canonical form.

`schema.prepare` decides on the whole table at once (which label value is positive, which
columns are identifiers and so never features); a partition alone could decide otherwise (a
partition with one label value, a column distinct within a partition only). So those
decisions are made here from statistics of the whole frame, and only then is every partition
put in canonical form with them fixed.

Identifier columns: the rules of `identifiers.classify` that rest on counts and order (too few
levels, named like an identifier, text distinct on every row, whole numbers that number the
rows) are exact here; the values-based entity-key rule (rows sharing a value agree on other
columns) is not run on Dask, which is why the Dask engine needs `--group` or `--no-group`
(`ENTITY_RULE_NOTE`), the two cases in which that rule only ever warns.
"""

from __future__ import annotations

from dataclasses import dataclass

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd

from .. import identifiers, schema
from ..constants import GROUP_COLUMN, LABEL_COLUMN
from ..errors import InvalidInputError

ENTITY_RULE_NOTE = ("the values-based entity-key rule (rows sharing a value agree on other columns) does not run on "
                    "the dask engine; identifiers were found by name, levels and row order")


def _whole_column(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)


def _column_summary(partition: pd.DataFrame, columns: list[str]) -> dict:
    """Per column: present values, whether all are whole, the first and last and whether they count up by one."""
    out = {}
    for name in columns:
        present = partition[name].dropna()
        whole = identifiers._whole_numbers(present) if _whole_column(present) else None
        steps = whole is not None and (len(whole) < 2 or bool((np.diff(whole) == 1).all()))
        out[name] = (len(present), whole is not None,
                     int(whole[0]) if whole is not None and len(whole) else None,
                     int(whole[-1]) if whole is not None and len(whole) else None, steps)
    return out


@dataclass(frozen=True)
class _Profile:
    rows: int
    whole: bool
    text: bool
    levels: int
    counts_rows: bool
    first: int | None
    last: int | None


def find_identifiers(frame: dd.DataFrame, columns: list[str]) -> list[identifiers.Identifier]:
    """The identifiers among `columns`, by `identifiers.classify`'s rules except the values-based entity rule."""
    meta = frame._meta
    candidates = [c for c in columns if _whole_column(meta[c]) or not pd.api.types.is_bool_dtype(meta[c])]
    if not candidates:
        return []
    # Two computes: one of Delayed objects and frame expressions together misplaced results in dask 2026.8.
    summaries = dask.compute(*[dask.delayed(_column_summary)(part, candidates) for part in frame.to_delayed()])
    levels = dask.compute({c: frame[c].dropna().nunique() for c in candidates})[0]
    found = []
    for name in candidates:
        parts = [s[name] for s in summaries if s[name][0]]
        rows = sum(p[0] for p in parts)
        whole = _whole_column(meta[name]) and all(p[1] for p in parts)
        is_text = not _whole_column(meta[name])
        if not rows or not (whole or is_text):
            continue
        chained = whole and all(p[4] for p in parts) and all(b[2] == a[3] + 1 for a, b in zip(parts, parts[1:]))
        profile = _Profile(rows, whole, is_text, int(levels[name]), chained and parts[0][2] in (0, 1),
                           parts[0][2] if whole else None, parts[-1][3] if whole else None)
        identifier = _classify(name, profile)
        if identifier is not None:
            found.append(identifier)
    return found


def _classify(name: str, p: _Profile) -> identifiers.Identifier | None:
    if p.levels < identifiers.MIN_IDENTIFIER_LEVELS:
        return None
    counted = f"{p.levels} distinct values in {p.rows} rows"
    if p.levels == p.rows:
        if identifiers.named_like_identifier(name):
            return identifiers.Identifier(name, identifiers.RECORD_KEY, f"named like an identifier, {counted}")
        if p.text:
            return identifiers.Identifier(name, identifiers.RECORD_KEY,
                                          f"text with a distinct value on every row ({counted})")
        if p.counts_rows:
            return identifiers.Identifier(name, identifiers.RECORD_KEY, f"numbers the rows {p.first}..{p.last}")
        return None
    if identifiers.named_like_identifier(name):
        return identifiers.Identifier(name, identifiers.ENTITY_KEY, f"named like an identifier, {counted}")
    return None


def require_group_decision(spec: schema.DatasetSpec) -> None:
    """Refuses a Dask run with neither a group nor `no_group` (see the module docstring).

    Raises:
        InvalidInputError: Neither is given.
    """
    if not (spec.group or spec.no_group):
        raise InvalidInputError("--engine dask needs --group COL (or --no-group if rows are independent): finding "
                                "an unnamed patient column by its values has no Dask version yet")


def label_counts(frame: dd.DataFrame, spec: schema.DatasetSpec) -> pd.Series:
    """Rows per label value as text (missing values under NaN), in one distributed pass."""
    return frame[spec.label].map_partitions(_as_text, meta=pd.Series(dtype=object)).value_counts(dropna=False).compute()


def _as_text(values: pd.Series) -> pd.Series:
    return values.astype(object).where(values.isna(), values.astype(str)).where(values.notna(), np.nan)


def positive_of(counts: pd.Series, spec: schema.DatasetSpec) -> str:
    """`schema.positive_label` of the whole label column, from its value counts.

    Raises:
        InvalidInputError: As `schema.positive_label`.
    """
    missing = int(counts[counts.index.isna()].sum())
    if missing:
        raise InvalidInputError(f"label column {spec.label!r} has {missing} missing values")
    return schema.positive_label(pd.Series(counts.index.to_numpy(dtype=object)), spec)


@dataclass(frozen=True)
class Canonical:
    """A Dask table in canonical form and the decisions behind it.

    Attributes:
        frame: Coerced features, `__label__` 0/1 and `__group__`, partitioned as the raw table.
        positive: The positive label value.
        features: The feature columns.
    """

    frame: dd.DataFrame
    positive: str
    features: list[str]


def prepare(raw: dd.DataFrame, spec: schema.DatasetSpec, source: str) -> Canonical:
    """`schema.prepare` on a Dask table: the whole-table decisions first, then each partition.

    Raises:
        InvalidInputError: As `schema.prepare`, and without a group or `no_group`.
    """
    require_group_decision(spec)
    schema.require_columns(raw._meta, spec, source)
    positive = positive_of(label_counts(raw, spec), spec)
    record_keys = {i.column for i in find_identifiers(raw, spec.candidate_columns(raw._meta))
                   if i.kind == identifiers.RECORD_KEY}
    features = [c for c in spec.candidate_columns(raw._meta) if c not in record_keys]
    if not features:
        raise InvalidInputError(f"{source}: no feature columns left after label, group and drop")
    frame = raw.map_partitions(_canonical, spec, positive, features, meta=_canonical(raw._meta, spec, positive,
                                                                                       features))
    return Canonical(frame, positive, features)


def _canonical(partition: pd.DataFrame, spec: schema.DatasetSpec, positive: str, features: list[str]) -> pd.DataFrame:
    prepared = schema.coerce_features(partition[features])
    prepared[LABEL_COLUMN] = (partition[spec.label].astype(str) == positive).to_numpy(dtype=np.int8)
    if spec.group:
        keys = partition[spec.group]
        if keys.isna().any():
            raise InvalidInputError(f"group column {spec.group!r} has missing ids")
        prepared[GROUP_COLUMN] = keys.astype(str).to_numpy()
    else:
        hashed = pd.util.hash_pandas_object(partition[[*features, spec.label]], index=False)
        prepared[GROUP_COLUMN] = hashed.map("{:016x}".format).to_numpy()
    return prepared
