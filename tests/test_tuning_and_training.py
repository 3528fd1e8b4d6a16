import multiprocessing

import numpy as np
import optuna
import pytest

from sealtrain.components.core import (
    algorithms,
    endpoints,
    modelio,
    optuna_study,
    preprocessing,
    schema,
    search_space,
    training,
    tuning,
    tuning_plan,
)
from sealtrain.components.core.errors import HyperparameterTuningError, InvalidInputError


@pytest.fixture(scope="module")
def covid_data(covid_splits):
    fitted = preprocessing.fit_preprocessor(covid_splits.tables["train"], "fp")
    xt, yt = schema.split_xy(covid_splits.tables["train"])
    xv, yv = schema.split_xy(covid_splits.tables["validation"])
    return fitted.transform(xt), yt, fitted.transform(xv), yv


def _study(tmp_path, algo, data, n_trials, seed=3, space=None, workers=1, storage_name="optuna.db", metric="auc",
           warm_start=None):
    """Runs every worker of a study in turn in fresh SQLite storage and collects it."""
    storage = f"sqlite:///{tmp_path / storage_name}"
    space = algo.default_space if space is None else space
    spec = optuna_study.StudySpec("m", algo, space, {}, seed, metric, n_trials, warm_start)
    for worker in range(workers):
        tuning.run_worker(spec, data, storage=storage, n_trials=tuning.worker_share(n_trials, workers, worker),
                          worker=worker, progress=lambda _: None)
    return optuna_study.collect(storage, spec), storage, spec


def test_xgboost_study_prunes_and_is_reproducible(tmp_path, covid_data):
    algo = algorithms.get_algorithm("xgboost")
    first, _, _ = _study(tmp_path, algo, covid_data, 20, storage_name="a.db")
    second, _, _ = _study(tmp_path, algo, covid_data, 20, storage_name="b.db")
    assert first.count("PRUNED") > 0
    assert first.count("COMPLETE") + first.count("PRUNED") == 20
    assert first.best_params == second.best_params
    assert first.best_value == second.best_value
    assert first.best_iteration is not None and first.best_iteration > 0


def test_two_workers_share_one_study_and_a_retry_resumes_it(tmp_path, covid_data):
    algo = algorithms.get_algorithm("xgboost")
    result, storage, spec = _study(tmp_path, algo, covid_data, 9, workers=2)
    assert len(result.trials) == 9
    assert sorted(result.trials["worker"].value_counts().to_dict().items()) == [(0, 5), (1, 4)]
    again = tuning.run_worker(spec, covid_data, storage=storage, n_trials=4, worker=1, progress=lambda _: None)
    assert again == 0
    assert len(optuna_study.collect(storage, spec).trials) == 9


def test_staged_algorithms_report_and_get_pruned(tmp_path, covid_data):
    algo = algorithms.get_algorithm("random_forest")
    space = {"n_estimators": {"type": "int", "low": 20, "high": 60, "step": 20},
             "max_depth": {"type": "int", "low": 1, "high": 12}}
    result, _, _ = _study(tmp_path, algo, covid_data, 14, space=space)
    assert result.count("PRUNED") > 0


def test_objective_can_be_log_loss(tmp_path, covid_data):
    algo = algorithms.get_algorithm("logistic_regression")
    result, _, _ = _study(tmp_path, algo, covid_data, 3, metric="log_loss")
    assert 0 < result.best_value < 0.5
    assert result.best_value == result.trials["value"].min()


def test_warm_start_is_the_first_trial(tmp_path, covid_data):
    algo = algorithms.get_algorithm("logistic_regression")
    result, _, _ = _study(tmp_path, algo, covid_data, 2, warm_start={"C": 0.123, "ignored": 1})
    assert result.trials.loc[0, "param_C"] == 0.123


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("xgboost", "", "", 4, 5, "auc"), "5 tuning workers for 4 trials"),
        (("xgboost", "", "", 0, 1, "auc"), "at least 1"),
        (("xgboost", "", '{"max_depth": 3, "nope": 1}', 4, 1, "auc"), r"default hyperparameters \['nope'\]"),
        (("xgboost", '{"max_depth": {"type": "int", "low": 3, "high": 1}}', "", 4, 1, "auc"), "'max_depth'"),
    ],
)
def test_a_bad_plan_fails_before_any_trial(args, message):
    with pytest.raises(HyperparameterTuningError, match=message):
        tuning_plan.plan(*args)
    with pytest.raises(InvalidInputError, match="tuning metric must be one of"):
        tuning_plan.plan("xgboost", "", "", 4, 1, "accuracy")


