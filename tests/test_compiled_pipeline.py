"""The compiled YAML is a reviewed artifact: this golden test fails on any unreviewed change.

After an intended change, regenerate it with
    sealtrain compile -o pipelines/compiled/sealtrain-training.yaml
and review the diff.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml
from conftest import compiled_documents, container_tasks
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


SIDE_EFFECT_TASKS = {"start-run", "recall-best-config", "record-run", "finalize-run"}


def test_every_component_runs_the_one_versioned_image():
    spec, _ = compiled_documents(GOLDEN)
    executors = spec["deploymentSpec"]["executors"]
    assert len(executors) == 14
    assert {e["container"]["image"] for e in executors.values()} == {DEFAULT_IMAGE}


def _images(path: Path) -> set[str]:
    spec = isolation.pipeline_document(list(yaml.safe_load_all(path.read_text())))
    return {e["container"]["image"] for e in spec["deploymentSpec"]["executors"].values()}


def test_image_can_be_overridden_at_compile_time(tmp_path):
    image = "registry.example/sealtrain:abc"
    assert _images(_compile(tmp_path, SEALTRAIN_IMAGE=image)) == {image}


def test_image_is_chosen_when_the_pipeline_is_built_not_when_components_are_imported(tmp_path, monkeypatch):
    # The components are imported by now (this module imports the pipeline through the CLI's
    # modules); the image must still follow the argument, then the environment.
    from sealtrain.pipelines.compile import compile_pipeline

    assert _images(compile_pipeline(tmp_path / "a.yaml", image="registry.example/sealtrain:flag")) == {
        "registry.example/sealtrain:flag"}
    monkeypatch.setenv("SEALTRAIN_IMAGE", "registry.example/sealtrain:env")
    assert _images(compile_pipeline(tmp_path / "b.yaml")) == {"registry.example/sealtrain:env"}
    assert _images(compile_pipeline(tmp_path / "c.yaml", image="registry.example/sealtrain:flag")) == {
        "registry.example/sealtrain:flag"}


def test_compiled_yaml_is_readable_by_everyone_like_any_file(tmp_path):
    assert _compile(tmp_path).stat().st_mode & 0o777 == 0o666 & ~_umask()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_side_effect_steps_are_never_cached_and_compute_steps_are():
    spec, _ = compiled_documents(GOLDEN)
    caching = {name: task.get("cachingOptions", {}).get("enableCache", False)
               for name, task in container_tasks(spec).items()}
    assert {name for name, cached in caching.items() if not cached} == SIDE_EFFECT_TASKS


def test_failures_are_recorded_by_an_exit_handler_task():
    spec, _ = compiled_documents(GOLDEN)
    root = spec["root"]["dag"]["tasks"]
    assert root["finalize-run"]["triggerPolicy"]["strategy"] == "ALL_UPSTREAM_TASKS_COMPLETED"
    assert root["finalize-run"]["dependentTasks"] == ["exit-handler-1"]
    status = spec["components"]["comp-finalize-run"]["inputDefinitions"]["parameters"]["status"]
    assert status["parameterType"] == "TASK_FINAL_STATUS"


def test_run_table_credentials_come_from_a_secret_and_never_appear_in_the_yaml():
    spec, platform = compiled_documents(GOLDEN)
    text = GOLDEN.read_text()
    assert "postgresql" not in text and not re.search(r"://[^/\s:@]+:[^/\s@]+@", text)
    defaults = spec["root"]["inputDefinitions"]["parameters"]
    assert defaults["run_db_url"]["defaultValue"] == "" and defaults["mlflow_tracking_uri"]["defaultValue"] == ""
    for executor in ("exec-start-run", "exec-recall-best-config", "exec-record-run", "exec-finalize-run"):
        secret = platform[executor]["secretAsEnv"][0]
        assert secret["secretName"] == "sealtrain-db"
        assert secret["keyToEnv"] == [{"envVar": "SEALTRAIN_DB_URL", "secretKey": "SEALTRAIN_DB_URL"}]
        assert platform[executor]["configMapAsEnv"][0]["configMapName"] == "sealtrain-endpoints"


def test_every_step_has_resources_and_retries_only_where_safe():
    spec, _ = compiled_documents(GOLDEN)
    for executor in spec["deploymentSpec"]["executors"].values():
        resources = executor["container"]["resources"]
        assert {"cpuRequest", "cpuLimit", "memoryRequest", "memoryLimit"} <= set(resources)
    retried = {name for name, task in container_tasks(spec).items() if task.get("retryPolicy", {}).get("maxRetryCount")}
    # start-run and recall-best-config fail fast (their store errors are not transient at the start);
    # record-run is never retried: a retry would log a second MLflow run.
    assert retried == {"finalize-run", "tune-hyperparameters", "select-best-trial", "train-model", "evaluate-model"}


def test_split_component_declares_typed_dataset_outputs_named_after_the_splits():
    spec, _ = compiled_documents(GOLDEN)
    outputs = spec["components"]["comp-split-dataset"]["outputDefinitions"]["artifacts"]
    for split in ("train", "validation", "test", "holdout"):
        assert outputs[split]["artifactType"]["schemaTitle"] == "system.Dataset"
    evaluate = spec["components"]["comp-evaluate-model"]["outputDefinitions"]["artifacts"]
    assert evaluate["test_metrics"]["artifactType"]["schemaTitle"] == "system.Metrics"
    assert evaluate["classification_metrics"]["artifactType"]["schemaTitle"] == "system.ClassificationMetrics"
    assert evaluate["report"]["artifactType"]["schemaTitle"] == "system.HTML"


def test_tuning_fans_out_over_workers_that_share_a_study_in_postgres_on_a_cluster():
    spec, platform = compiled_documents(GOLDEN)
    loops = [c for name, c in spec["components"].items() if name.startswith("comp-for-loop")]
    assert len(loops) == 1 and list(loops[0]["dag"]["tasks"]) == ["tune-hyperparameters"]
    select = container_tasks(spec)["select-best-trial"]
    assert "worker_trials" in select["inputs"]["parameters"]
    for executor in ("exec-tune-hyperparameters", "exec-select-best-trial"):
        assert platform[executor]["secretAsEnv"][0]["keyToEnv"] == [{"envVar": "PGPASSWORD", "secretKey": "PGPASSWORD"}]
        keys = {k["envVar"] for k in platform[executor]["configMapAsEnv"][0]["keyToEnv"]}
        assert keys == {"OPTUNA_STORAGE_URL", "PGUSER"}
