"""What the identifier rules and the QC checks need to know of each raw column, in one pass over a Dask table.

Each partition is summarised where it lives and the summaries are merged in partition order
on the workers (`column_statistics.reduce_partitions`): per column, its present and missing
values, its distinct values up to `DISTINCT_CAP` (past it only "more"), whether every
partition's values are distinct and how many distinct values the partitions hold together
(an upper bound of the column's), and for numbers whether all are whole, the first and last
and whether they count up by one in row order, and whether one is infinite.

The cap lies just above every threshold a verdict compares a number of levels with
(`MAX_CATEGORY_LEVELS`, `identifiers.MIN_IDENTIFIER_LEVELS`), so a verdict that needs an
exact count above it (an identifier's reason, a record key of text, the entity-key rule)
asks for that column's count alone (`exact_levels`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd

from .. import identifiers
from ..constants import MAX_CATEGORY_LEVELS
from .column_statistics import reduce_partitions

DISTINCT_CAP = max(MAX_CATEGORY_LEVELS, identifiers.MIN_IDENTIFIER_LEVELS) + 1


def is_number(dtype: object) -> bool:
    """Numbers that can be whole (a bool is neither a number nor text here)."""
    return pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)


@dataclass(frozen=True)
class ColumnProfile:
    """One column's counts, over the partitions merged so far.

    A number column with a fraction in some partition is never an identifier nor a category,
    so of its levels only whether there is one (a constant) is kept: its `distinct` is None
    past one value, and its `local_levels` and `partitions_distinct` are not counted.

    Attributes:
        rows: Present (non-missing) values.
        missing: Missing values.
        distinct: Its distinct present values, or None past `DISTINCT_CAP`.
        local_levels: The partitions' distinct counts summed: at least the column's.
        partitions_distinct: No partition holds a present value twice.
        whole: A number column whose present values are all whole (False for text).
        first: The first whole value in row order (None without one).
        last: The last whole value in row order.
        steps: The whole values go up by exactly one from row to row.
        infinite: A number column holds an infinite value.
    """

    rows: int
    missing: int
    distinct: pd.Series | None
    local_levels: int
    partitions_distinct: bool
    whole: bool
    first: int | None
    last: int | None
    steps: bool
    infinite: bool

    @property
    def levels(self) -> int | None:
        """The exact number of distinct present values, or None above `DISTINCT_CAP` (fractions: above one)."""
        return None if self.distinct is None else len(self.distinct)

    @property
    def counts_rows(self) -> bool:
        """Whole numbers 0..n-1 or 1..n in row order (so distinct on every row)."""
        return self.whole and self.steps and self.first in (0, 1)

    def then(self, later: "ColumnProfile") -> "ColumnProfile":
        """This column's profile followed by a later partition's rows."""
        if not later.rows or not self.rows:
            merged = later if not self.rows else self
            return replace(merged, missing=self.missing + later.missing)
        distinct = None
        if self.distinct is not None and later.distinct is not None:
            union = pd.Series(pd.concat([self.distinct, later.distinct], ignore_index=True).unique())
            distinct = union if len(union) <= DISTINCT_CAP else None
        whole = self.whole and later.whole
        return ColumnProfile(
            self.rows + later.rows, self.missing + later.missing, distinct, self.local_levels + later.local_levels,
            self.partitions_distinct and later.partitions_distinct, whole,
            self.first if whole else None, later.last if whole else None,
            whole and self.steps and later.steps and later.first == self.last + 1, self.infinite or later.infinite)


@dataclass(frozen=True)
class TableProfile:
    """A table's rows and its columns' profiles."""

    rows: int
    columns: dict[str, ColumnProfile]

    def then(self, later: "TableProfile") -> "TableProfile":
        return TableProfile(self.rows + later.rows, {c: p.then(later.columns[c]) for c, p in self.columns.items()})


def _column(values: pd.Series) -> ColumnProfile:
    present = values.dropna()
    number = is_number(values.dtype)
    whole = identifiers._whole_numbers(present) if number else None
    infinite = number and bool(np.isinf(present.to_numpy(dtype="float64")).any())
    if number and whole is None:
        # Fractions: never an identifier, so only "one value or more" matters (a constant), and min and max tell.
        constant = present.min() == present.max()
        return ColumnProfile(len(present), len(values) - len(present), present.iloc[:1] if constant else None,
                             1 if constant else len(present), constant, False, None, None, False, infinite)
    unique = present.unique()
    return ColumnProfile(
        len(present), len(values) - len(present),
        pd.Series(unique) if len(unique) <= DISTINCT_CAP else None, len(unique), len(unique) == len(present),
        whole is not None,
        int(whole[0]) if whole is not None and len(whole) else None,
        int(whole[-1]) if whole is not None and len(whole) else None,
        whole is not None and bool((np.diff(whole) == 1).all()), infinite)


def _partition(partition: pd.DataFrame, columns: list[str]) -> TableProfile:
    return TableProfile(len(partition), {c: _column(partition[c]) for c in columns})


def _in_order(*parts: TableProfile) -> TableProfile:
    merged = parts[0]
    for part in parts[1:]:
        merged = merged.then(part)
    return merged


def profile(frame: dd.DataFrame, columns: list[str]) -> TableProfile:
    """The profiles of `columns`, in one distributed pass."""
    return reduce_partitions(frame, _partition, _in_order, columns)


def exact_levels(frame: dd.DataFrame, columns: list[str]) -> dict[str, int]:
    """The distinct present values of each column, exactly: one shuffle per column, all in one compute."""
    if not columns:
        return {}
    return {c: int(n) for c, n in dask.compute({c: frame[c].dropna().nunique() for c in columns})[0].items()}
