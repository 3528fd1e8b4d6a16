"""Group-aware, deterministic train/validation/test/holdout splits and their verification.

Each group (patient) gets a position in [0, 1) from a salted SHA-256 of its id. Groups are
ordered by position and the ordered list is cut into four contiguous runs. A cut starts at
the position threshold of the ratios (so a patient's split depends only on its own id and
the salt) and moves the fewest groups needed to bring the row ratios within tolerance.

A time-ordered split means every validation row is later than every train row, and every test
row later than every validation row (holdout after test). The rule for patients followed over
time, as in a prospective validation:

1. Groups are ordered by their first time and cut into four runs; a cut never separates groups
   with the same first time (so patients who start together stay together). When no such cut
   exists (every patient starts at the same time, as with a visit number or an age), the split
   fails naming the shared start: time cannot order those patients.
2. A group's rows at or after the start of the next split are dropped: they are follow-up that
   happened during a later split's period, and keeping them would train on (or validate with)
   the future of the period being evaluated. The group keeps its earlier rows, and no patient
   ever changes split.
3. The order is then verified on the rows (the latest row of each split is earlier than the
   earliest row of the next); the manifest records each split's time range and how many rows
   and groups step 2 affected, and says `time_ordered: true` only after this verification.

The experiment's locked holdout (`split_ledger`): a group that an earlier completed run of the
experiment put in its holdout stays in the holdout, whatever its hash, the data's growth or the
ratios. Locked groups are placed after every other group and no cut may fall among them, so
the cuts are chosen, by the rules above, on the groups that remain: those keep their split
(only groups near a cut can move, as with data growth), and new holdout groups are assigned by
the hash as before. The ratio check still applies to the result; when it fails, the error says
how many groups and rows the lock holds. In a time-ordered split the locked groups stay in the
holdout outside the time order: they are patients the experiment has kept unseen since an
earlier period, not the latest period, so none of their rows is dropped as follow-up and the
order is verified on the other groups (the manifest's `time_order` counts them). On the same
data, salt and lock, a run reproduces the split of the run that locked it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .constants import (
    DEFAULT_MAX_DUPLICATE_SHARE,
    DEFAULT_RATIOS,
    DEFAULT_SPLIT_SALT,
    DEFAULT_TOLERANCE,
    GROUP_COLUMN,
    HOLDOUT,
    LABEL_COLUMN,
    SPLITS,
    TEST,
    TRAIN,
    VALIDATION,
)
from .errors import DataLeakageError, InvalidInputError, SplitRatioViolationError
from .leakage import check_target_leakage, duplicates_across
from .tables import fingerprint

# Splits that need both classes: training, tuning/threshold choice and the test metrics.
SPLITS_NEEDING_BOTH_CLASSES = (TRAIN, VALIDATION, TEST)
LEAK_EXAMPLES = 5
# Rounds of re-choosing the time cuts on the rows that remain after follow-up is dropped.
TIME_CUT_ROUNDS = 5


def check_ratios(ratios: dict[str, float], tolerance: float) -> None:
    """Raises InvalidInputError unless the ratios name the four splits, are positive and sum to 1."""
    if set(ratios) != set(SPLITS):
        raise InvalidInputError(f"split ratios must name exactly {list(SPLITS)}, got {sorted(ratios)}")
    bad = {k: v for k, v in ratios.items() if not v > 0}
    if bad:
        raise InvalidInputError(f"split ratios must be positive, got {bad}")
    if abs(sum(ratios.values()) - 1.0) > 1e-9:
        raise InvalidInputError(f"split ratios must sum to 1, they sum to {sum(ratios.values()):.6f}")
    if not 0 < tolerance < min(ratios.values()):
        raise InvalidInputError(f"split tolerance must be in (0, {min(ratios.values())}), got {tolerance}")


def _digests(keys, salt: str):
    """The salted SHA-256 of each key: the one hash behind a group's split and its holdout lock."""
    prefix = f"{salt}\x1f".encode()
    return (hashlib.sha256(prefix + str(k).encode()).digest() for k in keys)


