"""One step function per pipeline stage, and what a component does with its result.

Each module here is named after its component and exposes `run(...)`: plain inputs (file
paths, artifact metadata, parameters) in, files written to the output paths it is given, and
a `StageResult` back. A component then only calls `run` and `stamp`s the result onto its KFP
output artifacts, so every stage is tested without kfp. Each module imports only what its
stage needs: a task's start-up time is its imports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Lines with this prefix are the progress the CLI shows while a run is under way.
PROGRESS_PREFIX = "[sealtrain] "


@dataclass
class StageResult:
    """What a stage hands back to its component besides the files it wrote.

    Attributes:
        metadata: Artifact metadata by output name.
        metrics: Scalar metrics by name of a Metrics output.
        lines: Progress messages, without the prefix.
        value: The component's return value, or data only a KFP logger can record (the ROC
            curve and confusion matrix of a ClassificationMetrics output).
    """

    metadata: dict[str, dict] = field(default_factory=dict)
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)
    value: Any = None


def say(line: str) -> None:
    """Prints one progress line for the CLI's progress reader."""
    print(PROGRESS_PREFIX + line, flush=True)


def stamp(result: StageResult, **artifacts: Any) -> None:
    """Copies a stage's metadata and metrics onto the output artifacts and prints its lines.

    Args:
        result: The stage's result.
        **artifacts: The component's output artifacts by output name (anything with a
            `metadata` dict; Metrics outputs also need `log_metric`).

    Raises:
        ValueError: The result names an output that was not passed, which would drop it.
    """
    unknown = sorted((set(result.metadata) | set(result.metrics)) - set(artifacts))
    if unknown:
        raise ValueError(f"stage result names outputs {unknown} that were not passed to stamp")
    for name, artifact in artifacts.items():
        artifact.metadata.update(result.metadata.get(name, {}))
        for metric, value in result.metrics.get(name, {}).items():
            artifact.log_metric(metric, value)
    for line in result.lines:
        say(line)
