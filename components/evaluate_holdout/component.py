"""KFP component: the one and only reader of the holdout."""

from kfp import dsl
from kfp.dsl import HTML, Artifact, ClassificationMetrics, Dataset, Input, Metrics, Model, Output

from sealtrain.components.runtime import DEFAULT_IMAGE


@dsl.component(base_image=DEFAULT_IMAGE, install_kfp_package=False)
def evaluate_holdout(
    holdout: Input[Dataset],
    preprocessor: Input[Model],
    model: Input[Model],
    evaluation: Output[Artifact],
    holdout_metrics: Output[Metrics],
    classification_metrics: Output[ClassificationMetrics],
    report: Output[HTML],
):
    """Scores the production model on its run's holdout, exactly as the test split was scored.

    Args:
        holdout: The rebuilt holdout; an artifact of any other role is refused.
        preprocessor: The run's train-fitted preprocessor.
        model: The version's model; it must descend from the holdout's split manifest.
        evaluation: All results (JSON).
        holdout_metrics: `holdout_*` metrics and interval bounds for the KFP UI.
        classification_metrics: ROC curve and confusion matrix for the KFP UI.
        report: Plots and tables of the evaluation (self-contained HTML).
    """
    from sealtrain.components.core.stages import stamp
    from sealtrain.components.core.stages.evaluate_holdout import run

    report.uri += ".html"  # as evaluate_model: browsers and MLflow render it by its name
    result = run(holdout_path=holdout.path, holdout_metadata=holdout.metadata, preprocessor_path=preprocessor.path,
                 preprocessor_metadata=preprocessor.metadata, model_path=model.path, model_metadata=model.metadata,
                 evaluation_path=evaluation.path, holdout_metrics_path=holdout_metrics.path,
                 classification_metrics_path=classification_metrics.path, report_path=report.path)
    roc = result.value["roc_curve"]
    if roc:
        classification_metrics.log_roc_curve(roc["fpr"], roc["tpr"], roc["thresholds"])
    classification_metrics.log_confusion_matrix(["negative", "positive"], result.value["confusion_matrix"])
    stamp(result, holdout_metrics=holdout_metrics, classification_metrics=classification_metrics)