def test_final_model_reproduces_and_round_trips(tmp_path, covid_data):
    algo = algorithms.get_algorithm("xgboost")
    params = {"learning_rate": 0.1, "max_depth": 4}
    models = [training.fit(algo, params, 11, *covid_data) for _ in range(2)]
    x_val = covid_data[2]
    assert np.array_equal(training.scores(models[0], x_val), training.scores(models[1], x_val))
    modelio.save_model(models[0], algo.framework, str(tmp_path), {"algorithm": "xgboost"})
    assert np.array_equal(training.scores(modelio.load_model(str(tmp_path)), x_val), training.scores(models[0], x_val))


# Small spaces keep the forest and boosting fits to seconds.
SMALL_SPACES = {
    "logistic_regression": None,
    "random_forest": {"n_estimators": [40], "max_depth": {"type": "int", "low": 3, "high": 8}},
    "hist_gradient_boosting": {"max_iter": [40], "learning_rate": {"type": "float", "low": 0.05, "high": 0.3}},
}


@pytest.mark.parametrize("name", sorted(SMALL_SPACES))
def test_scikit_learn_algorithms_tune_train_and_round_trip(tmp_path, covid_data, name):
    algo = algorithms.get_algorithm(name)
    result, _, _ = _study(tmp_path, algo, covid_data, 2, seed=1, space=SMALL_SPACES[name])
    assert 0.5 < result.best_value <= 1.0
    model = training.fit(algo, result.best_params, 1, *covid_data)
    modelio.save_model(model, algo.framework, str(tmp_path), {"algorithm": name})
    loaded = modelio.load_model(str(tmp_path))
    assert np.array_equal(training.scores(loaded, covid_data[2]), training.scores(model, covid_data[2]))


def test_every_trial_failing_raises_with_the_first_error(tmp_path, covid_data):
    algo = algorithms.get_algorithm("logistic_regression")
    space = {"solver": ["no-such-solver"]}
    expected = "all 3 trials of logistic_regression failed; first error: .*solver"
    with pytest.raises(HyperparameterTuningError, match=expected):
        _study(tmp_path, algo, covid_data, 3, space=space)


@pytest.mark.parametrize(
    ("space", "message"),
    [
        ('{"max_depth": {"type": "int", "low": 5, "high": 2}}', "'max_depth'.*low < high"),
        ('{"learning_rate": {"type": "float", "low": 0, "high": 1, "log": true}}',
         "'learning_rate'.*log scale needs low > 0"),
        ('{"max_depth": {"type": "integer", "low": 1, "high": 3}}', "'max_depth'.*type 'int' or 'float'"),
        ('{"no_such_param": [1, 2]}', "'no_such_param'.*unknown parameter"),
        ('{"max_depth": []}', "'max_depth'.*empty list"),
        ("[1, 2]", "must be a JSON object"),
        ("{oops", "not valid JSON"),
    ],
)
def test_malformed_spaces_fail_before_any_trial(space, message):
    with pytest.raises(HyperparameterTuningError, match=message):
        search_space.load_space(space, algorithms.get_algorithm("xgboost"))


def test_int_ranges_are_sampled_as_ints():
    import optuna

    algo = algorithms.get_algorithm("random_forest")
    space = search_space.load_space('{"max_depth": {"type": "int", "low": 2, "high": 9}}', algo)
    trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0)).ask()
    assert isinstance(search_space.suggest(trial, space)["max_depth"], int)


def test_unknown_algorithm_lists_the_known_ones():
    with pytest.raises(InvalidInputError, match="unknown algorithm 'svm'; choose one of"):
        algorithms.get_algorithm("svm")


def test_the_study_name_follows_what_defines_the_study():
    def spec(**changes):
        base = dict(split_manifest="m", algorithm="xgboost", hyperparameter_space="", default_hyperparameters="",
                    seed=1, metric="auc", n_trials=10, warm_start="null")
        return optuna_study.study_spec(**{**base, **changes}).name

    assert spec() == spec()
    for change in ({"split_manifest": "n"}, {"seed": 2}, {"n_trials": 11}, {"metric": "pr_auc"},
                   {"warm_start": '{"max_depth": 3}'}, {"default_hyperparameters": '{"max_depth": 3}'}):
        assert spec(**change) != spec(), change


@pytest.fixture(scope="module")
def kostecki_data(kostecki_splits):
    fitted = preprocessing.fit_preprocessor(kostecki_splits.tables["train"], "fp")
    xt, yt = schema.split_xy(kostecki_splits.tables["train"])
    xv, yv = schema.split_xy(kostecki_splits.tables["validation"])
    return fitted.transform(xt), yt, fitted.transform(xv), yv