def unit_positions(keys: pd.Index, salt: str) -> np.ndarray:
    """Maps each key to a position in [0, 1) by a salted SHA-256 (stable across runs and data growth)."""
    return _positions(list(_digests(keys, salt)))


def _positions(digests: list[bytes]) -> np.ndarray:
    return np.fromiter((int.from_bytes(d[:8], "big") / 2**64 for d in digests), dtype=np.float64, count=len(digests))


def group_hashes(keys, salt: str) -> list[str]:
    """The salted SHA-256 of each group key, in hex: what the run store keeps of a holdout group.

    Never the raw id. With the default (public) salt an id from a small, guessable space can be
    recovered by trying every candidate; a secret `--split-salt` closes that.
    """
    return [d.hex() for d in _digests(keys, salt)]


def _choose_cut(cum: np.ndarray, lo: int, target: float, prev: float, ratio: float, hash_cut: int,
                tolerance: float, remainder: float | None, allowed: np.ndarray) -> int:
    """Picks the cut index (number of units before it) for one boundary.

    `cum[c]` is the row fraction of the first c units and `allowed[c]` whether a cut may fall
    there. A cut within half the tolerance of the cumulative target keeps every split in
    tolerance whatever the other cuts do; failing that, one that keeps this split (and the
    remainder, at the last cut) in tolerance; failing that, the one closest to the target,
    which verification will then reject by name.
    """
    candidates = np.arange(lo, len(cum))
    candidates = candidates[allowed[candidates]]
    fractions = cum[candidates]
    tiers = [np.abs(fractions - target) <= tolerance / 2]
    this_split_ok = np.abs(fractions - prev - ratio) <= tolerance
    if remainder is not None:
        this_split_ok &= np.abs(1 - fractions - remainder) <= tolerance
    tiers.append(this_split_ok)
    for mask in tiers:
        if mask.any():
            allowed = candidates[mask]
            return int(allowed[np.argmin(np.abs(allowed - hash_cut))])
    return int(candidates[np.argmin(np.abs(fractions - target))])


def assign_splits(groups: pd.Series, ratios: dict[str, float] = DEFAULT_RATIOS,
                  tolerance: float = DEFAULT_TOLERANCE, salt: str = DEFAULT_SPLIT_SALT,
                  strata: pd.Series | None = None, times: pd.Series | None = None,
                  locked: frozenset[str] = frozenset()) -> np.ndarray:
    """Assigns every row a split name, keeping each group whole.

    Args:
        groups: The grouping key of each row.
        ratios: Expected share of rows per split, in `SPLITS` order.
        tolerance: Allowed absolute deviation of each split's row share.
        salt: Salt of the group hash; the same data and salt give the same assignment.
        strata: A stratum per row (constant within a group); each stratum is split on its
            own, so every split gets its share of each stratum.
        times: A sortable time per row; groups are then ordered by their first time
            instead of their hash, so later periods land in test and holdout, and no cut
            separates groups with the same first time (see the module docstring).
        locked: Hashes (`group_hashes`) of groups that must be in the holdout: the
            experiment's locked holdout. Hashes of groups absent from the data are ignored.

    Returns:
        An array of split names aligned with `groups`.

    Raises:
        InvalidInputError: Both strata and times are given; a time order and a share of
            positive patients per split cannot both be guaranteed.
        DataLeakageError: Groups with the same first time leave no cut between two splits.
    """
    check_ratios(ratios, tolerance)
    _refuse_stratified_time(strata, times)
    if strata is None:
        return _assign(groups, ratios, tolerance, salt, times, locked)
    assigned = np.empty(len(groups), dtype=object)
    for stratum in sorted(pd.unique(strata)):
        mask = (strata == stratum).to_numpy()
        assigned[mask] = _assign(groups[mask], ratios, tolerance, salt, None if times is None else times[mask],
                                 locked)
    return assigned


