"""Group-aware, deterministic train/validation/test/holdout splits and their verification.

Each group (patient) gets a position in [0, 1) from a salted SHA-256 of its id. Groups are
ordered by position and the ordered list is cut into four contiguous runs. A cut starts at
the position threshold of the ratios (so a patient's split depends only on its own id and
the salt) and moves the fewest groups needed to bring the row ratios within tolerance.
A time-ordered split uses each group's first time as its position instead.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .constants import (
    DEFAULT_RATIOS,
    DEFAULT_SPLIT_SALT,
    DEFAULT_TOLERANCE,
    GROUP_COLUMN,
    LABEL_COLUMN,
    SPLITS,
    TEST,
    TRAIN,
    VALIDATION,
)
from .errors import DataLeakageError, InvalidInputError, SplitRatioViolationError
from .tables import fingerprint

# Splits that need both classes: training, tuning/threshold choice and the test metrics.
SPLITS_NEEDING_BOTH_CLASSES = (TRAIN, VALIDATION, TEST)
LEAK_EXAMPLES = 5


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


def unit_positions(keys: pd.Index, salt: str) -> np.ndarray:
    """Maps each key to a position in [0, 1) by a salted SHA-256 (stable across runs and data growth)."""
    prefix = f"{salt}\x1f".encode()
    return np.fromiter(
        (int.from_bytes(hashlib.sha256(prefix + str(k).encode()).digest()[:8], "big") / 2**64 for k in keys),
        dtype=np.float64,
        count=len(keys),
    )


def _choose_cut(cum: np.ndarray, lo: int, target: float, prev: float, ratio: float, hash_cut: int,
                tolerance: float, remainder: float | None) -> int:
    """Picks the cut index (number of units before it) for one boundary.

    `cum[c]` is the row fraction of the first c units. A cut within half the tolerance of the
    cumulative target keeps every split in tolerance whatever the other cuts do; failing that,
    one that keeps this split (and the remainder, at the last cut) in tolerance; failing that,
    the one closest to the target, which verification will then reject by name.
    """
    candidates = np.arange(lo, len(cum))
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
                  strata: pd.Series | None = None, times: pd.Series | None = None) -> np.ndarray:
    """Assigns every row a split name, keeping each group whole.

    Args:
        groups: The grouping key of each row.
        ratios: Expected share of rows per split, in `SPLITS` order.
        tolerance: Allowed absolute deviation of each split's row share.
        salt: Salt of the group hash; the same data and salt give the same assignment.
        strata: A stratum per row (constant within a group); each stratum is split on its
            own, so every split gets its share of each stratum.
        times: A sortable time per row; groups are then ordered by their first time
            instead of their hash, so later periods land in test and holdout.

    Returns:
        An array of split names aligned with `groups`.
    """
    check_ratios(ratios, tolerance)
    if strata is None:
        return _assign(groups, ratios, tolerance, salt, times)
    assigned = np.empty(len(groups), dtype=object)
    for stratum in sorted(pd.unique(strata)):
        mask = (strata == stratum).to_numpy()
        assigned[mask] = _assign(groups[mask], ratios, tolerance, salt, None if times is None else times[mask])
    return assigned


def _assign(groups: pd.Series, ratios: dict[str, float], tolerance: float, salt: str,
            times: pd.Series | None) -> np.ndarray:
    sizes = groups.value_counts(sort=False)
    keys = sizes.index.astype(str)
    positions = unit_positions(keys, salt)
    if times is not None:
        # A group's position becomes the share of rows that came before its first time.
        first = times.groupby(groups.to_numpy()).min().reindex(sizes.index).to_numpy()
        by_time = np.lexsort((positions, first))
        counts = sizes.to_numpy()[by_time]
        positions = np.empty(len(keys))
        positions[by_time] = (np.cumsum(counts) - counts) / len(groups)
    order = np.lexsort((np.asarray(keys), positions))
    sorted_pos = positions[order]
    cum = np.concatenate([[0.0], np.cumsum(sizes.to_numpy()[order]) / len(groups)])
    shares = [ratios[s] for s in SPLITS]
    cuts, lo, prev = [], 0, 0.0
    for k in range(len(SPLITS) - 1):
        target = float(sum(shares[: k + 1]))
        hash_cut = int(np.searchsorted(sorted_pos, target))
        remainder = shares[-1] if k == len(SPLITS) - 2 else None
        cut = _choose_cut(cum, lo, target, prev, shares[k], hash_cut, tolerance, remainder)
        cuts.append(cut)
        lo, prev = cut, float(cum[cut])
    unit_split = np.empty(len(keys), dtype=object)
    bounds = [0, *cuts, len(keys)]
    for name, start, stop in zip(SPLITS, bounds[:-1], bounds[1:]):
        unit_split[order[start:stop]] = name
    lookup = pd.Series(unit_split, index=sizes.index)
    return lookup.reindex(groups.to_numpy()).to_numpy()


def verify_splits(splits: dict[str, pd.DataFrame], ratios: dict[str, float] = DEFAULT_RATIOS,
                  tolerance: float = DEFAULT_TOLERANCE, fail_on_duplicates: bool = False) -> int:
    """Checks the written splits after the fact.

    Args:
        splits: Canonical tables by split name.
        ratios: Expected row shares.
        tolerance: Allowed absolute deviation per split.
        fail_on_duplicates: Treat identical feature rows in two splits as leakage.

    Returns:
        The number of rows whose exact feature values occur in another split.

    Raises:
        SplitRatioViolationError: A split's row share is out of tolerance.
        DataLeakageError: A group occurs in two splits (or duplicates do, when asked).
        InvalidInputError: A split that needs both classes has one.
    """
    total = sum(len(f) for f in splits.values())
    for name in SPLITS:
        actual = len(splits[name]) / total
        if abs(actual - ratios[name]) > tolerance:
            raise SplitRatioViolationError(
                f"{name} ratio {actual:.4f} deviates from expected {ratios[name]:.2f} beyond "
                f"tolerance ±{tolerance} ({len(splits[name])} of {total} rows)"
            )
    owners = pd.concat(
        [pd.DataFrame({"group": f[GROUP_COLUMN].unique(), "split": name}) for name, f in splits.items()]
    )
    shared = owners.groupby("group")["split"].nunique()
    leaked = shared[shared > 1]
    if len(leaked):
        examples = list(leaked.index[:LEAK_EXAMPLES])
        raise DataLeakageError(f"{len(leaked)} groups appear in more than one split, e.g. {examples}")
    for name in SPLITS_NEEDING_BOTH_CLASSES:
        classes = splits[name][LABEL_COLUMN].unique()
        if len(classes) < 2:
            raise InvalidInputError(
                f"the {name} split has only class {int(classes[0]) if len(classes) else 'none'}; "
                "it needs both (more data, or another split salt)"
            )
    duplicates = _duplicates_across(splits)
    if duplicates and fail_on_duplicates:
        raise DataLeakageError(f"{duplicates} rows have exact feature duplicates in another split")
    return duplicates


def _duplicates_across(splits: dict[str, pd.DataFrame]) -> int:
    hashes = pd.concat(
        [
            pd.DataFrame({
                "row": pd.util.hash_pandas_object(f.drop(columns=[GROUP_COLUMN, LABEL_COLUMN]), index=False).to_numpy(),
                "split": name,
            })
            for name, f in splits.items()
        ]
    )
    spread = hashes.groupby("row")["split"].transform("nunique")
    return int((spread > 1).sum())


@dataclass
class SplitResult:
    """The four canonical tables and the manifest that describes them."""

    tables: dict[str, pd.DataFrame]
    manifest: dict


def split_table(prepared: pd.DataFrame, ratios: dict[str, float] = DEFAULT_RATIOS,
                tolerance: float = DEFAULT_TOLERANCE, salt: str = DEFAULT_SPLIT_SALT,
                fail_on_duplicates: bool = False, stratify: bool = False,
                times: pd.Series | None = None) -> SplitResult:
    """Splits a canonical table, verifies the result and builds its manifest.

    Args:
        prepared: The output of `schema.prepare`.
        ratios: Expected row shares.
        tolerance: Allowed deviation per split.
        salt: Salt of the group hash.
        fail_on_duplicates: Treat identical feature rows in two splits as leakage.
        stratify: Split groups with a positive row and the others separately, so every
            split gets its share of positive patients.
        times: A sortable time per row for a time-ordered split, or None.

    Returns:
        The verified split tables and a manifest with per-split rows, groups, positive rate
        and fingerprint, plus a fingerprint of the whole manifest.
    """
    groups = prepared[GROUP_COLUMN]
    strata = prepared.groupby(GROUP_COLUMN)[LABEL_COLUMN].transform("max") if stratify else None
    assignment = assign_splits(groups, ratios, tolerance, salt, strata, times)
    tables = {name: prepared[assignment == name].reset_index(drop=True) for name in SPLITS}
    duplicates = verify_splits(tables, ratios, tolerance, fail_on_duplicates)
    per_split = {
        name: {
            "rows": len(t),
            "groups": int(t[GROUP_COLUMN].nunique()),
            "positive_rate": round(float(t[LABEL_COLUMN].mean()), 6),
            "ratio": round(len(t) / len(prepared), 6),
            "fingerprint": fingerprint(t),
        }
        for name, t in tables.items()
    }
    manifest = {
        "data_fingerprint": fingerprint(prepared),
        "salt": salt,
        "stratified": stratify,
        "time_ordered": times is not None,
        "ratios": ratios,
        "tolerance": tolerance,
        "total_rows": len(prepared),
        "duplicate_rows_across_splits": duplicates,
        "splits": per_split,
    }
    manifest["fingerprint"] = manifest_fingerprint(manifest)
    return SplitResult(tables, manifest)


def manifest_fingerprint(manifest: dict) -> str:
    """A SHA-256 over the data fingerprint, the salt and each split's fingerprint."""
    core = {
        "data": manifest["data_fingerprint"],
        "salt": manifest["salt"],
        "splits": {k: v["fingerprint"] for k, v in manifest["splits"].items()},
    }
    return hashlib.sha256(json.dumps(core, sort_keys=True).encode()).hexdigest()
