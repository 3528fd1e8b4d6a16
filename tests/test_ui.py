"""`sealtrain ui` on a real output folder: a run recorded into its SQLite stores, served by a real
`mlflow server` child process, stopped by Ctrl-C without leaving a process behind."""

import argparse
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import KOSTECKI_SPEC, free_port
from recorded_run import build_artifacts

from sealtrain.components.core import recording, tracking
from sealtrain.pipelines import ui


@pytest.fixture(scope="module")
def output(tmp_path_factory, kostecki, kostecki_splits):
    """An output folder as `sealtrain run` leaves it: mlflow.db, mlartifacts/, runs.db and optuna.db of one run."""
    out, work = tmp_path_factory.mktemp("out"), tmp_path_factory.mktemp("artifacts")
    artifacts = build_artifacts(work, kostecki, KOSTECKI_SPEC, kostecki_splits)
    shutil.copy(work / "optuna.db", out / "optuna.db")
    _, _, info, _ = recording.record(training_run_id="run-1", experiment_id="exp", model_version_id="",
                                     tracking_uri=f"sqlite:///{out / 'mlflow.db'}",
                                     db_url=f"sqlite:///{out / 'runs.db'}", artifacts=artifacts)
    return out, info


def _descendants(pid: int) -> set[int]:
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier}
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _lines_until(process: subprocess.Popen, marker: str, seconds: float = 240) -> list[str]:
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()
    seen, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            seen.append(lines.get(timeout=1))
        except queue.Empty:
            assert process.poll() is None, f"ui exited with {process.returncode}: {process.stderr.read()}"
            continue
        if marker in seen[-1]:
            return seen
    raise AssertionError(f"no {marker!r} within {seconds}s; printed {seen}")


def test_ui_serves_the_latest_run_and_its_model_and_stops_cleanly_on_ctrl_c(output):
    out, info = output
    port = free_port()
    command = [sys.executable, "-m", "sealtrain.pipelines.ui", "--output", str(out), "--port", str(port), "--optuna"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        printed = _lines_until(process, "Press Ctrl-C")
        children = _descendants(process.pid)
        urls = dict(re.match(r"([\w ]+):\s+(http\S+)", line).groups() for line in printed if "http" in line)
        assert urls["Latest run"] == f"http://127.0.0.1:{port}/#/experiments/{info['experiment_id']}/runs/{info['run_id']}"
        assert urls["Registered model"] == f"http://127.0.0.1:{port}/#/models/exp/versions/1"
        for url in urls.values():
            assert urllib.request.urlopen(url, timeout=30).status == 200, url
        search = urllib.request.Request(f"http://127.0.0.1:{port}/api/2.0/mlflow/runs/search",
                                        data=json.dumps({"experiment_ids": [info["experiment_id"]]}).encode(),
                                        headers={"Content-Type": "application/json"})
        listed = json.load(urllib.request.urlopen(search, timeout=30))["runs"]
        assert info["run_id"] in {run["info"]["run_id"] for run in listed}
        if "Optuna dashboard" not in urls:
            assert any("not installed; install it with `pip install optuna-dashboard`" in line for line in printed)
        assert children
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0
    time.sleep(1)
    assert not [pid for pid in children if _alive(pid)]


def test_a_folder_without_a_run_is_named_with_what_to_do(tmp_path):
    result = subprocess.run([sys.executable, "-m", "sealtrain.pipelines.ui", "--output", str(tmp_path / "empty")],
                            capture_output=True, text=True, env={**os.environ}, timeout=60)
    assert result.returncode == 2
    assert f"{tmp_path / 'empty'} holds no run" in result.stderr and "run `sealtrain run --output" in result.stderr


def test_every_flag_has_help_with_its_default(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    commands = argparse.ArgumentParser(prog="sealtrain").add_subparsers()
    ui.add_parser(commands)
    text = " ".join(commands.choices["ui"].format_help().split())
    assert "(default: ./sealtrain-output)" in text and "(default: 5000)" in text and "(default: off)" in text


def test_a_store_whose_run_never_got_recorded_is_refused_and_its_server_stopped(tmp_path):
    # A run that failed before `record_run` leaves an experiment and no run.
    tracking.ensure_experiment(f"sqlite:///{tmp_path / 'mlflow.db'}", "exp")
    result = subprocess.run([sys.executable, "-m", "sealtrain.pipelines.ui", "--output", str(tmp_path), "--port",
                             str(free_port())], capture_output=True, text=True, timeout=300)
    assert result.returncode == 2, result.stderr
    assert f"{tmp_path} holds no recorded run in mlflow.db" in result.stderr
    processes = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True).stdout
    assert str(tmp_path / "mlflow.db") not in processes