def _refuse_stratified_time(strata, times) -> None:
    if strata is not None and times is not None:
        raise InvalidInputError("a time-ordered split cannot also be stratified: later periods go to test "
                                "whatever their positive rate; leave out stratify or the time column")


def time_numbers(times: pd.Series) -> pd.Series:
    """Times as float64 (dates as nanoseconds), for ordering."""
    if pd.api.types.is_datetime64_any_dtype(times):
        return pd.Series(times.to_numpy().astype("datetime64[ns]").astype("int64"), dtype="float64")
    return times.astype("float64").reset_index(drop=True)


@dataclass(frozen=True)
class GroupTimes:
    """What the time-ordered split needs of the rows, group by group.

    Attributes:
        first: Each group's first time (`time_numbers`), aligned with the groups' sizes.
        rows_before: Given a period end per group (aligned likewise, inf for none), how many
            of each group's rows are earlier than its end: the rows it keeps once its follow-up
            is dropped. The cuts are re-chosen on these counts (`TIME_CUT_ROUNDS`).
        times: The time column, or an empty series of its dtype: how times are written in
            messages and the manifest (ISO text for dates).
    """

    first: np.ndarray
    rows_before: Callable[[np.ndarray], np.ndarray]
    times: pd.Series


def assign_groups(sizes: pd.Series, ratios: dict[str, float] = DEFAULT_RATIOS,
                  tolerance: float = DEFAULT_TOLERANCE, salt: str = DEFAULT_SPLIT_SALT, *,
                  strata: pd.Series | None = None, times: GroupTimes | None = None,
                  locked: frozenset[str] = frozenset()) -> pd.Series:
    """Assigns every group a split from per-group counts alone: `assign_splits` without the rows.

    The hash split places a group by its salted hash and its number of rows (and, stratified,
    its stratum), so an engine that counts rows per group where the rows live (the Dask engine)
    gets the same assignment as `assign_splits` without sending a key per row. The time order
    also needs each group's first time and, in each re-cut round, its rows before a period
    end: counts per group again, which `times` computes where the rows are.

    Args:
        sizes: Rows of each group, indexed by group key.
        ratios: Expected share of rows per split.
        tolerance: Allowed absolute deviation of each split's row share.
        salt: Salt of the group hash.
        strata: A stratum per group, indexed like `sizes`; each stratum is split on its own.
        times: For a time-ordered split, the groups' first times and rows before a period end.
        locked: Hashes (`group_hashes`) of groups that must be in the holdout.

    Returns:
        The split name of each group, indexed like `sizes`.

    Raises:
        As `assign_splits`.
    """
    check_ratios(ratios, tolerance)
    _refuse_stratified_time(strata, times)
    if strata is None:
        return _unit_splits(sizes, ratios, tolerance, salt, locked, times)
    assigned = pd.Series(np.empty(len(sizes), dtype=object), index=sizes.index)
    for stratum in sorted(pd.unique(strata)):
        mask = (strata == stratum).to_numpy()
        assigned[mask] = _unit_splits(sizes[mask], ratios, tolerance, salt, locked).to_numpy()
    return assigned


def _assign(groups: pd.Series, ratios: dict[str, float], tolerance: float, salt: str,
            times: pd.Series | None, locked: frozenset[str] = frozenset()) -> np.ndarray:
    sizes = groups.value_counts(sort=False)
    group_times = None
    if times is not None:
        numbers, unit_of_row = time_numbers(times).to_numpy(), sizes.index.get_indexer(groups.to_numpy())
        first = pd.Series(numbers).groupby(unit_of_row).min().sort_index().to_numpy()
        group_times = GroupTimes(
            first, lambda ends: np.bincount(unit_of_row, numbers < ends[unit_of_row], minlength=len(sizes)), times)
    return _unit_splits(sizes, ratios, tolerance, salt, locked, group_times).reindex(groups.to_numpy()).to_numpy()


