"""Runs a sealtrain pipeline under kfp.local; the CLI starts it as a child process.

A child keeps kfp.local's verbose task logs off the user's terminal: the parent saves them
to a log file and shows one line per stage.

Usage: python -m sealtrain.pipelines.local_runner CONFIG.json
CONFIG holds `pipeline_root`, `enable_caching`, `arguments`, `result_path` and optionally
`pipeline` (`training`, the default, or `holdout-validation`); on success the record its last
task writes (for training, `record_run`'s run record: the URI of every artifact of the run) is
copied to `result_path`.

The parent side is `spawn` and `stop`: the runner leads a process group of its own, which
holds every task kfp.local starts, so stopping the group stops the whole run.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

from sealtrain.components.core.constants import RUN_ID_ENV
from sealtrain.components.core.endpoints import DB_URL_ENV, OPTUNA_STORAGE_ENV, TRACKING_URI_ENV
from sealtrain.components.runtime import DEFAULT_IMAGE
from sealtrain.pipelines.compile import HOLDOUT_VALIDATION, TRAINING

RECORD_TASK = "record-run"
RECORD_OUTPUT = "run_record"
# Each pipeline's record: the output of its last, never cached, task (so it is in this run's directory).
RECORDS = {TRAINING: (RECORD_TASK, RECORD_OUTPUT), HOLDOUT_VALIDATION: ("record-holdout", "validation_record")}
# The stores' URLs reach the tasks through their environment, never as pipeline arguments:
# kfp.local writes every argument into each task's command line (`--executor_input`), which
# the process table shows to anyone on the machine. An empty parameter makes a task read them.
STORE_ENV = {"mlflow_tracking_uri": TRACKING_URI_ENV, "run_db_url": DB_URL_ENV,
             "optuna_storage_url": OPTUNA_STORAGE_ENV}
STOP_GRACE_SECONDS = 3.0
# MLflow's usage telemetry starts a client in every task that imports MLflow and wraps each of
# its calls; the tasks run without it unless the user's environment says otherwise.
TASK_ENV_DEFAULTS = {"MLFLOW_DISABLE_TELEMETRY": "true"}


def spawn(config_path: Path, stores: dict[str, str], run_id: str = "") -> subprocess.Popen:
    """Starts the runner on a config, in a session of its own, with output piped as text lines.

    Args:
        config_path: The runner's config (see the module's docstring), in a scratch directory
            that the tasks use as their TMPDIR and the caller removes after the run.
        stores: The store URLs by pipeline parameter (keys of STORE_ENV), given to the tasks
            through the environment.
        run_id: The training run's id, given to the tasks as RUN_ID_ENV (on a cluster it comes
            from the pod's label): a cached step that records it cannot take it as a parameter.
    """
    env = {**TASK_ENV_DEFAULTS, **os.environ, "PYTHONUNBUFFERED": "1",
           **{STORE_ENV[name]: url for name, url in stores.items()}, **({RUN_ID_ENV: run_id} if run_id else {}),
           # kfp.local writes each task's code to a `mktemp -d` directory and never removes it:
           # in the config's directory, the caller's scratch, they go when the run ends.
           "TMPDIR": str(config_path.parent)}
    return subprocess.Popen(
        [sys.executable, "-m", "sealtrain.pipelines.local_runner", str(config_path)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True,
    )


def _group_alive(group: int) -> bool:
    """Whether a live (not zombie) process is in a process group."""
    proc = Path("/proc")
    if not proc.is_dir():
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return False
        return True
    for stat in proc.glob("[0-9]*/stat"):
        try:
            state, _, pgrp = stat.read_text().rsplit(")", 1)[1].split()[:3]
        except OSError:  # the process exited while we looked
            continue
        if int(pgrp) == group and state != "Z":
            return True
    return False


def stop(child: subprocess.Popen, grace: float = STOP_GRACE_SECONDS) -> None:
    """Stops the runner and every task it started: SIGTERM to its process group, SIGKILL to
    whatever is left after `grace` seconds; returns when no process of the group is left."""
    group = child.pid  # the session leader's pid is its group's id
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, grace)):
        try:
            os.killpg(group, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            child.poll()  # reaps the runner, so the group empties once its tasks are gone
            if not _group_alive(group):
                return
            time.sleep(0.05)


def main(config_path: str) -> int:
    """Runs the pipeline described by a config file; returns the process exit code."""
    from kfp import local

    from sealtrain.pipelines.compile import build

    config = json.loads(Path(config_path).read_text())
    name = config.get("pipeline", TRAINING)
    pipeline = build(name, DEFAULT_IMAGE)
    record_task, record_output = RECORDS[name]
    root = Path(config["pipeline_root"])
    root.mkdir(parents=True, exist_ok=True)
    before = set(root.iterdir())
    # SubprocessRunner runs each component in this interpreter rather than its image; that is the point.
    warnings.filterwarnings("ignore", message="You may be attemping to run a task that uses custom")
    local.init(
        runner=local.SubprocessRunner(use_venv=False),
        pipeline_root=str(root),
        enable_caching=config["enable_caching"],
        raise_on_error=True,
    )
    try:
        pipeline(**config["arguments"])
    except RuntimeError as exc:
        print(f"PIPELINE FAILED: {exc}", flush=True)
        return 1
    # kfp.local gives this run a fresh directory; cached steps keep pointing at older ones,
    # but the uncached record step always writes here and names every artifact's URI.
    (run_dir,) = [d for d in root.iterdir() if d not in before and d.name.startswith(f"{pipeline.name}-")]
    shutil.copyfile(run_dir / record_task / record_output, config["result_path"])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
