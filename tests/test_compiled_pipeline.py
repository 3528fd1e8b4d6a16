"""The compiled YAML is a reviewed artifact: this golden test fails on any unreviewed change.

After an intended change, regenerate it with
    sealtrain compile -o pipelines/compiled/sealtrain-training.yaml
and review the diff.
"""

import os
import subprocess
import sys
from pathlib import Path

import yaml
from kfp import components

from sealtrain.components.core import isolation
from sealtrain.components.runtime import DEFAULT_IMAGE

GOLDEN = Path(__file__).resolve().parents[1] / "pipelines" / "compiled" / "sealtrain-training.yaml"


def _compile(tmp_path, **env) -> Path:
    out = tmp_path / "pipeline.yaml"
    clean = {k: v for k, v in os.environ.items() if k != "SEALTRAIN_IMAGE"} | env
    subprocess.run([sys.executable, "-m", "sealtrain.pipelines.cli", "compile", "-o", str(out)], check=True, env=clean,
                   capture_output=True)
    return out


def test_compiled_pipeline_matches_the_reviewed_golden_file(tmp_path):
    assert _compile(tmp_path).read_text() == GOLDEN.read_text(), __doc__


def test_compiled_pipeline_loads_back_with_kfp(tmp_path):
    loaded = components.load_component_from_file(str(_compile(tmp_path)))
    assert loaded.name == "sealtrain-training"


def test_every_component_runs_the_one_versioned_image():
    spec = isolation.pipeline_document(list(yaml.safe_load_all(GOLDEN.read_text())))
    executors = spec["deploymentSpec"]["executors"]
    assert len(executors) == 9
    assert {e["container"]["image"] for e in executors.values()} == {DEFAULT_IMAGE}


def test_image_can_be_overridden_at_compile_time(tmp_path):
    spec = yaml.safe_load(_compile(tmp_path, SEALTRAIN_IMAGE="registry.example/sealtrain:abc").read_text())
    assert {e["container"]["image"] for e in spec["deploymentSpec"]["executors"].values()} == {"registry.example/sealtrain:abc"}


def test_side_effect_step_is_never_cached_and_compute_steps_are():
    spec = isolation.pipeline_document(list(yaml.safe_load_all(GOLDEN.read_text())))
    caching = {name: task.get("cachingOptions", {}).get("enableCache", False) for name, task in spec["root"]["dag"]["tasks"].items()}
    assert caching.pop("record-run") is False
    assert all(caching.values()), caching


def test_split_component_declares_typed_dataset_outputs_named_after_the_splits():
    spec = isolation.pipeline_document(list(yaml.safe_load_all(GOLDEN.read_text())))
    outputs = spec["components"]["comp-split-dataset"]["outputDefinitions"]["artifacts"]
    for split in ("train", "validation", "test", "holdout"):
        assert outputs[split]["artifactType"]["schemaTitle"] == "system.Dataset"
    evaluate = spec["components"]["comp-evaluate-model"]["outputDefinitions"]["artifacts"]
    assert evaluate["test_metrics"]["artifactType"]["schemaTitle"] == "system.Metrics"
    assert evaluate["classification_metrics"]["artifactType"]["schemaTitle"] == "system.ClassificationMetrics"