def _unit_splits(sizes: pd.Series, ratios: dict[str, float], tolerance: float, salt: str,
                 locked: frozenset[str], time_rows: GroupTimes | None = None) -> pd.Series:
    """The split of each group (unit) from its rows per group; `time_rows` orders the units in time instead."""
    keys = sizes.index.astype(str)
    digests = list(_digests(keys, salt))
    positions = _positions(digests)
    is_locked = np.fromiter((d.hex() in locked for d in digests), dtype=bool, count=len(keys)) if locked else (
        np.zeros(len(keys), dtype=bool))
    # Locked groups come after every other group and no cut falls among them: they are the
    # holdout's first members, and the cuts are chosen on the groups that remain.
    free = int((~is_locked).sum())
    allowed = np.ones(len(keys) + 1, dtype=bool)
    allowed[free + 1:] = False
    if time_rows is not None:
        first = time_rows.first
        # A group's position becomes the share of rows that came before its first time.
        unlocked = np.flatnonzero(~is_locked)
        by_time = unlocked[np.lexsort((positions[unlocked], first[unlocked]))]
        counts = sizes.to_numpy()[by_time]
        positions = np.zeros(len(keys))
        positions[by_time] = (np.cumsum(counts) - counts) / int(sizes.sum())
    order = np.lexsort((np.asarray(keys), positions, is_locked))
    if time_rows is not None:
        # Groups that start at the same time stay on one side of every cut.
        starts = first[order]
        if free > 1:
            allowed[1:free] &= starts[:free - 1] < starts[1:free]
    sorted_pos = positions[order][:free]
    weights = sizes.to_numpy()
    # In time order a group keeps only its rows before the next split's start, so the cuts are
    # chosen again on the rows that remain until they no longer move.
    for _ in range(TIME_CUT_ROUNDS if time_rows is not None else 1):
        cuts = _cuts(weights[order], sorted_pos, ratios, tolerance, allowed)
        if time_rows is None:
            break
        _refuse_tied_cut(cuts, starts, time_rows.times)
        split_of_unit = np.empty(len(keys), dtype=np.int64)
        for k, (start, stop) in enumerate(zip([0, *cuts], [*cuts, len(keys)])):
            split_of_unit[order[start:stop]] = k
        # A split's period ends where the next split's first unlocked group starts.
        next_start = np.array([starts[cut] if cut < free else np.inf for cut in cuts] + [np.inf])
        kept = time_rows.rows_before(next_start[split_of_unit])
        if np.array_equal(kept, weights):
            break
        weights = kept
    unit_split = np.empty(len(keys), dtype=object)
    bounds = [0, *cuts, len(keys)]
    for name, start, stop in zip(SPLITS, bounds[:-1], bounds[1:]):
        unit_split[order[start:stop]] = name
    return pd.Series(unit_split, index=sizes.index)


def _cuts(weights: np.ndarray, sorted_pos: np.ndarray, ratios: dict[str, float], tolerance: float,
          allowed: np.ndarray) -> list[int]:
    """The three cut indices over units in split order, each unit weighing its rows."""
    cum = np.concatenate([[0.0], np.cumsum(weights) / weights.sum()])
    shares = [ratios[s] for s in SPLITS]
    cuts, lo, prev = [], 0, 0.0
    for k in range(len(SPLITS) - 1):
        target = float(sum(shares[: k + 1]))
        hash_cut = int(np.searchsorted(sorted_pos, target))
        remainder = shares[-1] if k == len(SPLITS) - 2 else None
        cut = _choose_cut(cum, lo, target, prev, shares[k], hash_cut, tolerance, remainder, allowed)
        cuts.append(cut)
        lo, prev = cut, float(cum[cut])
    return cuts


