"""The compiled holdout validation pipeline is a reviewed artifact too: this golden test fails on
any unreviewed change.

After an intended change, regenerate it with
    sealtrain compile --pipeline holdout-validation -o pipelines/compiled/sealtrain-holdout-validation.yaml
and review the diff.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

from conftest import compiled_documents, container_tasks
from kfp import components

from sealtrain.components.core import isolation
from sealtrain.components.runtime import DEFAULT_IMAGE

GOLDEN = Path(__file__).resolve().parents[1] / "pipelines" / "compiled" / "sealtrain-holdout-validation.yaml"
TASKS = {"holdout-gate", "load-dataset", "rebuild-holdout", "evaluate-holdout", "record-holdout"}


def _compile(tmp_path) -> Path:
    out = tmp_path / "holdout.yaml"
    clean = {k: v for k, v in os.environ.items() if k != "SEALTRAIN_IMAGE"}
    subprocess.run([sys.executable, "-m", "sealtrain.pipelines.cli", "compile", "--pipeline", "holdout-validation",
                    "-o", str(out)], check=True, env=clean, capture_output=True)
    return out


def test_compiled_holdout_pipeline_matches_the_reviewed_golden_file(tmp_path):
    assert _compile(tmp_path).read_text() == GOLDEN.read_text(), __doc__


def test_compiled_holdout_pipeline_loads_back_with_kfp(tmp_path):
    assert components.load_component_from_file(str(_compile(tmp_path))).name == isolation.HOLDOUT_PIPELINE_NAME


def test_five_tasks_on_the_one_versioned_image():
    spec, _ = compiled_documents(GOLDEN)
    assert set(container_tasks(spec)) == TASKS
    assert {e["container"]["image"] for e in spec["deploymentSpec"]["executors"].values()} == {DEFAULT_IMAGE}


def test_the_gate_and_the_record_are_never_cached_and_only_the_evaluation_is_retried():
    spec, _ = compiled_documents(GOLDEN)
    tasks = container_tasks(spec)
    uncached = {name for name, task in tasks.items() if not task.get("cachingOptions", {}).get("enableCache", False)}
    assert uncached == {"holdout-gate", "record-holdout"}
    retried = {name for name, task in tasks.items() if task.get("retryPolicy", {}).get("maxRetryCount")}
    assert retried == {"evaluate-holdout"}


def test_nothing_is_read_before_the_gate_passed():
    spec, _ = compiled_documents(GOLDEN)
    graph = isolation.SpecGraph(spec)
    for name in TASKS - {"holdout-gate"}:
        assert "root/holdout-gate" in graph.upstream(f"root/{name}"), name
    rebuild = container_tasks(spec)["rebuild-holdout"]["inputs"]["artifacts"]["split_manifest"]["taskOutputArtifact"]
    assert rebuild == {"producerTask": "holdout-gate", "outputArtifactKey": "split_manifest"}


def test_store_credentials_come_from_a_secret_and_never_appear_in_the_yaml():
    spec, platform = compiled_documents(GOLDEN)
    text = GOLDEN.read_text()
    assert "postgresql" not in text and not re.search(r"://[^/\s:@]+:[^/\s@]+@", text)
    defaults = spec["root"]["inputDefinitions"]["parameters"]
    assert defaults["run_db_url"]["defaultValue"] == "" and defaults["mlflow_tracking_uri"]["defaultValue"] == ""
    assert set(platform) == {"exec-holdout-gate", "exec-rebuild-holdout", "exec-record-holdout"}
    for executor in platform.values():
        assert executor["secretAsEnv"][0]["secretName"] == "sealtrain-db"
        assert executor["configMapAsEnv"][0]["configMapName"] == "sealtrain-endpoints"
