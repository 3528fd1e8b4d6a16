"""What the pipeline produced for one run, as `record_run` receives it: paths, then their content."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

from .algorithms import Algorithm, get_algorithm
from .constants import HOLDOUT
from .modelio import read_model_meta


def model_version(model_version_id: str, algorithm: str, training_run_id: str) -> str:
    """The candidate's version id, or one derived from the algorithm and the run."""
    return model_version_id or f"{algorithm}-{training_run_id}"


@dataclass(frozen=True)
class RunArtifacts:
    """The paths of one run's artifacts.

    Attributes:
        manifest: The split manifest (JSON).
        preprocessor: The train-fitted preprocessor's directory.
        model: The final model's directory.
        best_hyperparameters: The tuning result (JSON).
        trials: The trials table (CSV).
        evaluation: The test evaluation with the gate's decision (JSON).
        group_splits: Every group's salted hash and split (Parquet, `splitting.SplitResult.groups`).
        reports: Further files logged with the run: the HTML reports, the QC report.
    """

    manifest: str
    preprocessor: str
    model: str
    best_hyperparameters: str
    trials: str
    evaluation: str
    group_splits: str
    reports: tuple[str, ...] = ()

    def group_hashes(self) -> tuple[list[str], list[str]]:
        """The hashes of the run's holdout groups and of its other groups."""
        import pandas as pd  # the run table's light tasks import this module without needing pandas

        groups = pd.read_parquet(self.group_splits)
        held = groups["split"] == HOLDOUT
        return groups.loc[held, "group_hash"].tolist(), groups.loc[~held, "group_hash"].tolist()

    def read(self, training_run_id: str, experiment_id: str, model_version_id: str) -> RunResults:
        """Parses the JSON artifacts, for the run they belong to.

        Args:
            training_run_id: The run's id.
            experiment_id: The MLflow experiment and `ml_experiments` key.
            model_version_id: The candidate's version id, or empty to derive one.
        """
        best = json.loads(Path(self.best_hyperparameters).read_text())
        algorithm = get_algorithm(best["algorithm"])
        return RunResults(
            training_run_id=training_run_id,
            experiment_id=experiment_id,
            model_version_id=model_version(model_version_id, algorithm.name, training_run_id),
            algorithm=algorithm,
            manifest=json.loads(Path(self.manifest).read_text()),
            best=best,
            evaluation=json.loads(Path(self.evaluation).read_text()),
            model_meta=read_model_meta(self.model),
        )


@dataclass(frozen=True)
class RunResults:
    """One run's identity and the content of its JSON artifacts.

    Attributes:
        training_run_id: The run's id.
        experiment_id: The MLflow experiment and `ml_experiments` key.
        model_version_id: The candidate's version id.
        algorithm: The tuned and trained algorithm.
        manifest: The split manifest: per-split rows, groups, fingerprints, and the dataset.
        best: The tuning result: params, metric, seed, trial count, search space.
        evaluation: Metrics of every split, intervals, precision@k, threshold, gate decision.
        model_meta: What was saved beside the model: best iteration, threshold method, timing.
        test_evaluations: Models of the experiment evaluated on this run's test split, this one
            included, as the ledger says when the run is recorded (0 until then).
    """

    training_run_id: str
    experiment_id: str
    model_version_id: str
    algorithm: Algorithm
    manifest: dict
    best: dict
    evaluation: dict
    model_meta: dict
    test_evaluations: int = 0

    def with_test_evaluations(self, count: int) -> RunResults:
        """The same results, with the ledger's count of models evaluated on the test split."""
        return replace(self, test_evaluations=count)

    @property
    def acceptance(self) -> dict:
        """The validation gate's decision: `accepted` and its `reason`."""
        return self.evaluation["acceptance"]
