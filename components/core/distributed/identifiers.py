"""The values-based entity-key rule of `identifiers` on a Dask table, with `identifiers.classify`'s verdicts.

A column that is not a record key and not named like an identifier is an entity key when at
least half its rows carry a distinct value, its text is not dates, enough of its values
repeat, and the rows sharing a value agree on coarser columns (`identifiers`). That needs
counts, not rows, computed where the rows live:

- whether every value parses as a date: per partition, with the time zone, resolution and
  range the partition parses to, since pandas refuses a whole column that mixes time zones
  or holds a value its finest resolution cannot represent;
- how many key values repeat: one number back;
- per other column, how its rows spread over its values: each partition's value counts are
  merged pairwise on the workers, a column dropped as soon as it has more values than an
  attribute may (its values only grow as partitions merge), and only the number of values
  with each row count comes back (at most about sqrt(2 * rows) pairs); this process rebuilds
  the row counts from it, largest first, for `identifiers.chance_agreement` to sum as pandas
  does (8 bytes per value, only for a column with at most half as many values as the key);
- on which remaining columns each repeated key value's rows agree: the rows (the key and
  those columns) are shuffled by the key, once per key column that gets this far, so every
  key value's rows are in one partition and pandas' own groupby runs there; one count per
  column comes back.
"""

from __future__ import annotations

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd

from .. import identifiers


def entity_key(frame: dd.DataFrame, name: str, levels: int, rows: int, is_text: bool) -> identifiers.Identifier | None:
    """`identifiers.classify` of a column that is neither a record key nor named like an identifier.

    Args:
        frame: The raw table; its other columns are the candidate attributes.
        name: The column, with at least `identifiers.MIN_IDENTIFIER_LEVELS` values and fewer
            values than rows.
        levels: Its distinct values (missing left out).
        rows: Its rows with a value.
        is_text: Whether it is text (else whole numbers).

    Returns:
        The entity key, or None.
    """
    if levels / rows < identifiers.ENTITY_DISTINCT_SHARE or (is_text and dates(frame[name].dropna())):
        return None
    counted = f"{levels} distinct values in {rows} rows"
    return identifiers.entity_key(name, counted, agreeing_attributes(frame, name, levels))


def dates(values: dd.Series) -> bool:
    """`identifiers._dates` of a column: every value parses as a date, as one pandas column would."""
    parts = [p for p in dask.compute(*(dask.delayed(_parsed)(part) for part in values.to_delayed())) if p != ()]
    if not parts:
        return True
    if not all(p[0] for p in parts) or len({p[1] for p in parts}) > 1:
        return False  # pandas refuses a column that mixes time zones ("Mixed timezones detected")
    # One column parses to the finest resolution any of its values needs; every value must fit it.
    finest = min((p[2] for p in parts), key=_unit_size)
    try:
        for _, _, _, low, high in parts:
            low.as_unit(finest), high.as_unit(finest)
    except (ValueError, OverflowError):  # OutOfBoundsDatetime is a ValueError
        return False
    return True


def _unit_size(unit: str) -> int:
    return int(np.timedelta64(1, unit).astype("timedelta64[ns]").astype("int64"))


def _parsed(values: pd.Series) -> tuple:
    """() for no values; else whether all parse, and their time zone, resolution, earliest and latest."""
    if not len(values):
        return ()
    try:
        parsed = pd.to_datetime(values, format="mixed")
    except (ValueError, TypeError, OverflowError):
        return (False, None, None, None, None)
    return (True, str(parsed.dt.tz), parsed.dt.unit, parsed.min(), parsed.max())


def agreeing_attributes(frame: dd.DataFrame, name: str, levels: int) -> list[str]:
    """`identifiers._agreeing_attributes` on a Dask table: the coarser columns on which a key value's rows agree."""
    repeated = int((frame[name].value_counts() >= 2).sum().compute())
    if repeated < identifiers.MIN_REPEATED_VALUES:
        return []
    most = levels * identifiers.COARSER_ATTRIBUTE_SHARE
    spreads = value_spreads(frame, [c for c in frame.columns if c != name], most)
    candidates = []
    for other, spread in spreads.items():
        if spread is None:
            continue
        counts = np.repeat(spread.index.to_numpy(dtype="int64"), spread.to_numpy())
        if identifiers.may_be_attribute(len(counts), identifiers.chance_agreement(counts), levels):
            candidates.append(other)
    if not candidates:
        return []
    keyed = frame[frame[name].notnull()][[name, *candidates]].shuffle(on=name)
    agreeing = keyed.map_partitions(_agreeing, name, candidates, meta=pd.Series(dtype="int64")).compute()
    agreeing = agreeing.groupby(level=0).sum()
    return [str(c) for c in candidates if identifiers.agrees(int(agreeing.get(c, 0)), repeated)]


def value_spreads(frame: dd.DataFrame, columns: list, most: float) -> dict[object, pd.Series | None]:
    """Per column, how many of its values (missing counted as one) have each row count; None past `most` values."""
    parts = [dask.delayed(_value_counts)(part, columns) for part in frame.to_delayed()]
    while len(parts) > 1:
        parts = [dask.delayed(_merge)(*parts[i:i + 2], most) if i + 1 < len(parts) else parts[i]
                 for i in range(0, len(parts), 2)]
    return dask.delayed(_spreads)(parts[0]).compute()


def _value_counts(partition: pd.DataFrame, columns: list) -> dict:
    return {c: partition[c].value_counts(dropna=False) for c in columns}


def _merge(left: dict, right: dict, most: float) -> dict:
    merged = {}
    for c in left:
        both = None if left[c] is None or right[c] is None else left[c].add(right[c], fill_value=0)
        merged[c] = both if both is not None and len(both) <= most else None
    return merged


def _spreads(counts: dict) -> dict:
    return {c: None if v is None else v.astype("int64").value_counts() for c, v in counts.items()}


def _agreeing(partition: pd.DataFrame, name: str, candidates: list) -> pd.Series:
    """Per candidate column, the repeated key values of this partition whose rows have one value of it."""
    key = partition[name]
    counts = key.value_counts()
    rows = partition[key.isin(counts.index[counts >= 2])]
    return rows.groupby(name)[candidates].nunique(dropna=False).eq(1).sum().astype("int64")
