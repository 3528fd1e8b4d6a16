"""The design's output records, TrainedModel and ValidationMetrics, as JSON artifacts."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime

from .constants import AUC, BRIER, CALIBRATION_ERROR, F1, PR_AUC, PRECISION, RECALL
from .run_artifacts import RunResults
from .tracking import MODEL_ARTIFACT_PATH, PREPROCESSOR_ARTIFACT_PATH


@dataclass
class TrainedModel:
    """A trained model and where its artifacts are (fields of the design)."""

    training_run_id: str
    model_version_id: str
    experiment_id: str
    algorithm_name: str
    framework: str
    best_hyperparameters: dict
    tuning_trials: int
    model_artifact_uri: str
    preprocessing_artifact_uri: str
    training_samples: int
    training_duration_seconds: float
    training_completed_at: str

    def to_json(self) -> str:
        """Serialises the record."""
        return json.dumps(asdict(self), indent=2)


@dataclass
class ValidationMetrics:
    """Model performance on every split (fields of the design).

    The headline metrics are the test split's, at the threshold chosen on validation.
    """

    training_run_id: str
    train_metrics: dict
    validation_metrics: dict
    test_metrics: dict
    auc: float
    precision: float
    recall: float
    f1: float
    pr_auc: float
    brier_score: float
    calibration_error: float
    optimal_threshold: float
    precision_at_k: dict
    confidence_interval: dict
    bootstrap_samples: int
    details: dict = field(default_factory=dict)

    def to_json(self) -> str:
        """Serialises the record."""
        return json.dumps(asdict(self), indent=2)


def trained_model(run: RunResults, logged: dict, completed_at: datetime) -> TrainedModel:
    """The TrainedModel record of a run logged to MLflow.

    Args:
        run: The run's identity and artifacts.
        logged: What `tracking.log_training_run` returned: the URI of every logged directory.
        completed_at: When the run was recorded.
    """
    return TrainedModel(
        training_run_id=run.training_run_id,
        model_version_id=run.model_version_id,
        experiment_id=run.experiment_id,
        algorithm_name=run.algorithm.name,
        framework=run.algorithm.framework,
        best_hyperparameters=run.best["params"],
        tuning_trials=run.best["tuning_trials"],
        model_artifact_uri=logged[f"{MODEL_ARTIFACT_PATH}_uri"],
        preprocessing_artifact_uri=logged[f"{PREPROCESSOR_ARTIFACT_PATH}_uri"],
        training_samples=run.model_meta["training_samples"],
        training_duration_seconds=run.model_meta["training_duration_seconds"],
        training_completed_at=completed_at.isoformat(),
    )


def validation_metrics(run: RunResults) -> ValidationMetrics:
    """The ValidationMetrics record of a run: every split's metrics, headlined by the test split's."""
    evaluation = run.evaluation
    test = evaluation["test_metrics"]
    return ValidationMetrics(
        training_run_id=run.training_run_id,
        train_metrics=evaluation["train_metrics"],
        validation_metrics=evaluation["validation_metrics"],
        test_metrics=test,
        auc=test[AUC],
        precision=test[PRECISION],
        recall=test[RECALL],
        f1=test[F1],
        pr_auc=test[PR_AUC],
        brier_score=test[BRIER],
        calibration_error=test[CALIBRATION_ERROR],
        optimal_threshold=evaluation["optimal_threshold"],
        precision_at_k=evaluation["precision_at_k"],
        confidence_interval=evaluation["confidence_interval"],
        bootstrap_samples=evaluation["bootstrap_samples"],
        details={**evaluation["details"], "acceptance": run.acceptance},
    )