def _refuse_tied_cut(cuts: list[int], starts: np.ndarray, times: pd.Series) -> None:
    """Raises when a split got no group because the groups around its cut all start together."""
    for k, (start, stop) in enumerate(zip([0, *cuts], [*cuts, len(starts)])):
        if start == stop:
            tied = starts[min(start, len(starts) - 1)]
            sharing = int((starts == tied).sum())
            raise DataLeakageError(
                f"cannot order the splits in time: {sharing} of {len(starts)} groups start at the same time "
                f"{_time_text(times, tied)}, so no cut gives the {SPLITS[k]} split its own, later period; this "
                "column does not order the patients (they start together), use the hash split without a time column"
            )


def _time_text(times: pd.Series, value: float) -> str | float:
    """A time for messages and the manifest: ISO text for dates, the number otherwise."""
    if pd.api.types.is_datetime64_any_dtype(times):
        return pd.Timestamp(int(value)).isoformat()
    return float(value)


def split_starts(assignment: np.ndarray, first: np.ndarray, ordered: np.ndarray) -> dict[str, float]:
    """Each split's first time in the time order, in `SPLITS` order, for the splits that have one.

    Args:
        assignment: The split of each row (or of each group).
        first: The time of each row (`time_numbers`), or each group's first time: a split
            starts at the earliest of either.
        ordered: Which rows (or groups) are in the time order: all but the locked holdout.
    """
    return {name: float(first[ordered & (assignment == name)].min()) for name in SPLITS
            if (ordered & (assignment == name)).any()}


def follow_up_rows(assignment: np.ndarray, numbers: np.ndarray, ordered: np.ndarray,
                   starts: dict[str, float]) -> np.ndarray:
    """Which rows to drop: rows in the time order at or after the start of the next split that has one.

    Each row is judged by its own split, time and `split_starts` alone, so a table can be
    judged in pieces (per partition) with the same result.
    """
    present = list(starts)
    late = np.zeros(len(numbers), dtype=bool)
    for name, following in zip(present, present[1:]):
        late |= ordered & (assignment == name) & (numbers >= starts[following])
    return late


def time_order_section(times: pd.Series, starts: dict[str, float], dropped: dict[str, int],
                       truncated: dict[str, int], ranges: dict[str, tuple[float, float]], locked_groups: int) -> dict:
    """Verifies the time order of the kept rows and returns the manifest's `time_order` section.

    Args:
        times: The time column, or an empty series of its dtype (how times are written).
        starts: `split_starts`.
        dropped: Rows dropped as follow-up, by split.
        truncated: Groups that lost follow-up rows, by split.
        ranges: The earliest and latest kept row of each split in `starts`, in the time order.
        locked_groups: Groups of the locked holdout, outside the time order.

    Raises:
        DataLeakageError: A split still has a row not earlier than the next split's first row.
    """
    present = list(starts)
    for name, following in zip(present, present[1:]):
        if ranges[name][1] >= ranges[following][0]:
            raise DataLeakageError(
                f"time order violated: the {name} split reaches {_time_text(times, ranges[name][1])}, not before the "
                f"{following} split starts at {_time_text(times, ranges[following][0])}"
            )
    return {
        "rule": "groups cut by first time, ties kept together; rows at or after the next split's start dropped",
        "rows_dropped": sum(dropped.get(name, 0) for name in present[:-1]),
        "rows_dropped_by_split": {name: dropped.get(name, 0) for name in present[:-1]},
        "groups_truncated_by_split": {name: truncated.get(name, 0) for name in present[:-1]},
        "time_ranges": {name: [_time_text(times, ranges[name][0]), _time_text(times, ranges[name][1])]
                        for name in present},
        "locked_groups_outside_time_order": locked_groups,
    }


