"""KFP component: the one and only reader of the test split."""

from kfp import dsl
from kfp.dsl import HTML, Artifact, ClassificationMetrics, Dataset, Input, Metrics, Model, Output

from sealtrain.components.runtime import RUNTIME_IMAGE


@dsl.component(base_image=RUNTIME_IMAGE, install_kfp_package=False)
def evaluate_model(
    test: Input[Dataset],
    preprocessor: Input[Model],
    model: Input[Model],
    bootstrap_samples: int,
    seed: int,
    precision_at_k: list,
    min_auc: float,
    evaluation: Output[Artifact],
    test_metrics: Output[Metrics],
    classification_metrics: Output[ClassificationMetrics],
    report: Output[HTML],
):
    """Scores the final model on the test split, at the threshold fixed on validation.

    Args:
        test: The test split; an artifact of any other role is refused.
        preprocessor: The train-fitted preprocessor.
        model: The final model; it must descend from the same split manifest as the test split.
        bootstrap_samples: Resamples of the percentile bootstrap (whole groups when the
            data has a group column).
        seed: Seed of the bootstrap.
        precision_at_k: The k of precision@k.
        min_auc: The validation gate: the lower 95% bound of test AUC must reach it for the
            model to be registered; 0 sets no criterion.
        evaluation: All evaluation results and the gate's decision (JSON).
        test_metrics: `test_*` metrics and interval bounds for the KFP UI.
        classification_metrics: ROC curve and confusion matrix for the KFP UI.
        report: Plots and tables of the evaluation (self-contained HTML).
    """
    import json
    from pathlib import Path

    from sealtrain.components.core import evaluation as ev
    from sealtrain.components.core import lineage, modelio, tables, training
    from sealtrain.components.core.constants import GROUP_COLUMN, METRIC_PREFIX, TEST
    from sealtrain.components.core.preprocessing import Preprocessor
    from sealtrain.components.core.report import render_report
    from sealtrain.components.core.schema import split_xy

    lineage.require_role(test.metadata, TEST, "evaluate_model")
    meta = modelio.read_model_meta(model.path)
    lineage.require_same_manifest("evaluate_model", test=test.metadata, preprocessor=preprocessor.metadata, model=model.metadata)
    frame = tables.read_parquet(test.path)
    features, labels = split_xy(frame)
    scores = training.scores(modelio.load_model(model.path), Preprocessor.load(preprocessor.path).transform(features))
    result = ev.evaluate(labels, scores, meta["threshold"], frame[GROUP_COLUMN].to_numpy(), bootstrap_samples, seed,
                         tuple(int(k) for k in precision_at_k))
    result["train_metrics"], result["validation_metrics"] = meta["metrics"]["train"], meta["metrics"]["validation"]
    result["acceptance"] = ev.acceptance(result["test_metrics"], result["confidence_interval"], min_auc)
    Path(evaluation.path).write_text(json.dumps(result, indent=2))
    Path(report.path).write_text(render_report(labels, scores, result, f"sealtrain evaluation: {meta['algorithm']}"))
    for name, value in result["test_metrics"].items():
        if value is not None:
            test_metrics.log_metric(METRIC_PREFIX[TEST] + name, value)
    for name, bounds in result["confidence_interval"].items():
        if bounds:
            test_metrics.log_metric(f"{METRIC_PREFIX[TEST]}{name}_ci_low", bounds[0])
            test_metrics.log_metric(f"{METRIC_PREFIX[TEST]}{name}_ci_high", bounds[1])
    roc = result["details"]["roc_curve"]
    if roc:
        classification_metrics.log_roc_curve(roc["fpr"], roc["tpr"], roc["thresholds"])
    classification_metrics.log_confusion_matrix(["negative", "positive"], result["details"]["confusion_matrix"])
    # KFP keeps these in metadata only; files at the paths let the step be cached.
    for output in (test_metrics, classification_metrics):
        Path(output.path).write_text(json.dumps(output.metadata, indent=2))
    auc, ci = result["test_metrics"]["auc"], result["confidence_interval"]["auc"]
    if auc is not None and ci:
        print(f"[sealtrain] test AUC {auc:.4f} (95% CI {ci[0]:.4f}-{ci[1]:.4f}, {bootstrap_samples} resamples)")
    for note in result["details"]["notes"]:
        print(f"[sealtrain] note: {note}")
    print(f"[sealtrain] validation gate: {'accepted' if result['acceptance']['accepted'] else 'rejected'} "
          f"({result['acceptance']['reason']})")
