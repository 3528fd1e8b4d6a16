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

from dataclasses import dataclass

import dask.dataframe as dd
import pandas as pd

from .. import schema, splitting
from ..constants import (
    DEFAULT_RATIOS,
    DEFAULT_SPLIT_SALT,
    DEFAULT_TOLERANCE,
    GROUP_COLUMN,
    HOLDOUT,
    LABEL_COLUMN,
    SPLITS,
    TRAIN,
)
from ..errors import DataLeakageError, InvalidInputError, SplitRatioViolationError
from . import frames, leakage, parquet
from .fingerprints import frame_fingerprint

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


@dataclass
class WrittenSplit:
    """What the Dask split stage wrote and found: `splitting.SplitResult` without the tables.

    Attributes:
        manifest: The split manifest, as `splitting.split_table` builds it (no time order).
        groups: Every group's salted hash and split, sorted by hash.
        positive: The positive label value.
        features: The feature columns.
        raw_meta: The raw table's columns and dtypes.
    """

    manifest: dict
    groups: pd.DataFrame
    positive: str
    features: list[str]
    raw_meta: pd.DataFrame


def write_splits(dataset_path: str, spec: schema.DatasetSpec, source: str, split_paths: dict[str, str], *,
                 ratios: dict[str, float], tolerance: float, salt: str, stratify: bool, max_duplicate_share: float,
                 allow_features: tuple[str, ...], locked: frozenset[str]) -> WrittenSplit:
    """Splits a loaded Parquet dataset on the cluster, writes each split as Parquet parts and verifies them.

    The order of `splitting.split_table`: the assignment and its counts (ratios, classes),
    then on the written splits as every reader will read them: no group in two splits,
    re-identified patients, target leakage on train, and each split's `frame_fingerprint`.

    Raises:
        As `splitting.split_table` (without the time order, which the Dask engine refuses).
    """
    raw = parquet.read_parquet(dataset_path)
    canonical = frames.prepare(raw, spec, source)
    prepared = canonical.frame.persist()
    counts = group_counts(prepared)
    assignment = assign_groups(counts, ratios, tolerance, salt, stratify=stratify, locked=locked)
    hashes = pd.Series(splitting.group_hashes(counts.index, salt), index=counts.index)
    try:
        summary = split_summary(counts, assignment, ratios, tolerance)
    except SplitRatioViolationError as exc:
        held = hashes.isin(locked)
        if not held.any():
            raise
        rows = int(counts.loc[held, ROWS].sum())
        raise SplitRatioViolationError(
            f"{exc}; {int(held.sum())} groups ({rows} rows, {rows / counts[ROWS].sum():.1%} of the rows) are locked "
            "in the holdout by earlier runs of this experiment and never leave it: choose ratios with room for them "
            "(--split-ratios) or a new --experiment") from exc
    pieces = split_frame(prepared, assignment)
    written = {}
    for name in SPLITS:
        parquet.write_parquet(pieces[name], split_paths[name])
        written[name] = parquet.read_parquet(split_paths[name])
    owners = dd.concat([written[name][[GROUP_COLUMN]].assign(split=name) for name in SPLITS])
    shared = owners.drop_duplicates().groupby(GROUP_COLUMN)["split"].count()
    leaked = shared[shared > 1].compute()
    if len(leaked):
        raise DataLeakageError(f"{len(leaked)} groups appear in more than one split, e.g. "
                               f"{list(leaked.index[:splitting.LEAK_EXAMPLES])}")
    duplicates = leakage.duplicates_across(written, max_duplicate_share)
    groups = pd.DataFrame({splitting.GROUP_HASH: hashes.to_numpy(), splitting.SPLIT: assignment.to_numpy()})
    groups = groups.sort_values(splitting.GROUP_HASH, ignore_index=True)
    astray = groups[groups[splitting.GROUP_HASH].isin(locked) & (groups[splitting.SPLIT] != HOLDOUT)]
    if len(astray):
        raise DataLeakageError(
            f"{len(astray)} groups locked in the experiment's holdout were put in another split "
            f"({astray[splitting.SPLIT].value_counts().to_dict()}); the split is refused")
    in_lock = hashes.isin(locked) & (assignment == HOLDOUT)
    lock_section = {
        "lock_size": len(locked),
        "locked_groups": int(in_lock.sum()),
        "locked_rows": int(counts.loc[in_lock, ROWS].sum()),
        "new_groups": int((assignment == HOLDOUT).sum() - in_lock.sum()),
    }
    target_leakage = leakage.check_target_leakage(written[TRAIN], allow_features)
    per_split = {name: {**summary[name], "fingerprint": frame_fingerprint(written[name])} for name in SPLITS}
    manifest = {
        "data_fingerprint": frame_fingerprint(prepared),
        "salt": salt,
        "stratified": stratify,
        "time_ordered": False,
        "ratios": ratios,
        "tolerance": tolerance,
        "total_rows": int(counts[ROWS].sum()),
        "duplicate_rows_across_splits": sum(pair["rows"] for pair in duplicates["pairs"].values()),
        "duplicates": duplicates,
        "target_leakage": target_leakage,
        "splits": per_split,
        "holdout_lock": lock_section,
    }
    manifest["fingerprint"] = splitting.manifest_fingerprint(manifest)
    return WrittenSplit(manifest, groups, canonical.positive, canonical.features, raw._meta)