def order_in_time(assignment: np.ndarray, groups: pd.Series, times: pd.Series,
                  locked_rows: np.ndarray | None = None) -> tuple[np.ndarray, dict]:
    """Drops follow-up rows that fall in a later split's period and verifies the row order.

    Args:
        assignment: The split of each row, from `assign_splits` with these times.
        groups: The grouping key of each row.
        times: The time of each row.
        locked_rows: Rows of groups locked in the holdout, which stay whole and outside the
            time order (see the module docstring); None for none.

    Returns:
        A mask of the rows to keep and the manifest's `time_order` section: the rule, rows
        and groups dropped per split, and each split's time range after the drop.

    Raises:
        DataLeakageError: A split still has a row not earlier than the next split's first row.
    """
    numbers = time_numbers(times).to_numpy()
    ordered = np.ones(len(numbers), dtype=bool) if locked_rows is None else ~locked_rows
    starts = split_starts(assignment, numbers, ordered)
    late = follow_up_rows(assignment, numbers, ordered, starts)
    dropped = {name: int((late & (assignment == name)).sum()) for name in starts}
    truncated = {name: int(pd.unique(groups[late & (assignment == name)]).size) for name in starts}
    kept = {name: numbers[ordered & ~late & (assignment == name)] for name in starts}
    ranges = {name: (values.min(), values.max()) for name, values in kept.items()}
    locked_groups = 0 if locked_rows is None else int(pd.unique(groups[locked_rows]).size)
    return ~late, time_order_section(times, starts, dropped, truncated, ranges, locked_groups)


def follow_up_reason(time_section: dict | None) -> str:
    """What a ratio out of tolerance owes to the follow-up rows the time order dropped, or ""."""
    if time_section is None or not time_section["rows_dropped"]:
        return ""
    return (f", after dropping {time_section['rows_dropped']} follow-up rows that fall in a later split's "
            f"period ({time_section['rows_dropped_by_split']})")


def check_split_counts(rows: dict[str, int], positives: dict[str, int], ratios: dict[str, float] = DEFAULT_RATIOS,
                       tolerance: float = DEFAULT_TOLERANCE) -> None:
    """Checks each split's share of rows and that the splits that need both classes have them.

    Args:
        rows: Rows of each split.
        positives: Positive rows of each split.
        ratios: Expected row shares.
        tolerance: Allowed absolute deviation per split.

    Raises:
        SplitRatioViolationError: A split's row share is out of tolerance.
        InvalidInputError: A split that needs both classes has one.
    """
    total = sum(rows.values())
    for name in SPLITS:
        actual = rows[name] / total
        if abs(actual - ratios[name]) > tolerance:
            raise SplitRatioViolationError(
                f"{name} ratio {actual:.4f} deviates from expected {ratios[name]:.2f} beyond "
                f"tolerance ±{tolerance} ({rows[name]} of {total} rows)"
            )
    for name in SPLITS_NEEDING_BOTH_CLASSES:
        if positives[name] in (0, rows[name]):
            raise InvalidInputError(
                f"the {name} split has only class {int(positives[name] > 0) if rows[name] else 'none'}; "
                "it needs both (more data, or another split salt)"
            )


def verify_splits(splits: dict[str, pd.DataFrame], ratios: dict[str, float] = DEFAULT_RATIOS,
                  tolerance: float = DEFAULT_TOLERANCE,
                  max_duplicate_share: float = DEFAULT_MAX_DUPLICATE_SHARE) -> dict:
    """Checks the written splits after the fact.

    Args:
        splits: Canonical tables by split name.
        ratios: Expected row shares.
        tolerance: Allowed absolute deviation per split.
        max_duplicate_share: The largest share of test or holdout rows that may repeat the
            feature values of one train patient (`leakage.duplicates_across`).

    Returns:
        The duplicates section of the manifest (rows matching a patient of another split,
        per pair of splits).

    Raises:
        SplitRatioViolationError: A split's row share is out of tolerance.
        DataLeakageError: A group occurs in two splits, or too many test or holdout rows
            repeat a train patient.
        InvalidInputError: A split that needs both classes has one.
    """
    check_split_counts({name: len(splits[name]) for name in SPLITS},
                       {name: int(splits[name][LABEL_COLUMN].sum()) for name in SPLITS}, ratios, tolerance)
    owners = pd.concat(
        [pd.DataFrame({"group": f[GROUP_COLUMN].unique(), "split": name}) for name, f in splits.items()]
    )
    shared = owners.groupby("group")["split"].nunique()
    leaked = shared[shared > 1]
    if len(leaked):
        examples = list(leaked.index[:LEAK_EXAMPLES])
        raise DataLeakageError(f"{len(leaked)} groups appear in more than one split, e.g. {examples}")
    return duplicates_across(splits, max_duplicate_share)


