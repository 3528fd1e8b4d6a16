import numpy as np
import pytest
from sklearn import metrics as skm

from sealtrain.components.core import bootstrap, evaluation, metrics
from sealtrain.components.core.constants import BOOTSTRAP_METRICS
from sealtrain.components.core.errors import InvalidInputError


@pytest.fixture(scope="module")
def scored(covid_splits):
    """Real labels with scores from a real model on the covid test split."""
    from sealtrain.components.core import algorithms, preprocessing, schema, training

    fitted = preprocessing.fit_preprocessor(covid_splits.tables["train"], "fp")
    xt, yt = schema.split_xy(covid_splits.tables["train"])
    xs, ys = schema.split_xy(covid_splits.tables["test"])
    model = training.fit(algorithms.get_algorithm("logistic_regression"), {}, 0, fitted.transform(xt), yt, None, None)
    groups = covid_splits.tables["test"]["__group__"].to_numpy()
    return ys, training.scores(model, fitted.transform(xs)), groups


def test_point_metrics_match_scikit_learn(scored):
    y, p, _ = scored
    got = metrics.point_metrics(y, p, 0.1)
    predicted = (p >= 0.1).astype(int)
    reference = {
        "auc": skm.roc_auc_score(y, p),
        "pr_auc": skm.average_precision_score(y, p),
        "brier_score": skm.brier_score_loss(y, p),
        "log_loss": skm.log_loss(y, p),
        "precision": skm.precision_score(y, predicted),
        "recall": skm.recall_score(y, predicted),
        "f1": skm.f1_score(y, predicted),
        "accuracy": skm.accuracy_score(y, predicted),
    }
    for name, value in reference.items():
        assert got[name] == pytest.approx(value, abs=1e-9), name


def test_weighted_bootstrap_metrics_equal_scikit_learn_on_the_resampled_rows(scored):
    y, p, _ = scored
    rng = np.random.default_rng(5)
    weights = rng.multinomial(len(y), np.full(len(y), 1 / len(y)), size=4).astype(float)
    vectorised = bootstrap.weighted_metrics(y.astype(float), p, 0.1, weights)
    for i, w in enumerate(weights):
        rows = np.repeat(np.arange(len(y)), w.astype(int))
        yy, pp = y[rows], p[rows]
        assert vectorised["auc"][i] == pytest.approx(skm.roc_auc_score(yy, pp), abs=1e-9)
        assert vectorised["pr_auc"][i] == pytest.approx(skm.average_precision_score(yy, pp), abs=1e-9)
        assert vectorised["brier_score"][i] == pytest.approx(skm.brier_score_loss(yy, pp), abs=1e-9)
        assert vectorised["f1"][i] == pytest.approx(skm.f1_score(yy, pp >= 0.1), abs=1e-9)
        assert vectorised["precision"][i] == pytest.approx(skm.precision_score(yy, pp >= 0.1), abs=1e-9)
        assert vectorised["recall"][i] == pytest.approx(skm.recall_score(yy, pp >= 0.1), abs=1e-9)


def test_weighted_metrics_equal_scikit_learn_with_tied_scores_and_one_class_copies(scored):
    y, p, _ = scored
    tied = np.round(p, 2)
    rng = np.random.default_rng(7)
    weights = rng.multinomial(len(y), np.full(len(y), 1 / len(y)), size=3).astype(float)
    negatives_only = np.where(y == 0, 1.0, 0.0)
    vectorised = bootstrap.weighted_metrics(y.astype(float), tied, 0.1, np.vstack([weights, negatives_only]))
    for i, w in enumerate(weights):
        rows = np.repeat(np.arange(len(y)), w.astype(int))
        yy, pp = y[rows], tied[rows]
        assert vectorised["auc"][i] == pytest.approx(skm.roc_auc_score(yy, pp), abs=1e-9)
        assert vectorised["pr_auc"][i] == pytest.approx(skm.average_precision_score(yy, pp), abs=1e-9)
        assert vectorised["f1"][i] == pytest.approx(skm.f1_score(yy, pp >= 0.1), abs=1e-9)
    assert np.isnan([vectorised[name][3] for name in ("auc", "pr_auc", "precision", "recall", "f1")]).all()
    expected_brier = skm.brier_score_loss(y[y == 0], tied[y == 0], pos_label=1, labels=[0, 1])
    assert vectorised["brier_score"][3] == pytest.approx(expected_brier, abs=1e-9)


def test_a_cluster_bootstrap_of_one_row_groups_equals_the_row_bootstrap(scored):
    y, p, _ = scored
    by_row = bootstrap.bootstrap_intervals(y, p, 0.1, 100, 3)
    by_group = bootstrap.bootstrap_intervals(y, p, 0.1, 100, 3, np.arange(len(y)))
    for name in BOOTSTRAP_METRICS:
        assert by_group["intervals"][name] == pytest.approx(by_row["intervals"][name], abs=1e-12), name
    assert by_group["valid_samples"] == by_row["valid_samples"]


