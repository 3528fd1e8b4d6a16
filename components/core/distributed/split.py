"""The group split on a Dask frame: the same group -> split assignment as the pandas engine.

`splitting.assign_splits` places each group from its salted hash and its row count alone
(and, to stratify, whether it has a positive row). So one distributed pass counts rows and
positive rows per group (one small row per group), the assignment runs on those counts in
this process with the pandas engine's own code, and each partition's rows then go to the
split of their group: a pure function of the group id and the assignment, so no partition
needs to see another.

The time-ordered split (`--time-column`) is the pandas engine's too, from counts per group:
the same pass also takes each group's first time; each re-cut round of `splitting`
(`TIME_CUT_ROUNDS`, at most 5; 4 on KosteckiDillon) sends every group's period end to the workers
and gets back its rows before that end, one count per group; the follow-up rows are then
dropped per partition (each row judged by its split, time and the splits' starts alone,
`splitting.follow_up_rows`), and each split's earliest and latest kept row are reduced on the
workers for `splitting.time_order_section` to verify. So the task holds a few numbers per
group, never a row's time. The time is a column (`TIME`) of the frame only inside this stage:
the written splits are the canonical tables, as with pandas.
"""

from __future__ import annotations

from dataclasses import dataclass

import dask.dataframe as dd
import numpy as np
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
from .arguments import shared
from .fingerprints import frame_fingerprint
from .lookup import GroupLookup

ROWS = "rows"
POSITIVES = "positives"
FIRST = "first"
# Each row's time as a number (`splitting.time_numbers`), beside the canonical columns while splitting.
TIME = "__time__"
SPLIT = "split"
BEFORE = "before"
# The place of a locked-holdout group in the time-ordered split: in the holdout, outside the order.
LOCKED = "locked holdout"
UNASSIGNED_EXAMPLES = 5


def group_counts(frame: dd.DataFrame) -> pd.DataFrame:
    """Rows and positive rows of every group (and its first time, with a `TIME` column), in one distributed pass.

    Args:
        frame: A canonical table (`schema.prepare` per partition), with `with_times`'s
            `TIME` column for a time-ordered split.

    Returns:
        One row per group key, with the columns `rows` and `positives` (and `first`).
    """
    aggregations = {LABEL_COLUMN: ["count", "sum"], **({TIME: ["min"]} if TIME in frame.columns else {})}
    counts = frame.groupby(GROUP_COLUMN).agg(aggregations).compute()
    counts.columns = [ROWS, POSITIVES, FIRST][:counts.shape[1]]
    return counts.astype({ROWS: "int64", POSITIVES: "int64"})


def with_times(raw: dd.DataFrame, prepared: dd.DataFrame, spec: schema.DatasetSpec) -> tuple[dd.DataFrame, pd.Series]:
    """The canonical table with each row's time (`schema.time_order`, as a number) in a `TIME` column.

    Args:
        raw: The loaded table.
        prepared: Its canonical form, partitioned as `raw` (`frames.prepare`).
        spec: The dataset spec; `spec.time` names the time column.

    Returns:
        The frame, and an empty series of the times' dtype (how times are written).

    Raises:
        InvalidInputError: As `schema.time_order`: missing (counted over the whole column)
            or unparseable times.
    """
    missing = int(raw[spec.time].isna().sum().compute())
    if missing:
        raise InvalidInputError(f"time column {spec.time!r} has {missing} missing values")
    meta = prepared._meta.assign(**{TIME: pd.Series(dtype="float64")})
    timed = dd.map_partitions(_with_times, prepared, raw[[spec.time]], spec, meta=meta, align_dataframes=False)
    return timed, schema.time_order(raw._meta[[spec.time]], spec)


def _with_times(partition: pd.DataFrame, raw: pd.DataFrame, spec: schema.DatasetSpec) -> pd.DataFrame:
    return partition.assign(**{TIME: splitting.time_numbers(schema.time_order(raw, spec)).to_numpy()})