# The benchmark's study (20 xgboost trials, seed 42), and a staged forest whose four stages report.
PRUNING_STUDIES = {
    "xgboost": (20, None),
    "random_forest": (12, {"n_estimators": [40], "max_depth": {"type": "int", "low": 1, "high": 10}}),
}


def _pruning_spec(name):
    algo = algorithms.get_algorithm(name)
    n_trials, space = PRUNING_STUDIES[name]
    return optuna_study.StudySpec("m", algo, space or algo.default_space, {}, 42, "auc", n_trials, None)


def _per_round_study(spec, data):
    """The study as tuning ran it before: Optuna's own report and should_prune on every round or stage."""
    from optuna_integration import XGBoostPruningCallback

    x_val, y_val = data[2], data[3]
    study = optuna_study.open_study(optuna.storages.InMemoryStorage(), spec.name, spec.metric, spec.seed)

    def objective(trial):
        params = {**spec.defaults, **search_space.suggest(trial, spec.space)}

        def on_stage(model, stage):
            trial.report(float(tuning.SCORERS[spec.metric](y_val, training.scores(model, x_val))), stage)
            if trial.should_prune():
                raise optuna.TrialPruned()

        callbacks = (XGBoostPruningCallback(trial, "validation_0-auc"),) if spec.algorithm.early_stopping else ()
        try:
            model = training.fit(spec.algorithm, params, spec.seed, *data, metric=spec.metric, callbacks=callbacks,
                                 on_stage=on_stage)
        except Exception as exc:
            if isinstance(exc.__cause__, optuna.TrialPruned):
                raise exc.__cause__ from None
            raise
        return float(tuning.SCORERS[spec.metric](y_val, training.scores(model, x_val)))

    study.optimize(objective, n_trials=spec.n_trials)
    return study


def _trials(study):
    return [(t.number, t.state.name, t.value, t.params, t.intermediate_values) for t in study.trials]


@pytest.fixture(scope="module")
def per_round(kostecki_data):
    return {name: _per_round_study(_pruning_spec(name), kostecki_data) for name in PRUNING_STUDIES}


def _store_url(store, tmp_path, request):
    """A fresh store: a journal file, a SQLite file or a PostgreSQL database."""
    if store == "postgres":
        return endpoints.optuna_storage(request.getfixturevalue("postgres_url"))
    return f"journal://{tmp_path / 'optuna.journal'}" if store == "journal" else f"sqlite:///{tmp_path / 'optuna.db'}"


@pytest.mark.parametrize(("name", "store"), [("xgboost", "journal"), ("xgboost", "sqlite"), ("xgboost", "postgres"),
                                             ("random_forest", "journal")])
def test_local_pruning_prunes_as_optunas_per_round_pruning(tmp_path, kostecki_data, per_round, name, store, request):
    """One worker: the same trials pruned, at the same step, the same values and the same best trial; the curves
    written in one batch per trial are in the study as Optuna's per-round writes left them."""
    url = _store_url(store, tmp_path, request)
    spec = _pruning_spec(name)
    tuning.run_worker(spec, kostecki_data, storage=url, n_trials=spec.n_trials, progress=lambda _: None)
    reference = per_round[name]
    study = optuna.load_study(study_name=spec.name, storage=optuna_study.open_storage(url))
    assert _trials(study) == _trials(reference)
    assert 0 < sum(t.state == optuna.trial.TrialState.PRUNED for t in study.trials) < spec.n_trials
    result = optuna_study.collect(url, spec)
    assert (result.best_value, result.best_params) == (reference.best_value, reference.best_params)


def _worker_process(url, data, worker, workers):
    spec = _pruning_spec("xgboost")
    tuning.run_worker(spec, data, storage=url, n_trials=tuning.worker_share(spec.n_trials, workers, worker),
                      worker=worker, progress=lambda _: None)


@pytest.mark.parametrize("store", ["journal", "sqlite"])
def test_parallel_workers_share_one_study_in_a_fresh_store(tmp_path, kostecki_data, store, request):
    """Two processes at once on a store neither has created: a journal file shared through its lock, or a
    SQLite file whose tables both race to create."""
    url = _store_url(store, tmp_path, request)
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_worker_process, args=(url, kostecki_data, worker, 2)) for worker in (0, 1)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(timeout=300)
    assert [process.exitcode for process in workers] == [0, 0]
    result = optuna_study.collect(url, _pruning_spec("xgboost"))
    assert sorted(result.trials["number"]) == list(range(20))
    assert result.trials["worker"].value_counts().to_dict() == {0: 10, 1: 10}
    assert set(result.trials["state"]) <= {"COMPLETE", "PRUNED"}
