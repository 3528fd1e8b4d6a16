import pandas as pd
import pytest
from conftest import COVID_SPEC, KOSTECKI_SPEC

from sealtrain.components.core import schema, splitting
from sealtrain.components.core.constants import DEFAULT_RATIOS, GROUP_COLUMN, LABEL_COLUMN, SPLITS
from sealtrain.components.core.errors import DataLeakageError, InvalidInputError, SplitRatioViolationError


@pytest.mark.parametrize("fixture", ["kostecki_splits", "covid_splits"])
def test_real_data_splits_meet_ratios_and_keep_patients_whole(fixture, request):
    result = request.getfixturevalue(fixture)
    total = sum(len(t) for t in result.tables.values())
    owners = {}
    for name in SPLITS:
        assert abs(len(result.tables[name]) / total - DEFAULT_RATIOS[name]) <= 0.02
        for group in result.tables[name][GROUP_COLUMN].unique():
            assert owners.setdefault(group, name) == name, f"group {group} in {owners[group]} and {name}"
    assert result.manifest["total_rows"] == total


def test_same_data_and_salt_give_byte_identical_splits(kostecki, kostecki_splits):
    again = splitting.split_table(schema.prepare(kostecki, KOSTECKI_SPEC, "k"))
    assert again.manifest == kostecki_splits.manifest
    other_salt = splitting.split_table(schema.prepare(kostecki, KOSTECKI_SPEC, "k"), salt="another")
    assert other_salt.manifest["fingerprint"] != kostecki_splits.manifest["fingerprint"]


def test_row_order_does_not_change_any_patient_split(covid):
    prepared = schema.prepare(covid, COVID_SPEC, "c")
    shuffled = prepared.sample(frac=1.0, random_state=7).reset_index(drop=True)
    first = dict(zip(prepared[GROUP_COLUMN], splitting.assign_splits(prepared[GROUP_COLUMN])))
    second = dict(zip(shuffled[GROUP_COLUMN], splitting.assign_splits(shuffled[GROUP_COLUMN])))
    assert first == second


def test_patients_keep_their_split_when_the_data_grows(covid):
    prepared = schema.prepare(covid, COVID_SPEC, "c")
    early = prepared.iloc[: len(prepared) * 3 // 4]
    before = dict(zip(early[GROUP_COLUMN], splitting.assign_splits(early[GROUP_COLUMN])))
    after = dict(zip(prepared[GROUP_COLUMN], splitting.assign_splits(prepared[GROUP_COLUMN])))
    moved = sum(before[g] != after[g] for g in before)
    assert moved / len(before) < 0.01


def test_verification_names_a_split_out_of_tolerance(kostecki_splits):
    tables = dict(kostecki_splits.tables)
    tables["holdout"] = pd.concat([tables["holdout"], tables["train"].iloc[:300]])
    tables["train"] = tables["train"].iloc[300:]
    with pytest.raises(SplitRatioViolationError, match=r"train ratio 0\.5\d+ deviates from expected 0\.60"):
        splitting.verify_splits(tables)


def test_verification_reports_leaked_patients_with_examples(kostecki_splits):
    tables = dict(kostecki_splits.tables)
    leaked = tables["train"][tables["train"][GROUP_COLUMN] == tables["train"][GROUP_COLUMN].iloc[0]].head(1)
    tables["test"] = pd.concat([tables["test"], leaked])
    with pytest.raises(DataLeakageError, match=r"1 groups appear in more than one split, e.g. \['"):
        splitting.verify_splits(tables)


def test_duplicate_feature_rows_below_the_threshold_are_counted_and_over_it_fail(kostecki_splits):
    tables = dict(kostecki_splits.tables)
    twin = tables["train"].head(2).assign(**{GROUP_COLUMN: "twin"})
    tables["holdout"] = pd.concat([tables["holdout"], twin], ignore_index=True)
    counted = splitting.verify_splits(tables, max_duplicate_share=1.0)
    assert counted["pairs"]["train/holdout"]["rows"] == 2
    with pytest.raises(DataLeakageError, match=r"2 of \d+ holdout rows .* repeat the feature values of one train"):
        splitting.verify_splits(tables, max_duplicate_share=0.0)


def test_a_split_with_one_class_is_refused(kostecki_splits):
    tables = dict(kostecki_splits.tables)
    tables["test"] = tables["test"].assign(**{LABEL_COLUMN: 1})
    with pytest.raises(InvalidInputError, match="the test split has only class 1"):
        splitting.verify_splits(tables)


@pytest.mark.parametrize(
    ("ratios", "message"),
    [
        ({"train": 0.6, "validation": 0.2, "test": 0.2}, "must name exactly"),
        ({"train": 0.6, "validation": 0.2, "test": 0.15, "holdout": 0.1}, "must sum to 1"),
        ({"train": 0.8, "validation": 0.2, "test": 0.0, "holdout": 0.0}, "must be positive"),
    ],
)
def test_bad_ratios_are_refused(ratios, message):
    with pytest.raises(InvalidInputError, match=message):
        splitting.check_ratios(ratios, 0.02)


def test_without_a_group_column_exact_duplicates_stay_together(kostecki):
    doubled = pd.concat([kostecki, kostecki], ignore_index=True).drop(columns=["id"])
    spec = schema.DatasetSpec("headache", "yes", drop=("rownames",))
    result = splitting.split_table(schema.prepare(doubled, spec, "k"))
    assert result.manifest["duplicate_rows_across_splits"] == 0


def test_stratified_split_gives_each_split_its_share_of_positive_patients(covid):
    result = splitting.split_table(schema.prepare(covid, COVID_SPEC, "c"), stratify=True)
    assert result.manifest["stratified"] is True
    positives = {name: t.groupby(GROUP_COLUMN)[LABEL_COLUMN].max().sum() for name, t in result.tables.items()}
    total = sum(positives.values())
    for name in SPLITS:
        assert abs(positives[name] / total - DEFAULT_RATIOS[name]) <= 0.02, positives


def test_time_ordered_split_puts_later_periods_in_test_and_holdout(kostecki):
    spec = schema.DatasetSpec("headache", "yes", "id", ("rownames",), time="dos")
    prepared = schema.prepare(kostecki, spec, "k")
    assert "dos" not in prepared.columns
    times = schema.time_order(kostecki, spec)
    assignment = splitting.assign_splits(prepared[GROUP_COLUMN], times=times)
    first = pd.Series(times.to_numpy()).groupby(prepared[GROUP_COLUMN].to_numpy()).min()
    starts = {name: first[pd.unique(prepared[GROUP_COLUMN][assignment == name])] for name in SPLITS}
    assert starts["train"].max() < starts["validation"].min()
    assert starts["validation"].max() < starts["test"].min()
    assert starts["test"].max() < starts["holdout"].min()


def test_dates_are_parsed_and_bad_times_named():
    frame = pd.DataFrame({"when": ["2020-01-02", "2020-01-01", None]})
    spec = schema.DatasetSpec("y", time="when")
    with pytest.raises(InvalidInputError, match="time column 'when' has 1 missing values"):
        schema.time_order(frame, spec)
    ordered = schema.time_order(frame.dropna(), spec)
    assert ordered.iloc[0] > ordered.iloc[1]
    with pytest.raises(InvalidInputError, match="time column 'when' is neither numbers nor dates"):
        schema.time_order(pd.DataFrame({"when": ["soon", "later"]}), spec)