def group_times(frame: dd.DataFrame, counts: pd.DataFrame, times: pd.Series) -> splitting.GroupTimes:
    """What `splitting.assign_groups` needs for the time order, with the rows on the workers.

    Args:
        frame: `with_times`'s frame.
        counts: Its `group_counts` (with `first`).
        times: An empty series of the times' dtype.

    Returns:
        The groups' first times and a function that counts, on the workers, each group's rows
        before its period end: one distributed pass per re-cut round, one count per group back.
    """
    def rows_before(ends: np.ndarray) -> np.ndarray:
        end_of = GroupLookup(pd.Series(ends, index=counts.index))
        meta = pd.DataFrame({GROUP_COLUMN: pd.Series(dtype=object), BEFORE: pd.Series(dtype="int64")})
        before = frame.map_partitions(_rows_before, shared(end_of), meta=meta).groupby(GROUP_COLUMN)[BEFORE].sum()
        before = before.compute()
        return before.reindex(counts.index, fill_value=0).to_numpy()

    return splitting.GroupTimes(counts[FIRST].to_numpy(), rows_before, times)


def _rows_before(partition: pd.DataFrame, end_of: GroupLookup) -> pd.DataFrame:
    keys = partition[GROUP_COLUMN].to_numpy()
    before = partition[TIME].to_numpy() < end_of(keys)
    return pd.DataFrame({GROUP_COLUMN: keys, BEFORE: before.astype("int64")})


def assign_groups(counts: pd.DataFrame, ratios: dict[str, float] = DEFAULT_RATIOS,
                  tolerance: float = DEFAULT_TOLERANCE, salt: str = DEFAULT_SPLIT_SALT, *,
                  stratify: bool = False, times: splitting.GroupTimes | None = None,
                  locked: frozenset[str] = frozenset()) -> pd.Series:
    """The split of every group, by `splitting.assign_groups` on the counts: no key per row.

    Args:
        counts: `group_counts` of the table.
        ratios: Expected share of rows per split.
        tolerance: Allowed deviation per split.
        salt: Salt of the group hash.
        stratify: Split groups with a positive row and the others separately.
        times: `group_times` for a time-ordered split, or None for the hash split.
        locked: Hashes (`splitting.group_hashes`) of the experiment's locked holdout groups.

    Returns:
        The split name of each group, indexed like `counts`.

    Raises:
        As `splitting.assign_splits`: stratified and time-ordered at once, or groups that
        start together leaving no cut.
    """
    # As split_table: a group's stratum is its largest label, 0 or 1.
    strata = pd.Series((counts[POSITIVES].to_numpy() > 0).astype("int8"), index=counts.index) if stratify else None
    return splitting.assign_groups(counts[ROWS], ratios, tolerance, salt, strata=strata, times=times,
                                   locked=locked).rename(SPLIT)


@dataclass
class TimeOrdered:
    """A frame in time order: its follow-up rows dropped and the order verified.

    Attributes:
        frame: The kept rows, canonical columns only.
        counts: `group_counts` of the kept rows (groups with a kept row).
        section: The manifest's `time_order` section (`splitting.order_in_time`'s).
    """

    frame: dd.DataFrame
    counts: pd.DataFrame
    section: dict


