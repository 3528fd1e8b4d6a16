"""Dask point metrics and thresholds against scikit-learn's (the pandas engine's) on the same scores.

Scores come from a real model on a real table (KosteckiDillon's headache diary, with the
ties a tree ensemble makes), and from orders built to break a careless implementation: equal
scores scattered over many partitions, every score with the same counts (roc_curve drops the
middle points of such straight segments, and Youden's J is equal along them), a constant
score, a perfect one and a split of one class.
"""

from __future__ import annotations

import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest

from sealtrain.components.core import algorithms, metrics, preprocessing, training
from sealtrain.components.core.constants import LABEL_COLUMN, TRAIN, VALIDATION
from sealtrain.components.core.distributed import metrics as dask_metrics


@pytest.fixture(scope="module")
def real_scores(kostecki_splits) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """A real model's train and validation scores and labels on KosteckiDillon."""
    splits = kostecki_splits.tables
    fitted = preprocessing.fit_preprocessor(splits[TRAIN], "train")
    (x_train, y_train), (x_val, y_val) = (preprocessing.transform_split(fitted, splits[s]) for s in (TRAIN, VALIDATION))
    model = training.fit(algorithms.get_algorithm("xgboost"), {"max_depth": 3, "n_estimators": 30}, 7,
                         x_train, y_train, x_val, y_val)
    return {name: (y, training.scores(model, x).astype("float64"))
            for name, x, y in ((TRAIN, x_train, y_train), (VALIDATION, x_val, y_val))}


def crafted() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(5)
    y = (rng.random(3000) < 0.3).astype(int)
    straight = np.repeat(np.linspace(0.05, 0.95, 60), 5)  # every score: 2 positives, 3 negatives
    return {
        "ties over partitions": (y, np.round(rng.random(3000) * 0.5 + 0.4 * y, 1)),
        "straight segments": (np.tile([1, 1, 0, 0, 0], 60), straight),
        "constant": (y, np.full(3000, 0.3)),
        "perfect": (y, np.where(y == 1, 0.9, 0.1) + rng.random(3000) * 0.05),
        "one class": (np.zeros(500, dtype=int), rng.random(500)),
    }


def dask_pairs(y: np.ndarray, p: np.ndarray, partitions: int) -> dd.DataFrame:
    # Shuffled: equal scores start in different partitions and must meet for the counts.
    order = np.random.default_rng(partitions).permutation(len(y))
    frame = pd.DataFrame({"s": p[order], LABEL_COLUMN: y[order]})
    frame = dd.from_pandas(frame, npartitions=partitions)
    return dask_metrics.scored(frame["s"], frame[LABEL_COLUMN])


def assert_same_metrics(y: np.ndarray, p: np.ndarray, partitions: int) -> None:
    pairs = dask_pairs(y, p, partitions)
    ranked = dask_metrics.ranking(pairs)
    single_class = len(np.unique(y)) < 2
    for method in metrics.THRESHOLD_METHODS:
        if single_class and method == "youden":
            continue  # roc_curve is undefined (NaN rates) with one class
        assert ranked.threshold(method) == metrics.choose_threshold(y, p, method), method
    threshold = ranked.threshold("f1")
    expected, got = metrics.point_metrics(y, p, threshold), dask_metrics.point_metrics(pairs, threshold, ranked)
    assert got.keys() == expected.keys()
    for name, value in expected.items():
        assert (got[name] is None) == (value is None), name
        if value is not None:
            assert got[name] == pytest.approx(value, rel=1e-12, abs=1e-12), name
    assert (ranked.rows, ranked.positives) == (len(y), int(y.sum()))


@pytest.mark.parametrize("partitions", [1, 4, 9])
@pytest.mark.parametrize("split", [TRAIN, VALIDATION])
def test_a_real_models_metrics_and_thresholds_are_the_pandas_engines(client, real_scores, split, partitions):
    y, p = real_scores[split]
    assert len(np.unique(p)) < len(p), "the model's scores have ties"
    assert_same_metrics(y, p, partitions)


@pytest.mark.parametrize("partitions", [1, 5, 13])
@pytest.mark.parametrize("case", list(crafted()))
def test_crafted_score_orders_give_the_pandas_engines_metrics(client, case, partitions):
    assert_same_metrics(*crafted()[case], partitions)


def test_the_youden_threshold_skips_the_points_roc_curve_drops(client):
    # Every score has the same counts, so J rises or falls evenly along one straight segment:
    # roc_curve keeps only its ends, and the threshold must be one of them.
    y, p = crafted()["straight segments"]
    kept = set(np.round(np.linspace(0.05, 0.95, 60)[[0, -1]], 12)) | {1.0}
    assert round(dask_metrics.ranking(dask_pairs(y, p, 7)).youden_threshold, 12) in kept


def test_an_unknown_threshold_method_is_refused(client, real_scores):
    ranked = dask_metrics.ranking(dask_pairs(*real_scores[VALIDATION], 2))
    with pytest.raises(Exception, match="threshold method must be one of"):
        ranked.threshold("accuracy")
