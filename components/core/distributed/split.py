"""The group split on a Dask frame: the same group -> split assignment as the pandas engine.

`splitting.assign_splits` places each group from its salted hash and its row count alone
(and, to stratify, whether it has a positive row). So one distributed pass counts rows and
positive rows per group (one small row per group), the assignment runs on those counts in
this process with the pandas engine's own code, and each partition's rows then go to the
split of their group: a pure function of the group id and the assignment, so no partition
needs to see another.

The time-ordered split (`--time-column`) is not here: it re-weighs groups by the rows they
keep before the next split's start, which needs each row's time, not a count per group.
"""

from __future__ import annotations

import dask.dataframe as dd
import pandas as pd

from .. import splitting
from ..constants import (
    DEFAULT_RATIOS,
    DEFAULT_SPLIT_SALT,
    DEFAULT_TOLERANCE,
    GROUP_COLUMN,
    LABEL_COLUMN,
    SPLITS,
)
from ..errors import InvalidInputError

ROWS = "rows"
POSITIVES = "positives"
UNASSIGNED_EXAMPLES = 5


def group_counts(frame: dd.DataFrame) -> pd.DataFrame:
    """Rows and positive rows of every group, in one distributed pass.

    Args:
        frame: A canonical table (`schema.prepare` per partition).

    Returns:
        One row per group key, with the columns `rows` and `positives`.
    """
    counts = frame.groupby(GROUP_COLUMN)[LABEL_COLUMN].agg(["count", "sum"]).compute()
    return counts.rename(columns={"count": ROWS, "sum": POSITIVES}).astype("int64")


def assign_groups(counts: pd.DataFrame, ratios: dict[str, float] = DEFAULT_RATIOS,
                  tolerance: float = DEFAULT_TOLERANCE, salt: str = DEFAULT_SPLIT_SALT, *,
                  stratify: bool = False, locked: frozenset[str] = frozenset()) -> pd.Series:
    """The split of every group, by `splitting.assign_groups` on the counts: no key per row.

    Args:
        counts: `group_counts` of the table.
        ratios: Expected share of rows per split.
        tolerance: Allowed deviation per split.
        salt: Salt of the group hash.
        stratify: Split groups with a positive row and the others separately.
        locked: Hashes (`splitting.group_hashes`) of the experiment's locked holdout groups.

    Returns:
        The split name of each group, indexed like `counts`.
    """
    # As split_table: a group's stratum is its largest label, 0 or 1.
    strata = pd.Series((counts[POSITIVES].to_numpy() > 0).astype("int8"), index=counts.index) if stratify else None
    return splitting.assign_groups(counts[ROWS], ratios, tolerance, salt, strata=strata,
                                   locked=locked).rename("split")


def rows_of_split(partition: pd.DataFrame, assignment: pd.Series, name: str) -> pd.DataFrame:
    """The rows of one partition whose group is assigned to a split.

    Raises:
        InvalidInputError: A row's group has no split: the assignment was made on other data.
    """
    split = assignment.reindex(partition[GROUP_COLUMN].to_numpy()).to_numpy()
    unassigned = pd.isna(split)
    if unassigned.any():
        examples = list(pd.unique(partition[GROUP_COLUMN].to_numpy()[unassigned])[:UNASSIGNED_EXAMPLES])
        raise InvalidInputError(f"{int(unassigned.sum())} rows belong to groups with no split, e.g. {examples}: "
                                "the assignment was computed on other data")
    return partition[split == name]


def split_frame(frame: dd.DataFrame, assignment: pd.Series) -> dict[str, dd.DataFrame]:
    """The four splits of a Dask frame, lazily, one filter per partition and split."""
    return {
        name: frame.map_partitions(rows_of_split, assignment, name, meta=frame._meta)
        for name in SPLITS
    }


def split_summary(counts: pd.DataFrame, assignment: pd.Series, ratios: dict[str, float] = DEFAULT_RATIOS,
                  tolerance: float = DEFAULT_TOLERANCE) -> dict[str, dict]:
    """Rows, groups, positive rate and row share of each split, checked, from the group counts.

    Raises:
        SplitRatioViolationError: A split's row share is out of tolerance.
        InvalidInputError: A split that needs both classes has one.
    """
    by_split = counts.groupby(assignment.reindex(counts.index).to_numpy()).agg(
        rows=(ROWS, "sum"), positives=(POSITIVES, "sum"), groups=(ROWS, "size"))
    by_split = by_split.reindex(list(SPLITS), fill_value=0)
    splitting.check_split_counts(by_split["rows"].astype(int).to_dict(), by_split["positives"].astype(int).to_dict(),
                                 ratios, tolerance)
    total = int(by_split["rows"].sum())
    return {
        name: {"rows": int(row["rows"]), "groups": int(row["groups"]),
               "positive_rate": round(int(row["positives"]) / int(row["rows"]), 6),
               "ratio": round(int(row["rows"]) / total, 6)}
        for name, row in by_split.iterrows()
    }
