"""The run store's cross-run tables on SQLite and the real Postgres: the locked holdout and the ledger."""

import pytest

from sealtrain.components.core import run_store, split_ledger
from sealtrain.components.core.constants import HOLDOUT, TEST
from sealtrain.components.core.errors import DataLeakageError, InvalidInputError, TestEvaluationLimitError


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'runs.db'}"
    return request.getfixturevalue("postgres_url")


def _on(url, work):
    return run_store.with_database(url, work)


def test_holdout_lock_grows_keeps_each_runs_groups_and_refuses_other_keys(db_url):
    assert _on(db_url, lambda e: split_ledger.read_lock(e, "exp", "salt", "id")) == frozenset()
    first = _on(db_url, lambda e: split_ledger.lock_holdout(
        e, experiment_id="exp", training_run_id="r1", salt="salt", group_column="id", holdout=["a", "b"],
        others=["c", "d"]))
    second = _on(db_url, lambda e: split_ledger.lock_holdout(
        e, experiment_id="exp", training_run_id="r2", salt="salt", group_column="id", holdout=["a", "b", "e"],
        others=["c", "d", "f"]))
    assert (first, second) == (2, 1)
    assert _on(db_url, lambda e: split_ledger.read_lock(e, "exp", "salt", "id")) == {"a", "b", "e"}
    assert _on(db_url, lambda e: split_ledger.run_holdout(e, "exp", "r1")) == {"a", "b"}
    with pytest.raises(InvalidInputError, match="another split salt.*--split-salt"):
        _on(db_url, lambda e: split_ledger.read_lock(e, "exp", "pepper", "id"))
    with pytest.raises(InvalidInputError, match="group column 'id'"):
        _on(db_url, lambda e: split_ledger.read_lock(e, "exp", "salt", "patient"))
    # A run that trained on a group another run locked meanwhile is refused, and locks nothing.
    with pytest.raises(DataLeakageError, match="1 groups this run used outside its holdout"):
        _on(db_url, lambda e: split_ledger.lock_holdout(
            e, experiment_id="exp", training_run_id="r3", salt="salt", group_column="id", holdout=["g"],
            others=["e", "h"]))
    assert _on(db_url, lambda e: split_ledger.run_holdout(e, "exp", "r3")) == frozenset()


def test_a_holdout_of_a_hundred_thousand_patients_is_locked_whole(db_url):
    """2M patients have a holdout of 100,000: more groups than one SQL statement takes variables for."""
    holdout = [f"{i:064x}" for i in range(100_000)]
    added = _on(db_url, lambda e: split_ledger.lock_holdout(
        e, experiment_id="big", training_run_id="r1", salt="salt", group_column="id", holdout=holdout,
        others=["a"]))
    assert added == len(holdout)
    assert _on(db_url, lambda e: split_ledger.read_lock(e, "big", "salt", "id")) == set(holdout)


def test_ledger_counts_models_once_and_budget_refuses_the_next(db_url):
    def record(model, **kw):
        return _on(db_url, lambda e: split_ledger.record_evaluation(
            e, experiment_id="exp", split=TEST, split_fingerprint="t1", training_run_id=f"run-{model}",
            model_fingerprint=model, **kw))

    assert record("m1") == 1
    assert record("m1") == 1  # a cached rerun of the same model
    assert record("m2") == 2

    def budget(limit, model=""):
        return _on(db_url, lambda e: split_ledger.require_test_budget(
            e, experiment_id="exp", test_fingerprint="t1", max_evaluations=limit, model_fingerprint=model))

    assert budget(0) == 2 and budget(3) == 2
    assert budget(2, model="m2") == 1  # its own earlier evaluation does not count against it
    with pytest.raises(TestEvaluationLimitError, match="evaluated by 2 models, and --max-test-evaluations is 2"):
        budget(2)
    # Another test split, or the holdout, has its own count.
    assert _on(db_url, lambda e: split_ledger.record_evaluation(
        e, experiment_id="exp", split=HOLDOUT, split_fingerprint="t1", training_run_id="run-m1",
        model_fingerprint="m1")) == 1
    forced = _on(db_url, lambda e: split_ledger.record_evaluation(
        e, experiment_id="exp", split=HOLDOUT, split_fingerprint="t1", training_run_id="run-m1",
        model_fingerprint="m1", forced=True, reason="new label definition"))
    assert forced == 1
    rows = _on(db_url, lambda e: split_ledger.evaluations(e, "exp", HOLDOUT, "m1"))
    assert [(r["forced"], r["reason"]) for r in rows] == [(False, None), (True, "new label definition")]


def test_the_ledger_knows_a_model_by_its_file_and_settings_not_by_how_long_it_took(tmp_path, kostecki):
    from sklearn.linear_model import LogisticRegression

    from sealtrain.components.core import modelio

    x = kostecki[["age", "hatype"]].assign(hatype=kostecki["hatype"].astype("category").cat.codes).to_numpy()
    y = (kostecki["headache"] == "yes").to_numpy()

    def saved(name, labels=y, **meta):
        model = LogisticRegression(max_iter=500).fit(x, labels)
        modelio.save_model(model, "sklearn", str(tmp_path / name), {"threshold": 0.5, **meta})
        return modelio.model_fingerprint(str(tmp_path / name))

    first = saved("first", training_duration_seconds=1.25)
    # skops names arrays by memory address and stamps zip entries with the time: a refit still matches.
    assert saved("refit", training_duration_seconds=3.5) == first
    assert saved("other threshold", threshold=0.4, training_duration_seconds=1.25) != first
    assert saved("other weights", labels=~y, training_duration_seconds=1.25) != first