def order_in_time(frame: dd.DataFrame, counts: pd.DataFrame, assignment: pd.Series, held: pd.Series,
                  times: pd.Series) -> TimeOrdered:
    """`splitting.order_in_time` on a Dask frame: the follow-up dropped per partition, the order verified.

    Args:
        frame: `with_times`'s frame.
        counts: Its `group_counts` (with `first`).
        assignment: The split of every group, from `assign_groups` with `group_times`.
        held: Whether each group (indexed like `counts`) is in the experiment's locked
            holdout, outside the time order.
        times: An empty series of the times' dtype.

    Raises:
        DataLeakageError: A split still has a row not earlier than the next split's first row.
    """
    split_of = assignment.reindex(counts.index)
    # A split starts at the earliest first time of its groups in the time order: no row needed.
    starts = splitting.split_starts(split_of.to_numpy(), counts[FIRST].to_numpy(), ~held.to_numpy())
    # One lookup carries both: the split of each group, or LOCKED for the locked holdout's.
    place_of_key = shared(GroupLookup(split_of.mask(held.to_numpy(), LOCKED)))
    kept = frame.map_partitions(_drop_follow_up, place_of_key, starts, meta=frame._meta)
    kept_counts = group_counts(kept)
    meta = pd.DataFrame({SPLIT: pd.Series(dtype=object), TIME: pd.Series(dtype="float64")})
    ordered = kept.map_partitions(_ordered_times, place_of_key, meta=meta)
    bounds = ordered.groupby(SPLIT)[TIME].agg(["min", "max"]).compute()
    late = counts[ROWS] - kept_counts[ROWS].reindex(counts.index, fill_value=0)
    dropped = late.groupby(split_of).sum()
    truncated = (late > 0).groupby(split_of).sum()
    section = splitting.time_order_section(
        times, starts, {name: int(dropped.get(name, 0)) for name in starts},
        {name: int(truncated.get(name, 0)) for name in starts},
        {name: (bounds.loc[name, "min"], bounds.loc[name, "max"]) for name in starts}, int(held.sum()))
    return TimeOrdered(kept.drop(columns=[TIME]), kept_counts, section)


def _places(partition: pd.DataFrame, place_of_key: GroupLookup) -> tuple[np.ndarray, np.ndarray]:
    """Each row's place (its split, or LOCKED) and whether the row is in the time order."""
    place = place_of_key(partition[GROUP_COLUMN].to_numpy())
    return place, place != LOCKED


def _drop_follow_up(partition: pd.DataFrame, place_of_key: GroupLookup, starts: dict[str, float]) -> pd.DataFrame:
    place, ordered = _places(partition, place_of_key)
    return partition[~splitting.follow_up_rows(place, partition[TIME].to_numpy(), ordered, starts)]


def _ordered_times(partition: pd.DataFrame, place_of_key: GroupLookup) -> pd.DataFrame:
    """The split and time of each row in the time order (the locked holdout's rows are not)."""
    place, ordered = _places(partition, place_of_key)
    return pd.DataFrame({SPLIT: place[ordered], TIME: partition[TIME].to_numpy()[ordered]})


def rows_of_split(partition: pd.DataFrame, split_of_key: GroupLookup, name: str) -> pd.DataFrame:
    """The rows of one partition whose group is assigned to a split.

    Raises:
        InvalidInputError: A row's group has no split: the assignment was made on other data.
    """
    split = split_of_key(partition[GROUP_COLUMN].to_numpy())
    unassigned = pd.isna(split)
    if unassigned.any():
        examples = list(pd.unique(partition[GROUP_COLUMN].to_numpy()[unassigned])[:UNASSIGNED_EXAMPLES])
        raise InvalidInputError(f"{int(unassigned.sum())} rows belong to groups with no split, e.g. {examples}: "
                                "the assignment was computed on other data")
    return partition[split == name]


def split_frame(frame: dd.DataFrame, assignment: pd.Series) -> dict[str, dd.DataFrame]:
    """The four splits of a Dask frame, lazily, one filter per partition and split."""
    split_of_key = shared(GroupLookup(assignment))
    return {name: frame.map_partitions(rows_of_split, split_of_key, name, meta=frame._meta) for name in SPLITS}


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
        manifest: The split manifest, as `splitting.split_table` builds it.
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


