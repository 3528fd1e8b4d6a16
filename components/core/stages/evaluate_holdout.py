"""Stage `evaluate_holdout`: the one and only reader of the holdout, scored like the test split."""

from __future__ import annotations

import json
from pathlib import Path

from .. import evaluation, lineage, modelio, training
from ..constants import GROUP_COLUMN, HOLDOUT
from ..report import render_report
from ..schema import split_xy
from . import StageResult, scored_inputs


def run(*, holdout_path: str, holdout_metadata: dict, preprocessor_path: str, preprocessor_metadata: dict,
        model_path: str, model_metadata: dict, evaluation_path: str, holdout_metrics_path: str,
        classification_metrics_path: str, report_path: str) -> StageResult:
    """Scores the production model on its run's holdout, with the test evaluation's metrics and settings.

    The threshold is the one fixed on validation (the model's metadata); the bootstrap's
    resamples and seed and the k of precision@k are the test evaluation's (`evaluation_settings`
    of the model artifact, which the holdout gate read from the run).

    Args:
        holdout_path: The rebuilt holdout (Parquet).
        holdout_metadata: Its artifact metadata; it must carry the holdout role.
        preprocessor_path: The run's train-fitted preprocessor.
        preprocessor_metadata: Its artifact metadata.
        model_path: The version's model directory.
        model_metadata: Its artifact metadata; it must name the holdout's split manifest.
        evaluation_path: Where all results (JSON, structured like the test evaluation's) go.
        holdout_metrics_path: Where the `holdout_*` metrics and interval bounds (JSON) go.
        classification_metrics_path: Where the ROC curve and confusion matrix (JSON) go.
        report_path: Where the HTML report goes.

    Returns:
        The metrics of `holdout_metrics`; as `value`, the ROC curve and confusion matrix; lines.

    Raises:
        DataLeakageError: The input is not the holdout (by role or content), or the inputs
            come from another split manifest, or the model or preprocessor was not fitted on
            that manifest's train split.
    """
    consumer = "evaluate_holdout"
    manifest, meta, fitted = scored_inputs.check(
        consumer, HOLDOUT, holdout_metadata, preprocessor_path=preprocessor_path,
        preprocessor_metadata=preprocessor_metadata, model_path=model_path, model_metadata=model_metadata)
    frame = lineage.read_split(holdout_path, HOLDOUT, consumer, manifest)
    settings = model_metadata["evaluation_settings"]
    samples, seed = int(settings["bootstrap_samples"]), int(settings["seed"])
    features, labels = split_xy(frame)
    scores = training.scores(modelio.load_model(model_path), fitted.transform(features))
    result = evaluation.evaluate(labels, scores, meta["threshold"], frame[GROUP_COLUMN].to_numpy(), samples, seed,
                                 tuple(int(k) for k in settings["precision_at_k"]))
    result["train_metrics"], result["validation_metrics"] = meta["metrics"]["train"], meta["metrics"]["validation"]
    result["split"], result["split_fingerprint"] = HOLDOUT, manifest.split(HOLDOUT)
    Path(evaluation_path).write_text(json.dumps(result, indent=2))
    title = (f"sealtrain holdout validation: {model_metadata['registered_model']} version "
             f"{model_metadata['registered_version']} ({meta['algorithm']})")
    Path(report_path).write_text(render_report(labels, scores, result, title, HOLDOUT))
    logged = evaluation.logged_metrics(result, HOLDOUT)
    Path(holdout_metrics_path).write_text(json.dumps(logged, indent=2))
    curves = {key: result["details"][key] for key in ("roc_curve", "confusion_matrix")}
    Path(classification_metrics_path).write_text(json.dumps(curves, indent=2))
    auc, ci = result["test_metrics"]["auc"], result["confidence_interval"]["auc"]
    lines = [f"holdout: {len(frame)} rows"]
    if auc is not None and ci:
        lines.append(f"holdout AUC {auc:.4f} (95% CI {ci[0]:.4f}-{ci[1]:.4f}, {samples} resamples)")
    lines += [f"note: {note}" for note in result["details"]["notes"]]
    return StageResult(metrics={"holdout_metrics": logged}, value=curves, lines=lines)
