"""The design's output records, TrainedModel and ValidationMetrics, as JSON artifacts."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field


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
