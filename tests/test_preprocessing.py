import numpy as np
import pandas as pd
import pytest
from conftest import COVID_SPEC

from sealtrain.components.core import preprocessing, schema
from sealtrain.components.core.errors import InvalidInputError


def test_statistics_come_from_the_train_split_only(covid_splits):
    train = covid_splits.tables["train"]
    fitted = preprocessing.fit_preprocessor(train, "fp")
    numeric = fitted.transformer.named_transformers_["num"]
    expected_medians = train[fitted.numeric].median().to_numpy()
    assert np.allclose(numeric.named_steps["impute"].statistics_, expected_medians)
    everything = pd.concat(covid_splits.tables.values())
    assert not np.allclose(numeric.named_steps["impute"].statistics_, everything[fitted.numeric].median().to_numpy())
    imputed = train[fitted.numeric].fillna(train[fitted.numeric].median())
    assert np.allclose(numeric.named_steps["scale"].mean_, imputed.mean().to_numpy())


def test_unknown_categories_are_ignored_and_missing_features_named(covid_splits):
    fitted = preprocessing.fit_preprocessor(covid_splits.tables["train"], "fp")
    rows = covid_splits.tables["test"].head(3).copy()
    rows["clinic_name"] = "a clinic never seen"
    x = fitted.transform(rows)
    assert x.shape == (3, len(fitted.feature_names_out()))
    with pytest.raises(InvalidInputError, match=r"\['age'\]"):
        fitted.transform(rows.drop(columns=["age"]))
    # Zero rows (a Dask partition holding none of a split) give zero transformed rows, after the same check.
    assert fitted.transform(rows.iloc[:0]).shape == (0, len(fitted.feature_names_out()))
    with pytest.raises(InvalidInputError, match=r"\['age'\]"):
        fitted.transform(rows.iloc[:0].drop(columns=["age"]))


def test_constant_and_empty_train_columns_are_dropped_with_a_warning(kostecki_splits):
    train = kostecki_splits.tables["train"].assign(site="A", empty=np.nan)
    fitted = preprocessing.fit_preprocessor(train, "fp")
    assert fitted.dropped == {"site": "constant in train", "empty": "all missing in train"}
    assert any("dropped features" in w for w in fitted.warnings)


def test_wide_categoricals_are_capped(kostecki_splits):
    train = kostecki_splits.tables["train"].copy()
    train["code"] = [f"c{i % 400}" for i in range(len(train))]
    fitted = preprocessing.fit_preprocessor(train, "fp")
    assert sum(name.startswith("cat__code_") for name in fitted.feature_names_out()) <= 50
    assert any("rare levels pooled" in w for w in fitted.warnings)


def test_round_trip_through_skops_gives_identical_output(tmp_path, covid_splits):
    fitted = preprocessing.fit_preprocessor(covid_splits.tables["train"], "fp")
    fitted.save(str(tmp_path))
    loaded = preprocessing.Preprocessor.load(str(tmp_path))
    test = covid_splits.tables["test"]
    assert np.array_equal(fitted.transform(test), loaded.transform(test))
    assert loaded.train_fingerprint == "fp"


def test_raw_rows_transform_like_canonical_rows(covid, covid_splits):
    fitted = preprocessing.fit_preprocessor(covid_splits.tables["train"], "fp")
    canonical = schema.prepare(covid, COVID_SPEC, "c").head(50)
    assert np.array_equal(fitted.transform(covid.head(50)), fitted.transform(canonical))

