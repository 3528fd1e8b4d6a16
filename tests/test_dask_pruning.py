"""Pruning tuning trials on Dask, on a real 2-worker LocalCluster, against the pandas engine on the same real data."""

from __future__ import annotations

import dask.dataframe as dd
import optuna
import pytest
from distributed import wait

from sealtrain.components.core import algorithms, optuna_study, preprocessing, tuning
from sealtrain.components.core.constants import TRAIN, VALIDATION
from sealtrain.components.core.distributed import training as dask_training
from sealtrain.components.core.distributed import tuning as dask_tuning
from sealtrain.components.core.pruning import TrialCurve

SEED = 7
# Deterministic boosting (no row or column sampling), as a one-value space for a study's trials.
FIXED_PARAMS = {"learning_rate": 0.1, "max_depth": 4}
FIXED_SPACE = {name: [value] for name, value in FIXED_PARAMS.items()}
# The round from which the synthetic completed trials below beat any model: the pruner prunes there.
AHEAD_FROM = 4
ROUNDS = algorithms.XGBOOST_MAX_ROUNDS



@pytest.fixture(scope="module")
def splits(client, kostecki_splits):
    """The preprocessor and the train and validation splits in two partitions, one on each worker."""
    pre = preprocessing.fit_preprocessor(kostecki_splits.tables[TRAIN], "fp")
    workers = sorted(client.scheduler_info()["workers"])
    frames = {}
    for role in (TRAIN, VALIDATION):
        parts = dd.from_pandas(kostecki_splits.tables[role], npartitions=2).to_delayed()
        # One partition per worker, so both train and every round's metric is reduced over both.
        placed = [client.compute(part, workers=[worker]) for part, worker in zip(parts, workers)]
        wait(placed)
        assert sorted(w for ws in client.who_has(placed).values() for w in ws) == workers
        frames[role] = dd.from_delayed(placed, meta=kostecki_splits.tables[role].iloc[:0], verify_meta=False)
    return pre, frames[TRAIN], frames[VALIDATION]


@pytest.fixture(scope="module")
def unpruned(client, splits):
    """The fit with no pruning callback, and its validation curve."""
    pre, train, validation = splits
    model = dask_training.fit(client, "xgboost", FIXED_PARAMS, SEED, train, validation, pre)
    return model, model.evals_result()[dask_tuning.VALIDATION_SET]["auc"]


def _completed_trials(value_at) -> list[optuna.trial.FrozenTrial]:
    """Five completed trials (the pruner's startup count) whose validation curve is `value_at(round)`."""
    return [optuna.trial.create_trial(params={}, distributions={}, value=value_at(ROUNDS - 1),
                                      intermediate_values={step: value_at(step) for step in range(ROUNDS)})
            for _ in range(5)]


def _judge(trials: list[optuna.trial.FrozenTrial]) -> optuna.Trial:
    """The judge of a trial started in a study holding these trials."""
    study = optuna_study.open_study(optuna.storages.InMemoryStorage(), "judged", "auc", SEED)
    study.add_trials(trials)
    return TrialCurve(study.ask(), storage=None).judge()


def _ahead_from(step: int) -> float:
    return 0.0 if step < AHEAD_FROM else 1.0


def _raw(model) -> bytes:
    return bytes(model.get_booster().save_raw("ubj"))


def test_a_trial_nothing_prunes_is_the_uninterrupted_fit(client, splits, unpruned):
    """The pruner judges every round (its completed trials never beat the model) and early stopping ends the fit."""
    pre, train, validation = splits
    expected, curve = unpruned
    judged = dask_training.fit(client, "xgboost", FIXED_PARAMS, SEED, train, validation, pre,
                               callbacks=(dask_tuning.WorkerPruning(_judge(_completed_trials(lambda _: 0.0)), "auc"),))
    assert len(curve) == expected.best_iteration + algorithms.EARLY_STOPPING_ROUNDS + 1, "early stopping ended it"
    assert judged.best_iteration == expected.best_iteration
    assert judged.evals_result() == expected.evals_result()
    assert _raw(judged) == _raw(expected)
    assert judged.get_params()["callbacks"] is None, "the trial's judge is not in the model"