@dataclass
class SplitResult:
    """The four canonical tables, the manifest that describes them and each group's split.

    Attributes:
        tables: The split tables by split name.
        manifest: The split manifest.
        groups: One row per group: `group_hash` (`group_hashes` of its key) and `split`; what
            the experiment's holdout lock is grown from.
    """

    tables: dict[str, pd.DataFrame]
    manifest: dict
    groups: pd.DataFrame | None = None


GROUP_HASH = "group_hash"
SPLIT = "split"


def _group_table(tables: dict[str, pd.DataFrame], salt: str) -> pd.DataFrame:
    """Every group's salted hash and split, sorted by hash."""
    keys = {name: pd.unique(t[GROUP_COLUMN]) for name, t in tables.items()}
    frame = pd.DataFrame({
        GROUP_HASH: [h for name in SPLITS for h in group_hashes(keys[name], salt)],
        SPLIT: [name for name in SPLITS for _ in keys[name]],
    })
    return frame.sort_values(GROUP_HASH, ignore_index=True)


def _lock_section(groups: pd.DataFrame, locked: frozenset[str], tables: dict[str, pd.DataFrame], salt: str) -> dict:
    """The manifest's `holdout_lock`; raises if a locked group left the holdout."""
    placed = groups[groups[GROUP_HASH].isin(locked)]
    astray = placed[placed[SPLIT] != HOLDOUT]
    if len(astray):
        raise DataLeakageError(
            f"{len(astray)} groups locked in the experiment's holdout were put in another split "
            f"({astray[SPLIT].value_counts().to_dict()}); the split is refused"
        )
    holdout = tables[HOLDOUT]
    locked_rows = int(np.isin(group_hashes(holdout[GROUP_COLUMN], salt), list(locked)).sum()) if locked else 0
    in_holdout = int((groups[SPLIT] == HOLDOUT).sum())
    return {
        "lock_size": len(locked),
        "locked_groups": len(placed),
        "locked_rows": locked_rows,
        "new_groups": in_holdout - len(placed),
    }


def _lock_reason(prepared: pd.DataFrame, locked: frozenset[str], salt: str) -> str:
    """Why a ratio may be out of reach: how much of the data the lock holds in the holdout."""
    keys = pd.unique(prepared[GROUP_COLUMN])
    held = [k for k, h in zip(keys, group_hashes(keys, salt)) if h in locked]
    if not held:
        return ""
    rows = int(prepared[GROUP_COLUMN].isin(held).sum())
    return (f"; {len(held)} groups ({rows} rows, {rows / len(prepared):.1%} of the rows) are locked in the holdout "
            "by earlier runs of this experiment and never leave it: choose ratios with room for them "
            "(--split-ratios) or a new --experiment")


