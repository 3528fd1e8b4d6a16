"""A raw Dask table in sealtrain's terms: its label, its identifier columns, its canonical form.

`schema.prepare` decides on the whole table at once (which label value is positive, which
columns are identifiers and so never features); a partition alone could decide otherwise (a
partition with one label value, a column distinct within a partition only). So those
decisions are made here from statistics of the whole frame (`column_profiles`: one pass, and
an exact count of levels only for a column whose verdict needs it), and only then is every
partition put in canonical form with them fixed.

Identifier columns: `identifiers.classify`'s verdicts. The rules that rest on counts and order
(too few levels, named like an identifier, text distinct on every row, whole numbers that
number the rows) come from the profiles; the values-based entity-key rule (rows sharing a
value agree on other columns) is `distributed.identifiers.entity_key`, run on a column only
when its profile leaves it possible (at least half its rows could carry a distinct value).
"""

from __future__ import annotations

from dataclasses import dataclass

import dask.dataframe as dd
import numpy as np
import pandas as pd

from .. import identifiers, schema
from ..constants import GROUP_COLUMN, LABEL_COLUMN
from ..errors import InvalidInputError
from . import column_profiles
from . import identifiers as dask_identifiers
from .column_statistics import reduce_partitions


def find_identifiers(frame: dd.DataFrame, columns: list[str], profiles: column_profiles.TableProfile | None = None,
                     entity_rule: bool = True) -> list[identifiers.Identifier]:
    """The identifiers among `columns`, in column order, by `identifiers.classify`'s rules.

    Args:
        frame: The raw table.
        columns: The candidate columns.
        profiles: `column_profiles.profile` of the table's columns, when the caller has it.
        entity_rule: Whether to run the values-based entity-key rule; without it an unnamed
            entity key goes unfound (what `schema.prepare` may skip with a group or `no_group`,
            where such a key neither blocks the run nor changes the features).
    """
    meta = frame._meta
    candidates = [c for c in columns if not pd.api.types.is_bool_dtype(meta[c])]
    if not candidates:
        return []
    profiles = profiles or column_profiles.profile(frame, candidates)
    present = {c: profiles.columns[c] for c in candidates if profiles.columns[c].rows}
    usable = {c: p for c, p in present.items() if p.whole or not column_profiles.is_number(meta[c])}
    exact = column_profiles.exact_levels(frame, [c for c, p in usable.items()
                                                 if _needs_exact_levels(c, p, entity_rule)])
    found = []
    for name, p in usable.items():
        levels, is_text = exact.get(name, p.levels), not column_profiles.is_number(meta[name])
        identifier = _classify(name, p, levels, is_text)
        # `_classify` left it to the entity rule: unnamed, enough levels, some of them repeated.
        repeated = levels is not None and identifiers.MIN_IDENTIFIER_LEVELS <= levels < p.rows
        if identifier is None and entity_rule and repeated and not identifiers.named_like_identifier(name):
            identifier = dask_identifiers.entity_key(frame, name, levels, p.rows, is_text)
        if identifier is not None:
            found.append(identifier)
    return found


def _needs_exact_levels(name: str, p: column_profiles.ColumnProfile, entity_rule: bool) -> bool:
    """Whether the verdict on a column with more than `DISTINCT_CAP` values needs their exact number."""
    if p.levels is not None:
        return False
    # Named like an identifier: the reason counts them; text distinct within every partition may be a record key.
    if identifiers.named_like_identifier(name) or (not p.whole and p.partitions_distinct):
        return True
    # The entity rule needs half the rows distinct; the partitions' distinct counts summed bound the column's.
    return entity_rule and not p.counts_rows and p.local_levels >= identifiers.ENTITY_DISTINCT_SHARE * p.rows


def _classify(name: str, p: column_profiles.ColumnProfile, levels: int | None,
              is_text: bool) -> identifiers.Identifier | None:
    """`identifiers.classify` but the entity rule; `levels` None: above the cap and not needed exactly."""
    if levels is None:
        # Unnamed, and either whole numbers or text with a value repeated in a partition (levels < rows).
        return identifiers.Identifier(name, identifiers.RECORD_KEY,
                                      f"numbers the rows {p.first}..{p.last}") if p.counts_rows else None
    if levels < identifiers.MIN_IDENTIFIER_LEVELS:
        return None
    counted = f"{levels} distinct values in {p.rows} rows"
    if levels == p.rows:
        if identifiers.named_like_identifier(name):
            return identifiers.Identifier(name, identifiers.RECORD_KEY, f"named like an identifier, {counted}")
        if is_text:
            return identifiers.Identifier(name, identifiers.RECORD_KEY,
                                          f"text with a distinct value on every row ({counted})")
        if p.counts_rows:
            return identifiers.Identifier(name, identifiers.RECORD_KEY, f"numbers the rows {p.first}..{p.last}")
        return None
    if identifiers.named_like_identifier(name):
        return identifiers.Identifier(name, identifiers.ENTITY_KEY, f"named like an identifier, {counted}")
    return None


def label_counts(frame: dd.DataFrame, spec: schema.DatasetSpec) -> pd.Series:
    """Rows per label value as text (missing values under NaN), in one distributed pass (no shuffle)."""
    return reduce_partitions(frame[[spec.label]], _label_counts, _added, spec.label)


def _label_counts(partition: pd.DataFrame, label: str) -> pd.Series:
    return _as_text(partition[label]).value_counts(dropna=False)


def _added(*counts: pd.Series) -> pd.Series:
    return pd.concat(counts).groupby(level=0, dropna=False).sum()


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
        InvalidInputError: As `schema.prepare`.
    """
    schema.require_columns(raw._meta, spec, source)
    positive = positive_of(label_counts(raw, spec), spec)
    # As in pandas, an unnamed entity key matters only without a group or `no_group`: then it blocks the run.
    found = find_identifiers(raw, spec.candidate_columns(raw._meta), entity_rule=not (spec.group or spec.no_group))
    problem = schema.blocking_identifiers(found, spec)
    if problem:
        raise InvalidInputError(f"{source}: {problem}")
    record_keys = {i.column for i in found if i.kind == identifiers.RECORD_KEY}
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