def test_intervals_contain_the_estimate_and_shrink_with_more_data(scored):
    y, p, groups = scored
    full = bootstrap.bootstrap_intervals(y, p, 0.1, 300, 1, groups)
    point = metrics.point_metrics(y, p, 0.1)
    for name in BOOTSTRAP_METRICS:
        low, high = full["intervals"][name]
        assert low <= point[name] <= high, name
    assert full["unit"] == "group"
    half = bootstrap.bootstrap_intervals(y[: len(y) // 4], p[: len(y) // 4], 0.1, 300, 1, groups[: len(y) // 4])
    width = lambda r, m: r["intervals"][m][1] - r["intervals"][m][0]  # noqa: E731
    assert width(full, "auc") < width(half, "auc")


def test_bootstrap_is_seeded(scored):
    y, p, groups = scored
    first = bootstrap.bootstrap_intervals(y, p, 0.1, 50, 9, groups)
    assert first == bootstrap.bootstrap_intervals(y, p, 0.1, 50, 9, groups)


def test_resamples_with_one_class_are_left_out_not_nan():
    y = np.array([0] * 40 + [1])
    p = np.linspace(0, 1, 41)
    result = bootstrap.bootstrap_intervals(y, p, 0.5, 200, 0)
    assert result["valid_samples"]["auc"] < 200
    assert all(np.isfinite(result["intervals"]["auc"]))


def test_threshold_is_chosen_by_f1_or_youden(scored):
    y, p, _ = scored
    best_f1 = max(skm.f1_score(y, p >= t) for t in np.unique(p))
    assert skm.f1_score(y, p >= metrics.choose_threshold(y, p, "f1")) == pytest.approx(best_f1)
    fpr, tpr, thr = skm.roc_curve(y, p)
    assert metrics.choose_threshold(y, p, "youden") == pytest.approx(min(thr[np.argmax(tpr - fpr)], 1.0))
    with pytest.raises(InvalidInputError, match="threshold method"):
        metrics.choose_threshold(y, p, "accuracy")


def test_precision_at_k_caps_k_at_the_split_size_and_says_so():
    y = np.array([1, 0, 1, 0, 0])
    p = np.array([0.9, 0.8, 0.7, 0.2, 0.1])
    values, notes = metrics.precision_at_k(y, p, (2, 100))
    assert values == {2: 0.5, 100: 0.4}
    assert notes == ["precision@100 uses all 5 rows: the split has fewer than 100"]


def test_calibration_error_by_hand():
    y = np.array([0, 0, 1, 1])
    p = np.array([0.1, 0.1, 0.9, 0.7])
    ece, bins = metrics.calibration(y, p, 10)
    assert ece == pytest.approx((2 * 0.1 + 0.1 + 0.3) / 4)
    assert [b["count"] for b in bins] == [2, 1, 1]


def test_evaluation_carries_every_design_field(scored):
    y, p, groups = scored
    result = evaluation.evaluate(y, p, 0.1, groups, 100, 0, (100, 500))
    for field in ("test_metrics", "optimal_threshold", "precision_at_k", "confidence_interval", "bootstrap_samples"):
        assert field in result
    assert result["precision_at_k"].keys() == {"100", "500"}
    assert np.array(result["details"]["confusion_matrix"]).sum() == len(y)


def test_a_single_class_test_split_is_explained_not_crashed_or_nan(tmp_path):
    from sealtrain.components.core import report

    y = np.zeros(60, dtype=int)
    p = np.linspace(0.01, 0.6, 60)
    result = evaluation.evaluate(y, p, 0.5, None, 50, 0, (10,))
    assert result["test_metrics"]["auc"] is None and result["test_metrics"]["pr_auc"] is None
    assert result["confidence_interval"]["auc"] is None
    assert any("single class" in note for note in result["details"]["notes"])
    assert all(v is None or np.isfinite(v) for v in result["test_metrics"].values())
    gate = evaluation.acceptance(result["test_metrics"], result["confidence_interval"], 0.7)
    assert gate == {"accepted": False, "reason": "test AUC is undefined (single-class test split)",
                    "criteria": {"min_auc": 0.7}}
    result.update(train_metrics={}, validation_metrics={}, acceptance=gate)
    assert "single class" in report.render_report(y, p, result, "degenerate")


def test_report_shows_every_plot_and_the_interval_table(scored):
    from sealtrain.components.core import report

    y, p, groups = scored
    result = evaluation.evaluate(y, p, 0.1, groups, 50, 0, (100,))
    result.update(train_metrics=result["test_metrics"], validation_metrics=result["test_metrics"],
                  acceptance=evaluation.acceptance(result["test_metrics"], result["confidence_interval"], 0.5))
    page = report.render_report(y, p, result, "covid")
    plots = ("ROC curve", "Precision-recall curve", "Calibration curve", "Score distributions", "Threshold analysis")
    for plot in plots:
        assert f'alt="{plot}" src="data:image/png;base64,' in page
    assert "test 95% CI" in page and "Validation gate:</b> accepted" in page
