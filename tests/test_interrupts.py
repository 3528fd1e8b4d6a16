"""SIGINT and SIGTERM stop a whole `sealtrain run`: real runs on KosteckiDillon, signalled while
they tune and while they record to MLflow; within 10 s nothing of the run is left, the row
says `failed` (interrupted) and the MLflow run, if one was started, is KILLED."""

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

STOP_SECONDS = 10


@pytest.fixture(scope="module")
def data(tmp_path_factory, kostecki):
    path = tmp_path_factory.mktemp("data") / "kostecki.csv"
    kostecki.to_csv(path, index=False)
    return path


def _processes() -> dict[int, tuple[int, str]]:
    """Every live process: pid -> (parent pid, command line)."""
    found = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            state, parent = (entry / "stat").read_text().rsplit(")", 1)[1].split()[:2]
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if state != "Z":
            found[int(entry.name)] = (int(parent), command)
    return found


def _descendants(pid: int) -> set[int]:
    processes, found, frontier = _processes(), set(), {pid}
    while frontier:
        frontier = {child for child, (parent, _) in processes.items() if parent in frontier} - found
        found |= frontier
    return found


class _Run:
    """`sealtrain run` in a child process, its output collected line by line."""

    def __init__(self, data: Path, out: Path, *flags: str):
        self.out = out
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sealtrain.pipelines.cli", "run", "--data", str(data), "--label", "headache",
             "--positive-class", "yes", "--group", "id", "--drop", "rownames", "--output", str(out), *flags],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=lambda: self.lines.extend(self.process.stdout), daemon=True)
        self._reader.start()

    def wait_until(self, ready, what: str, seconds: float = 600) -> None:
        deadline = time.monotonic() + seconds
        while not ready():
            assert self.process.poll() is None, f"the run ended before {what}:\n" + "".join(self.lines)
            assert time.monotonic() < deadline, f"no {what} within {seconds}s:\n" + "".join(self.lines)
            time.sleep(0.1)

    def interrupt(self, sig: signal.Signals) -> tuple[int, float, set[int]]:
        """Sends `sig`; returns the exit code, the seconds to exit, and the run's processes at the signal."""
        processes = _descendants(self.process.pid)
        started = time.monotonic()
        self.process.send_signal(sig)
        code = self.process.wait(timeout=60)
        took = time.monotonic() - started
        self._reader.join(timeout=10)
        return code, took, processes

    def left_behind(self, processes: set[int]) -> dict[int, str]:
        """Processes of the run still alive: seen at the signal, or naming the output folder."""
        return {pid: command for pid, (_, command) in _processes().items()
                if pid in processes or str(self.out) in command}

    def row(self) -> dict:
        with sqlite3.connect(self.out / "runs.db") as conn:
            conn.row_factory = sqlite3.Row
            (row,) = conn.execute("select * from ml_training_runs").fetchall()
        return dict(row)


def _mlflow_runs(out: Path, status: str | None = None) -> list[tuple[str, str]]:
    if not (out / "mlflow.db").exists():
        return []
    try:
        with sqlite3.connect(out / "mlflow.db") as conn:
            rows = conn.execute("select name, status from runs").fetchall()
    except sqlite3.OperationalError:  # the schema is still being created
        return []
    return [r for r in rows if status is None or r[1] == status]


@pytest.mark.pipeline
def test_sigint_while_tuning_stops_the_whole_run_and_records_it_interrupted(data, tmp_path):
    run = _Run(data, tmp_path / "out", "--trials", "2000", "--bootstrap-samples", "20")
    run.wait_until(lambda: any("tune-hyperparameters ..." in line for line in run.lines), "tuning")
    time.sleep(1)  # the tuning worker is well under way
    code, took, processes = run.interrupt(signal.SIGINT)
    output = "".join(run.lines)
    assert code == 130, output
    assert took < STOP_SECONDS, output
    assert len(processes) >= 2 and not run.left_behind(processes)
    row = run.row()
    assert (row["status"], row["error"]) == ("failed", "interrupted by SIGINT")
    assert row["algorithm_name"] == "xgboost" and row["experiment_id"] == "sealtrain"
    assert f"run {row['training_run_id']} recorded as failed (interrupted by SIGINT)" in output
    assert _mlflow_runs(run.out) == []  # record_run never started: no MLflow run


@pytest.mark.pipeline
def test_sigterm_while_recording_ends_the_mlflow_run_as_killed(data, tmp_path):
    out = tmp_path / "out"
    run = _Run(data, out, "--trials", "2", "--bootstrap-samples", "20", "--algorithm", "logistic_regression")
    run.wait_until(lambda: _mlflow_runs(out, "RUNNING"), "MLflow run")
    code, took, processes = run.interrupt(signal.SIGTERM)
    output = "".join(run.lines)
    assert code == 143, output
    assert took < STOP_SECONDS, output
    assert not run.left_behind(processes)
    row = run.row()
    assert (row["status"], row["error"]) == ("failed", "interrupted by SIGTERM")
    runs = _mlflow_runs(out)
    assert (row["training_run_id"], "KILLED") in runs and not [r for r in runs if r[1] == "RUNNING"]
    assert os.path.exists(out / "logs") and "SIGTERM received" in output
