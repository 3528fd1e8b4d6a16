"""KFP component: the one and only reader of the test split."""

from kfp import dsl
from kfp.dsl import HTML, Artifact, ClassificationMetrics, Dataset, Input, Metrics, Model, Output

from sealtrain.components.runtime import DEFAULT_IMAGE


@dsl.component(base_image=DEFAULT_IMAGE, install_kfp_package=False)
def evaluate_model(
    test: Input[Dataset],
    preprocessor: Input[Model],
    model: Input[Model],
    bootstrap_samples: int,
    seed: int,
    precision_at_k: list,
    min_auc: float,
    experiment_id: str,
    model_version_id: str,
    max_test_evaluations: int,
    run_db_url: str,
    evaluation: Output[Artifact],
    test_metrics: Output[Metrics],
    classification_metrics: Output[ClassificationMetrics],
    report: Output[HTML],
    engine: str = "pandas",
    dask_scheduler: str = "",
    dask_workers: int = 0,
):
    """Scores the final model on the test split, at the threshold fixed on validation, and
    records the evaluation in the experiment's test-access ledger.

    The run's id comes from the environment (SEALTRAIN_TRAINING_RUN_ID), not a parameter, so
    the step stays cacheable: a rerun served from the cache adds no ledger row.

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
        experiment_id: The experiment whose ledger counts the evaluation.
        model_version_id: The candidate's version id, or empty to derive one from the run.
        max_test_evaluations: How many models may be evaluated on this test split (0: no
            limit); beyond it the test split is not read.
        run_db_url: Run-table database URL, or empty to use SEALTRAIN_DB_URL.
        engine: "pandas" or "dask" (the stage's work on a Dask cluster).
        dask_scheduler: With dask, a running scheduler's address; empty starts a cluster for the task
            (`engines.dask_session`).
        dask_workers: With dask and no scheduler, the task's cluster's workers; 0 sizes a
            LocalCluster to the machine.
        evaluation: All evaluation results, the gate's decision and how many models of the
            experiment have been evaluated on this test split (JSON).
        test_metrics: `test_*` metrics and interval bounds for the KFP UI.
        classification_metrics: ROC curve and confusion matrix for the KFP UI.
        report: Plots and tables of the evaluation (self-contained HTML).
    """
    from sealtrain.components.core.locations import table_location
    from sealtrain.components.core.stages import stamp
    from sealtrain.components.core.stages.evaluate_model import run

    # The .html name lets a browser and MLflow's artifact view render the page; kfp.local and the
    # cluster launcher both upload from, and hand downstream, the URI a component returns.
    report.uri += ".html"
    result = run(test_path=table_location(test.uri, test.path, engine), test_metadata=test.metadata,
                 preprocessor_path=preprocessor.path,
                 preprocessor_metadata=preprocessor.metadata, model_path=model.path, model_metadata=model.metadata,
                 bootstrap_samples=bootstrap_samples, seed=seed, precision_at_k=precision_at_k, min_auc=min_auc,
                 experiment_id=experiment_id, model_version_id=model_version_id,
                 max_test_evaluations=max_test_evaluations, db_url=run_db_url,
                 evaluation_path=evaluation.path, test_metrics_path=test_metrics.path,
                 classification_metrics_path=classification_metrics.path, report_path=report.path,
                 engine=engine, dask_scheduler=dask_scheduler, dask_workers=dask_workers)
    roc = result.value["roc_curve"]
    if roc:
        classification_metrics.log_roc_curve(roc["fpr"], roc["tpr"], roc["thresholds"])
    classification_metrics.log_confusion_matrix(["negative", "positive"], result.value["confusion_matrix"])
    stamp(result, test_metrics=test_metrics, classification_metrics=classification_metrics)