def test_the_workers_stop_boosting_at_the_round_the_pruner_prunes(client, splits, unpruned):
    pre, train, validation = splits
    _, curve = unpruned
    assert AHEAD_FROM + 1 < len(curve)
    model = dask_training.fit(client, "xgboost", FIXED_PARAMS, SEED, train, validation, pre,
                              callbacks=(dask_tuning.WorkerPruning(_judge(_completed_trials(_ahead_from)), "auc"),))
    assert model.get_booster().num_boosted_rounds() == AHEAD_FROM + 1
    assert model.evals_result()[dask_tuning.VALIDATION_SET]["auc"] == curve[:AHEAD_FROM + 1]


def test_a_dask_trial_is_pruned_in_the_study_with_its_curve(client, splits, unpruned, tmp_path):
    """The study's own storage and pruner: the trial ends PRUNED at the round, its curve stored up to it."""
    pre, train, validation = splits
    _, curve = unpruned
    url = f"journal://{tmp_path / 'optuna.journal'}"
    algo = algorithms.get_algorithm("xgboost")
    spec = optuna_study.StudySpec("m", algo, FIXED_SPACE, {}, SEED, "auc", 1, None)
    optuna_study.open_study(optuna_study.open_storage(url), spec.name, spec.metric, spec.seed).add_trials(
        _completed_trials(_ahead_from))
    ran = dask_tuning.run_worker(spec, client, train, validation, pre, storage=url, n_trials=1,
                                 progress=lambda _: None)
    trial = optuna.load_study(study_name=spec.name, storage=optuna_study.open_storage(url)).trials[-1]
    assert (ran, trial.state, trial.params) == (1, optuna.trial.TrialState.PRUNED, FIXED_PARAMS)
    assert trial.intermediate_values == {step: curve[step] for step in range(AHEAD_FROM + 1)}
    assert trial.value == curve[AHEAD_FROM]


def _trials(url: str, spec: optuna_study.StudySpec) -> list[tuple]:
    study = optuna.load_study(study_name=spec.name, storage=optuna_study.open_storage(url))
    return [(t.number, t.state.name, t.value, t.params, t.intermediate_values) for t in study.trials]


def test_pandas_and_dask_run_the_same_study_on_one_partition(client, kostecki_splits, tmp_path):
    """With each split in one partition xgboost.dask boosts as xgboost does, so the study must be the same one:
    trials, values, curves, and the trial pruned at the same round. On more partitions the histogram bins are
    sketched per partition, the curves differ a little, and a trial may be pruned at another round or not at all.

    Seed 11's sixth trial is pruned at round 3 on pandas; one thread per fit, as on a Dask worker here.
    """
    tables = kostecki_splits.tables
    pre = preprocessing.fit_preprocessor(tables[TRAIN], "fp")
    x_train, y_train = preprocessing.transform_split(pre, tables[TRAIN])
    x_val, y_val = preprocessing.transform_split(pre, tables[VALIDATION])
    algo = algorithms.get_algorithm("xgboost")
    spec = optuna_study.StudySpec("m", algo, algo.default_space, {"n_estimators": 40, "n_jobs": 1}, 11, "auc", 6,
                                  None)
    pandas_url, dask_url = (f"journal://{tmp_path / name}" for name in ("pandas.journal", "dask.journal"))
    tuning.run_worker(spec, (x_train, y_train, x_val, y_val), storage=pandas_url, n_trials=6, progress=lambda _: None)
    train, validation = (dd.from_pandas(tables[role], npartitions=1) for role in (TRAIN, VALIDATION))
    dask_tuning.run_worker(spec, client, train, validation, pre, storage=dask_url, n_trials=6, progress=lambda _: None)
    expected = _trials(pandas_url, spec)
    assert [state for _, state, *_ in expected].count("PRUNED") >= 1, "the comparison covers a pruned trial"
    got = _trials(dask_url, spec)
    # Trial values are AUCs: the Dask engine's exact ratio of counts, scikit-learn's trapezoids, equal to rounding.
    assert [(n, state, params, curve) for n, state, _, params, curve in got] == \
        [(n, state, params, curve) for n, state, _, params, curve in expected]
    assert [value for *_, value, _, _ in got] == pytest.approx([value for *_, value, _, _ in expected], rel=1e-12)
