import numpy as np
import pandas as pd
import pytest
from conftest import KOSTECKI_SPEC

from sealtrain.components.core import quality, schema
from sealtrain.components.core.constants import GROUP_COLUMN, QC_FAILED, QC_PASSED, QC_WARNING
from sealtrain.components.core.errors import InvalidInputError, QCGateBlockedError


def test_prepare_encodes_label_and_keeps_group_and_dropped_out_of_features(kostecki):
    prepared = schema.prepare(kostecki, KOSTECKI_SPEC, "k")
    features, labels = schema.split_xy(prepared)
    assert set(features.columns) == set(kostecki.columns) - {"headache", "id", "rownames"}
    assert labels.tolist() == (kostecki["headache"] == "yes").astype(int).tolist()
    assert prepared[GROUP_COLUMN].tolist() == kostecki["id"].astype(str).tolist()


def test_positive_class_is_inferred_for_zero_one_labels():
    frame = pd.DataFrame({"y": [0, 1, 1, 0], "x": [1.0, 2.0, 3.0, 4.0]})
    assert schema.encode_label(frame["y"], schema.DatasetSpec("y")).tolist() == [0, 1, 1, 0]


@pytest.mark.parametrize(
    ("values", "spec_kwargs", "message"),
    [
        (["a", "b", "c", "a"], {}, "exactly two values, found 3"),
        (["a", "a", "a", "a"], {}, "exactly two values, found 1"),
        (["a", None, "b", "a"], {}, "1 missing values"),
        (["a", "b", "a", "b"], {"positive_class": "z"}, "positive class 'z' does not occur"),
        (["yes", "no", "no", "yes"], {}, "name the positive one"),
    ],
)
def test_unusable_labels_are_refused_by_column_name(values, spec_kwargs, message):
    spec = schema.DatasetSpec("outcome", **spec_kwargs)
    with pytest.raises(InvalidInputError, match=message) as caught:
        schema.encode_label(pd.Series(values), spec)
    assert "outcome" in str(caught.value)


def test_missing_columns_are_all_named(kostecki):
    spec = schema.DatasetSpec("nolabel", group="nogroup", drop=("nodrop",))
    with pytest.raises(InvalidInputError) as caught:
        schema.prepare(kostecki, spec, "data.csv")
    text = str(caught.value)
    assert "data.csv" in text
    for part in ("label column 'nolabel'", "group column 'nogroup'", "drop column 'nodrop'"):
        assert part in text


def test_missing_group_ids_and_infinite_values_are_refused(kostecki):
    with_gaps = kostecki.astype({"id": "float64"})
    with_gaps.loc[3, "id"] = np.nan
    with pytest.raises(InvalidInputError, match="group column 'id' has 1 missing ids"):
        schema.prepare(with_gaps, KOSTECKI_SPEC, "k")
    infinite = kostecki.copy()
    infinite.loc[0, "airq"] = np.inf
    with pytest.raises(InvalidInputError, match="feature column 'airq' has 1 infinite values"):
        schema.prepare(infinite, KOSTECKI_SPEC, "k")


def test_rows_without_group_are_keyed_by_content_so_duplicates_share_a_key(kostecki):
    frame = pd.concat([kostecki, kostecki.head(5)], ignore_index=True)
    spec = schema.DatasetSpec("headache", "yes", drop=("rownames",))
    keys = schema.group_keys(frame, spec)
    assert keys.iloc[-5:].tolist() == keys.iloc[:5].tolist()
    assert keys.nunique() < len(frame)


def test_qc_report_passes_clean_real_data(kostecki):
    clean = kostecki.drop(columns=["rownames"]).drop_duplicates()
    report = quality.compute_report(clean, schema.DatasetSpec("headache", "yes", "id"))
    assert report.status == QC_PASSED, report.problems
    assert report.overall_score == 1.0
    assert quality.gate(report) == QC_PASSED


def test_qc_report_fails_on_too_few_groups_and_says_how_many(kostecki):
    few = kostecki[kostecki["id"].isin(kostecki["id"].unique()[:10])]
    report = quality.compute_report(few, KOSTECKI_SPEC)
    assert report.status == QC_FAILED
    with pytest.raises(QCGateBlockedError, match=r"score .*10 groups in 'id'; at least 20 are needed"):
        quality.gate(report)


def test_qc_report_warns_on_constant_and_empty_columns(kostecki):
    frame = kostecki.assign(site="A", empty=np.nan)
    report = quality.compute_report(frame, KOSTECKI_SPEC)
    assert report.status == QC_WARNING
    details = " ".join(c.detail for c in report.problems)
    assert "'site'" in details and "'empty'" in details
    assert quality.gate(report) == QC_WARNING


def test_upstream_report_is_validated_and_gated():
    assert quality.parse_report('{"status": "WARNING", "overall_score": 0.7}').status == QC_WARNING
    with pytest.raises(QCGateBlockedError, match="score 0.2"):
        quality.gate(quality.parse_report('{"status": "FAILED", "overall_score": 0.2}'))
    with pytest.raises(InvalidInputError, match="'status' must be one of"):
        quality.parse_report('{"status": "OK"}')
    with pytest.raises(InvalidInputError, match="not valid JSON"):
        quality.parse_report("status: PASSED")