def write_splits(raw: dd.DataFrame, spec: schema.DatasetSpec, source: str, split_paths: dict[str, str], *,
                 ratios: dict[str, float], tolerance: float, salt: str, stratify: bool, max_duplicate_share: float,
                 allow_features: tuple[str, ...], locked: frozenset[str]) -> WrittenSplit:
    """Splits the loaded dataset on the cluster, writes each split as Parquet parts and verifies them.

    The order of `splitting.split_table`: the assignment (and with `spec.time` the time
    order: follow-up dropped, order verified) and its counts (ratios, classes), then on the
    written splits as every reader will read them: no group in two splits, re-identified
    patients, target leakage on train, and each split's `frame_fingerprint`.

    Args:
        raw: The loaded dataset, read and verified (`lineage.read_loaded`).

    Raises:
        As `splitting.split_table`.
    """
    canonical = frames.prepare(raw, spec, source)
    raw_meta, positive, features = raw._meta, canonical.positive, canonical.features
    # Not persisted: each pass below reads and converts the table again (16 s a pass at 40M rows
    # on 2 workers) rather than hold it, which would be the table's size in the workers' memory.
    if spec.time:
        timed, times = with_times(raw, canonical.frame, spec)
        prepared = timed.drop(columns=[TIME])
    else:
        prepared = canonical.frame
    data_fingerprint = frame_fingerprint(prepared)
    all_counts = group_counts(timed if spec.time else prepared)
    hashes = pd.Series(splitting.group_hashes(all_counts.index, salt), index=all_counts.index)
    held = hashes.isin(locked)
    counts, kept, time_section = all_counts, prepared, None
    if spec.time:
        assignment = assign_groups(all_counts, ratios, tolerance, salt, stratify=stratify,
                                   times=group_times(timed, all_counts, times), locked=locked)
        ordered = order_in_time(timed, all_counts, assignment, held, times)
        counts, kept, time_section = ordered.counts, ordered.frame, ordered.section
    else:
        assignment = assign_groups(all_counts, ratios, tolerance, salt, stratify=stratify, locked=locked)
    try:
        summary = split_summary(counts, assignment, ratios, tolerance)
    except SplitRatioViolationError as exc:
        reason = str(exc) + splitting.follow_up_reason(time_section)
        if held.any():
            rows = int(all_counts.loc[held, ROWS].sum())
            reason += (f"; {int(held.sum())} groups ({rows} rows, {rows / all_counts[ROWS].sum():.1%} of the rows) are "
                       "locked in the holdout by earlier runs of this experiment and never leave it: choose ratios "
                       "with room for them (--split-ratios) or a new --experiment")
        if reason == str(exc):
            raise
        raise SplitRatioViolationError(reason) from exc
    # Groups all of whose rows were dropped as follow-up have no split, as in split_table's tables.
    assignment, hashes = assignment.reindex(counts.index), hashes.reindex(counts.index)
    pieces = split_frame(kept, assignment)
    parquet.write_parquet({split_paths[name]: pieces[name] for name in SPLITS})
    # The checks below read the written splits, as every later stage will: the table itself is released.
    del prepared, kept, pieces
    if spec.time:
        del timed, ordered
    written = {name: parquet.read_parquet(split_paths[name]) for name in SPLITS}
    owners = dd.concat([written[name][[GROUP_COLUMN]].assign(split=name) for name in SPLITS])
    splits_of_group = owners.drop_duplicates().groupby(GROUP_COLUMN)["split"].count()
    leaked = splits_of_group[splits_of_group > 1].compute()
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
        "data_fingerprint": data_fingerprint,
        "salt": salt,
        "stratified": stratify,
        "time_ordered": time_section is not None,
        "ratios": ratios,
        "tolerance": tolerance,
        "total_rows": int(counts[ROWS].sum()),
        "duplicate_rows_across_splits": sum(pair["rows"] for pair in duplicates["pairs"].values()),
        "duplicates": duplicates,
        "target_leakage": target_leakage,
        "splits": per_split,
        "holdout_lock": lock_section,
    }
    if time_section is not None:
        for name, time_range in time_section["time_ranges"].items():
            per_split[name]["time_range"] = time_range
        manifest["time_order"] = time_section
    manifest["fingerprint"] = splitting.manifest_fingerprint(manifest)
    return WrittenSplit(manifest, groups, positive, features, raw_meta)
