"""Stage `evaluate_model`: the one and only reader of the test split, and the test-access ledger's writer."""

from __future__ import annotations

import json
from pathlib import Path

from .. import engines, evaluation, lineage, modelio, recording, training
from ..constants import GROUP_COLUMN, TEST
from ..preprocessing import Preprocessor
from ..report import render_report, test_reuse_warning
from ..run_artifacts import model_version
from ..schema import split_xy
from . import StageResult, scored_inputs


def run(*, test_path: str, test_metadata: dict, preprocessor_path: str, preprocessor_metadata: dict,
        model_path: str, model_metadata: dict, bootstrap_samples: int, seed: int, precision_at_k: list,
        min_auc: float, experiment_id: str, model_version_id: str, max_test_evaluations: int, db_url: str,
        evaluation_path: str, test_metrics_path: str, classification_metrics_path: str,
        report_path: str, engine: str = engines.PANDAS, dask_scheduler: str = "",
        dask_workers: int = 0) -> StageResult:
    """Scores the final model on the test split, at the threshold fixed on validation, and
    records the evaluation in the experiment's test-access ledger.

    The test budget is checked, with this model's fingerprint (its own earlier evaluation does
    not count against it), before the test split is read; the ledger row (this run's id from
    RUN_ID_ENV, the model's version and fingerprint, the metrics) is appended once the metrics
    are computed, once per model and test split.

    Args:
        test_path: The test split (Parquet): a local path, or with dask its gs:// URI (`locations.table_location`).
        test_metadata: Its artifact metadata; it must carry the test role.
        preprocessor_path: The train-fitted preprocessor.
        preprocessor_metadata: Its artifact metadata.
        model_path: The final model's directory.
        model_metadata: Its artifact metadata; it must name the test split's manifest.
        bootstrap_samples: Resamples of the percentile bootstrap (whole groups).
        seed: Seed of the bootstrap.
        precision_at_k: The k of precision@k.
        min_auc: The lower 95% bound of test AUC a model needs to be registered; 0 for none.
        experiment_id: The experiment whose ledger counts the evaluation.
        model_version_id: The candidate's version id, or empty to derive one from the run.
        max_test_evaluations: How many models may be evaluated on this test split; 0 for no limit.
        db_url: The run table (or empty for SEALTRAIN_DB_URL), which holds the ledger.
        evaluation_path: Where all results, the gate's decision and `test_evaluations` (JSON) go.
        test_metrics_path: Where the `test_*` metrics and interval bounds (JSON) go.
        classification_metrics_path: Where the ROC curve and confusion matrix (JSON) go.
        report_path: Where the HTML report goes.
        engine: "pandas" (in this process) or "dask": the test split is read and scored on the
            cluster, and only its scores, labels and groups are collected for the bootstrap.
        dask_scheduler: With dask, a running scheduler's address; empty starts a cluster for the task
            (`engines.dask_session`).
        dask_workers: With dask and no scheduler, the task's cluster's workers; 0 sizes a
            LocalCluster to the machine.

    Returns:
        The metrics of `test_metrics`; as `value`, the ROC curve (None for a single-class
        test split) and confusion matrix for KFP's ClassificationMetrics; and summary lines.

    Raises:
        DataLeakageError: The input is not the test split (by role or by content), the
            inputs come from another split manifest, or the preprocessor or model was not
            fitted on that manifest's train split.
        TestEvaluationLimitError: `max_test_evaluations` other models have been evaluated on
            this test split; the split is not read.
        InvalidInputError: RUN_ID_ENV is not set.
    """
    consumer = "evaluate_model"
    manifest, meta, fitted = scored_inputs.check(
        consumer, TEST, test_metadata, preprocessor_path=preprocessor_path,
        preprocessor_metadata=preprocessor_metadata, model_path=model_path, model_metadata=model_metadata)
    run_id, fitted_model = recording.current_run_id(), modelio.model_fingerprint(model_path)
    recording.test_budget(db_url=db_url, experiment_id=experiment_id, test_fingerprint=manifest.split(TEST),
                          max_evaluations=max_test_evaluations, model_fingerprint=fitted_model)
    if engines.check_engine(engine) == engines.DASK:
        labels, scores, groups = _dask_scores(test_path, consumer, manifest, model_path, fitted, dask_scheduler,
                                              dask_workers)
    else:
        frame = lineage.read_split(test_path, TEST, consumer, manifest)
        features, labels = split_xy(frame)
        scores = training.scores(modelio.load_model(model_path), fitted.transform(features))
        groups = frame[GROUP_COLUMN].to_numpy()
    result = evaluation.evaluate(labels, scores, meta["threshold"], groups, bootstrap_samples,
                                 seed, tuple(int(k) for k in precision_at_k))
    result["train_metrics"], result["validation_metrics"] = meta["metrics"]["train"], meta["metrics"]["validation"]
    result["acceptance"] = evaluation.acceptance(result["test_metrics"], result["confidence_interval"], min_auc)
    result["test_evaluations"] = recording.record_test_evaluation(
        db_url=db_url, experiment_id=experiment_id, test_fingerprint=manifest.split(TEST), training_run_id=run_id,
        model_fingerprint=fitted_model, model_version=model_version(model_version_id, meta["algorithm"], run_id),
        metrics=result["test_metrics"])
    Path(evaluation_path).write_text(json.dumps(result, indent=2))
    Path(report_path).write_text(render_report(labels, scores, result, f"sealtrain evaluation: {meta['algorithm']}"))
    logged = evaluation.logged_metrics(result)
    Path(test_metrics_path).write_text(json.dumps(logged, indent=2))
    curves = {key: result["details"][key] for key in ("roc_curve", "confusion_matrix")}
    Path(classification_metrics_path).write_text(json.dumps(curves, indent=2))
    auc, ci, acceptance = result["test_metrics"]["auc"], result["confidence_interval"]["auc"], result["acceptance"]
    lines = []
    if auc is not None and ci:
        lines.append(f"test AUC {auc:.4f} (95% CI {ci[0]:.4f}-{ci[1]:.4f}, {bootstrap_samples} resamples)")
    lines += [f"note: {note}" for note in result["details"]["notes"]]
    lines.append(f"validation gate: {'accepted' if acceptance['accepted'] else 'rejected'} ({acceptance['reason']})")
    count = result["test_evaluations"]
    lines.append(f"test split {manifest.split(TEST)[:12]}: evaluated by {count} model{'' if count == 1 else 's'} "
                 f"of experiment {experiment_id!r}, this one included")
    if warning := test_reuse_warning(result["test_evaluations"]):
        lines.append(f"warning: {warning}")
    return StageResult(metrics={"test_metrics": logged}, value=curves, lines=lines)


def _dask_scores(test_path: str, consumer: str, manifest: lineage.Manifest, model_path: str, fitted: Preprocessor,
                 scheduler: str, workers: int) -> tuple:
    """The test split's labels, scores and groups: read, verified and scored on the cluster, then collected."""
    import dask

    from ..constants import LABEL_COLUMN
    from ..distributed import training as dask_training

    with engines.dask_session(scheduler, workers):
        frame = lineage.read_split(test_path, TEST, consumer, manifest, engines.DASK)
        scores, labels, groups = dask.compute(dask_training.scores(modelio.load_model(model_path), frame, fitted),
                                              frame[LABEL_COLUMN], frame[GROUP_COLUMN])
    return labels.to_numpy(), scores.to_numpy(), groups.to_numpy()
