import numpy as np
import pytest

from sealtrain.components.core import algorithms, modelio, preprocessing, schema, search_space, training, tuning
from sealtrain.components.core.errors import HyperparameterTuningError, InvalidInputError


@pytest.fixture(scope="module")
def covid_data(covid_splits):
    fitted = preprocessing.fit_preprocessor(covid_splits.tables["train"], "fp")
    xt, yt = schema.split_xy(covid_splits.tables["train"])
    xv, yv = schema.split_xy(covid_splits.tables["validation"])
    return fitted.transform(xt), yt, fitted.transform(xv), yv


def test_xgboost_study_prunes_and_is_reproducible(covid_data):
    algo = algorithms.get_algorithm("xgboost")
    first = tuning.tune(algo, algo.default_space, covid_data, 20, seed=3, progress=lambda _: None)
    second = tuning.tune(algo, algo.default_space, covid_data, 20, seed=3, progress=lambda _: None)
    assert first.count("PRUNED") > 0
    assert first.count("COMPLETE") + first.count("PRUNED") == 20
    assert first.best_params == second.best_params
    assert first.best_value == second.best_value
    assert first.best_iteration is not None and first.best_iteration > 0


def test_final_model_reproduces_and_round_trips(tmp_path, covid_data):
    algo = algorithms.get_algorithm("xgboost")
    params = {"learning_rate": 0.1, "max_depth": 4}
    models = [training.fit(algo, params, 11, *covid_data) for _ in range(2)]
    x_val = covid_data[2]
    assert np.array_equal(training.scores(models[0], x_val), training.scores(models[1], x_val))
    modelio.save_model(models[0], algo.framework, str(tmp_path), {"algorithm": "xgboost"})
    assert np.array_equal(training.scores(modelio.load_model(str(tmp_path)), x_val), training.scores(models[0], x_val))


@pytest.mark.parametrize("name", ["logistic_regression", "random_forest", "hist_gradient_boosting"])
def test_scikit_learn_algorithms_tune_train_and_round_trip(tmp_path, covid_data, name):
    algo = algorithms.get_algorithm(name)
    result = tuning.tune(algo, algo.default_space, covid_data, 2, seed=1, progress=lambda _: None)
    assert 0.5 < result.best_value <= 1.0
    model = training.fit(algo, result.best_params, 1, *covid_data)
    modelio.save_model(model, algo.framework, str(tmp_path), {"algorithm": name})
    loaded = modelio.load_model(str(tmp_path))
    assert np.array_equal(training.scores(loaded, covid_data[2]), training.scores(model, covid_data[2]))


def test_every_trial_failing_raises_with_the_first_error(covid_data):
    algo = algorithms.get_algorithm("logistic_regression")
    space = {"solver": ["no-such-solver"]}
    with pytest.raises(HyperparameterTuningError, match="all 3 trials of logistic_regression failed; first error: .*solver"):
        tuning.tune(algo, space, covid_data, 3, seed=1, progress=lambda _: None)


@pytest.mark.parametrize(
    ("space", "message"),
    [
        ('{"max_depth": {"type": "int", "low": 5, "high": 2}}', "'max_depth'.*low < high"),
        ('{"learning_rate": {"type": "float", "low": 0, "high": 1, "log": true}}', "'learning_rate'.*log scale needs low > 0"),
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