def split_table(prepared: pd.DataFrame, ratios: dict[str, float] = DEFAULT_RATIOS,
                tolerance: float = DEFAULT_TOLERANCE, salt: str = DEFAULT_SPLIT_SALT, *,
                stratify: bool = False, times: pd.Series | None = None,
                max_duplicate_share: float = DEFAULT_MAX_DUPLICATE_SHARE,
                allow_features: tuple[str, ...] = (), locked: frozenset[str] = frozenset()) -> SplitResult:
    """Splits a canonical table, verifies the result and builds its manifest.

    Args:
        prepared: The output of `schema.prepare`.
        ratios: Expected row shares.
        tolerance: Allowed deviation per split.
        salt: Salt of the group hash.
        stratify: Split groups with a positive row and the others separately, so every
            split gets its share of positive patients.
        times: A sortable time per row (`schema.time_order`) for a time-ordered split (see
            the module docstring), or None.
        max_duplicate_share: The largest share of test or holdout rows that may repeat the
            feature values of one train patient; 0 refuses any, 1 only counts.
        allow_features: Features exempt from the target-leakage check (recorded as allowed).
        locked: Hashes (`group_hashes`) of the experiment's locked holdout groups; those in
            the data go to the holdout, the others are ignored (see the module docstring).

    Returns:
        The verified split tables, every group's hash and split, and a manifest with per-split
        rows, groups, positive rate and fingerprint (and time range), the duplicate counts per
        pair of splits, the target-leakage findings on train, the holdout lock (`holdout_lock`:
        the lock's size, its groups and rows in this data, new holdout groups), plus a
        fingerprint of the whole manifest.

    Raises:
        DataLeakageError: Groups in two splits, re-identified patients over the threshold,
            a feature that alone separates the label on train, or a time order that
            cannot hold.
        SplitRatioViolationError: A split's share of rows is out of tolerance (with how much
            the holdout lock holds, when it holds any of this data).
    """
    groups = prepared[GROUP_COLUMN]
    strata = prepared.groupby(GROUP_COLUMN)[LABEL_COLUMN].transform("max") if stratify else None
    assignment = assign_splits(groups, ratios, tolerance, salt, strata, times, locked)
    keep, time_section = np.ones(len(prepared), dtype=bool), None
    if times is not None:
        locked_rows = None
        if locked:
            keys = pd.Index(pd.unique(groups))
            held = keys[np.isin(group_hashes(keys, salt), list(locked))]
            locked_rows = groups.isin(held).to_numpy()
        keep, time_section = order_in_time(assignment, groups, times, locked_rows)
    tables = {name: prepared[keep & (assignment == name)].reset_index(drop=True) for name in SPLITS}
    try:
        duplicates = verify_splits(tables, ratios, tolerance, max_duplicate_share)
    except SplitRatioViolationError as exc:
        reason = str(exc) + follow_up_reason(time_section)
        reason += _lock_reason(prepared, locked, salt) if locked else ""
        if reason == str(exc):
            raise
        raise SplitRatioViolationError(reason) from exc
    group_splits = _group_table(tables, salt)
    lock_section = _lock_section(group_splits, locked, tables, salt)
    target_leakage = check_target_leakage(tables[TRAIN], allow_features)
    per_split = {
        name: {
            "rows": len(t),
            "groups": int(t[GROUP_COLUMN].nunique()),
            "positive_rate": round(float(t[LABEL_COLUMN].mean()), 6),
            "ratio": round(len(t) / int(keep.sum()), 6),
            "fingerprint": fingerprint(t),
        }
        for name, t in tables.items()
    }
    if time_section is not None:
        for name, time_range in time_section["time_ranges"].items():
            per_split[name]["time_range"] = time_range
    manifest = {
        "data_fingerprint": fingerprint(prepared),
        "salt": salt,
        "stratified": stratify,
        "time_ordered": time_section is not None,
        "ratios": ratios,
        "tolerance": tolerance,
        "total_rows": int(keep.sum()),
        "duplicate_rows_across_splits": sum(pair["rows"] for pair in duplicates["pairs"].values()),
        "duplicates": duplicates,
        "target_leakage": target_leakage,
        "splits": per_split,
        "holdout_lock": lock_section,
    }
    if time_section is not None:
        manifest["time_order"] = time_section
    manifest["fingerprint"] = manifest_fingerprint(manifest)
    return SplitResult(tables, manifest, group_splits)


def manifest_fingerprint(manifest: dict) -> str:
    """A SHA-256 over the data fingerprint, the salt and each split's fingerprint."""
    core = {
        "data": manifest["data_fingerprint"],
        "salt": manifest["salt"],
        "splits": {k: v["fingerprint"] for k, v in manifest["splits"].items()},
    }
    return hashlib.sha256(json.dumps(core, sort_keys=True).encode()).hexdigest()
