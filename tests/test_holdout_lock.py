"""The experiment's locked holdout in the split itself: locked groups stay in the holdout, the
rest is split by hash as before, and the ratio check says when the lock is the reason it fails."""

import pandas as pd
import pytest
from conftest import COVID_SPEC, KOSTECKI_SPEC

from sealtrain.components.core import schema, splitting
from sealtrain.components.core.constants import GROUP_COLUMN, HOLDOUT, SPLITS
from sealtrain.components.core.errors import SplitRatioViolationError


def _holdout(result: splitting.SplitResult) -> frozenset[str]:
    groups = result.groups
    return frozenset(groups.loc[groups["split"] == HOLDOUT, "group_hash"])


def _owners(result: splitting.SplitResult) -> dict[str, str]:
    return dict(zip(result.groups["group_hash"], result.groups["split"]))


@pytest.fixture(scope="module")
def grown(covid):
    """covid_testing's first 75% of patients split alone, then all of them under the first split's lock."""
    prepared = schema.prepare(covid, COVID_SPEC, "c")
    patients = pd.unique(prepared[GROUP_COLUMN])
    early = prepared[prepared[GROUP_COLUMN].isin(patients[: len(patients) * 3 // 4])].reset_index(drop=True)
    first = splitting.split_table(early)
    second = splitting.split_table(prepared, locked=_holdout(first))
    return prepared, first, second


def test_a_locked_group_stays_in_the_holdout_when_the_data_grows(grown):
    _, first, second = grown
    locked, owners = _holdout(first), _owners(second)
    assert len(locked) > 100
    assert {owners[h] for h in locked} == {HOLDOUT}
    lock = second.manifest["holdout_lock"]
    holdout_groups = second.manifest["splits"][HOLDOUT]["groups"]
    assert lock == {
        "lock_size": len(locked), "locked_groups": len(locked), "new_groups": holdout_groups - len(locked),
        "locked_rows": int(second.tables[HOLDOUT][GROUP_COLUMN].isin(first.tables[HOLDOUT][GROUP_COLUMN]).sum()),
    }
    assert lock["new_groups"] > 0  # the new patients' holdout share is assigned by the hash
    assert first.manifest["holdout_lock"] == {"lock_size": 0, "locked_groups": 0, "locked_rows": 0, "new_groups":
                                              first.manifest["splits"][HOLDOUT]["groups"]}


def test_groups_outside_the_lock_keep_the_split_the_hash_gives_them(grown):
    prepared, first, second = grown
    unlocked = splitting.split_table(prepared)
    before, after = _owners(unlocked), _owners(second)
    moved = [h for h in after if h not in _holdout(first) and before[h] != after[h]]
    assert len(moved) < 0.01 * len(after)


def test_the_same_data_under_its_own_lock_gives_the_same_split(grown):
    prepared, _, second = grown
    again = splitting.split_table(prepared, locked=_holdout(second))
    assert {n: again.manifest["splits"][n]["fingerprint"] for n in SPLITS} == {
        n: second.manifest["splits"][n]["fingerprint"] for n in SPLITS}
    assert again.manifest["holdout_lock"]["new_groups"] == 0


def test_locked_groups_absent_from_the_data_are_counted_in_the_lock_only(kostecki, kostecki_splits):
    locked = _holdout(kostecki_splits) | {"0" * 64, "f" * 64}
    result = splitting.split_table(schema.prepare(kostecki, KOSTECKI_SPEC, "k"), locked=locked)
    assert result.manifest["holdout_lock"]["lock_size"] == len(locked)
    assert result.manifest["holdout_lock"]["locked_groups"] == len(locked) - 2
    assert result.manifest["holdout_lock"]["new_groups"] == 0
    assert result.manifest["splits"] == kostecki_splits.manifest["splits"]


def test_a_lock_too_big_for_the_ratios_fails_naming_the_lock(kostecki, kostecki_splits):
    train = kostecki_splits.groups[kostecki_splits.groups["split"] == "train"]["group_hash"]
    locked = _holdout(kostecki_splits) | frozenset(train[:12])
    reason = (r"(test|holdout) ratio 0\.\d+ deviates .*; \d+ groups \(\d+ rows, \d+\.\d% of the rows\) are locked in "
              r"the holdout by earlier runs of this experiment .*--split-ratios")
    with pytest.raises(SplitRatioViolationError, match=reason):
        splitting.split_table(schema.prepare(kostecki, KOSTECKI_SPEC, "k"), locked=locked)
    # With room for them, the same lock is kept.
    ratios = {"train": 0.5, "validation": 0.2, "test": 0.15, "holdout": 0.15}
    result = splitting.split_table(schema.prepare(kostecki, KOSTECKI_SPEC, "k"), ratios, 0.03, locked=locked)
    assert {_owners(result)[h] for h in locked} == {HOLDOUT}


def test_a_stratified_split_keeps_the_lock_in_every_stratum(grown):
    prepared, first, _ = grown
    result = splitting.split_table(prepared, stratify=True, locked=_holdout(first))
    assert {_owners(result)[h] for h in _holdout(first)} == {HOLDOUT}
    rates = [result.manifest["splits"][n]["positive_rate"] for n in SPLITS]
    assert max(rates) - min(rates) < 0.02


def test_a_time_split_keeps_locked_groups_in_the_holdout_outside_the_time_order(kostecki):
    spec = schema.DatasetSpec("headache", "yes", "id", ("rownames",), time="dos")
    prepared, times = schema.prepare(kostecki, spec, "k"), schema.time_order(kostecki, spec)
    plain = splitting.split_table(prepared, times=times)
    # Lock three groups the time order puts in train: they go to the holdout whole.
    train = plain.groups[plain.groups["split"] == "train"]["group_hash"]
    locked = frozenset(train[:3])
    result = splitting.split_table(prepared, times=times, locked=locked)
    assert {_owners(result)[h] for h in locked} == {HOLDOUT}
    order = result.manifest["time_order"]
    assert order["locked_groups_outside_time_order"] == 3
    assert result.manifest["time_ordered"] is True
    held = prepared[GROUP_COLUMN].isin(
        [k for k, h in zip(pd.unique(prepared[GROUP_COLUMN]), splitting.group_hashes(pd.unique(prepared[GROUP_COLUMN]),
                                                                                       "sealtrain")) if h in locked])
    assert result.tables[HOLDOUT][GROUP_COLUMN].isin(prepared.loc[held, GROUP_COLUMN]).sum() == held.sum()
    # The other groups are still in time order, split after split.
    ranges = [order["time_ranges"][n] for n in SPLITS if n in order["time_ranges"]]
    assert all(a[1] < b[0] for a, b in zip(ranges, ranges[1:]))
