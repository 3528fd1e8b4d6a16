"""Faults: a failed gate stops the run, a store that is down is named within seconds, and a
database that goes away mid-run is waited for or leaves a clean record."""

import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import pytest
import sqlalchemy as sa
from conftest import free_port
from google.protobuf.json_format import MessageToDict

from sealtrain.components.core import run_store
from sealtrain.pipelines.training_pipeline import training_pipeline

STORE_SECONDS = 20
BEFORE_THE_GATE = {"start-run", "load-dataset", "check-data-quality", "qc-gate"}
PG_BIN = (sorted(glob.glob("/usr/lib/postgresql/*/bin")) or [""])[-1]


def sealtrain_run(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "sealtrain.pipelines.cli", "run", *args], capture_output=True,
                          text=True, **kwargs)


# --- a failed gate ---------------------------------------------------------------------------

def test_every_stage_after_the_gate_waits_for_it():
    dag = MessageToDict(training_pipeline.pipeline_spec)["components"]["comp-exit-handler-1"]["dag"]["tasks"]

    def upstream(name: str) -> set[str]:
        direct = set(dag[name].get("dependentTasks", []))
        return direct.union(*(upstream(d) for d in direct))

    after = set(dag) - BEFORE_THE_GATE
    assert after and all("qc-gate" in upstream(name) for name in after), {n: upstream(n) for n in after}


@pytest.mark.pipeline
def test_a_failed_gate_starts_no_later_stage(tmp_path):
    report = tmp_path / "qc.json"
    report.write_text('{"status": "FAILED", "overall_score": 0.31, '
                      '"checks": [{"name": "upstream", "status": "FAILED", "detail": "bad batch"}]}')
    result = sealtrain_run("--qc-report", str(report), "--trials", "1", "--bootstrap-samples", "50",
                           "--output", str(tmp_path / "out"), timeout=600)
    assert result.returncode == 1
    assert "error in qc-gate: QCGateBlockedError: Cannot train: QC failed with score 0.31" in result.stderr
    log = next((tmp_path / "out" / "logs").glob("run-*.log")).read_text()
    started = set(re.findall(r"Executing task '([\w-]+)'", log))
    assert started == BEFORE_THE_GATE | {"finalize-run"}, started


# --- a store that is down at the start --------------------------------------------------------

@pytest.mark.parametrize(
    ("flag", "url", "cause"),
    [
        ("--db-url", "postgresql://trainer:s3cret@127.0.0.1:{port}/runs", "Connection refused"),
        ("--optuna-storage", "postgresql://trainer:s3cret@127.0.0.1:{port}/optuna", "Connection refused"),
        ("--mlflow-uri", "http://trainer:s3cret@127.0.0.1:{port}", "Connection refused"),
        ("--db-url", "postgresql://trainer:s3cret@no-such-host.invalid/runs", "could not translate host name"),
    ],
)
def test_a_store_that_is_down_is_named_within_seconds(tmp_path, flag, url, cause):
    url = url.format(port=free_port())
    started = time.monotonic()
    result = sealtrain_run(flag, url, "--output", str(tmp_path / "out"), timeout=120)
    assert time.monotonic() - started < STORE_SECONDS
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: {flag} {url.replace('s3cret', '***')}: ") and cause in result.stderr
    assert "s3cret" not in result.stderr + result.stdout
    assert not (tmp_path / "out").exists()


def test_inside_a_task_a_closed_port_is_retried_briefly_and_an_unknown_host_not_at_all():
    closed = f"postgresql://trainer:s3cret@127.0.0.1:{free_port()}/runs"
    started = time.monotonic()
    with pytest.raises(run_store.RunRecordError, match=r"unreachable after 3 attempts: .*Connection refused") as caught:
        run_store.with_database(closed, lambda engine: None)
    assert run_store.DB_RETRY_SECONDS * 3 <= time.monotonic() - started < STORE_SECONDS
    assert "trainer:***@127.0.0.1" in str(caught.value) and "s3cret" not in str(caught.value)
    started = time.monotonic()
    with pytest.raises(run_store.RunRecordError, match="no-such-host.invalid/runs unusable: could not translate"):
        run_store.with_database("postgresql://trainer@no-such-host.invalid/runs", lambda engine: None)
    assert time.monotonic() - started < 2


# --- a private PostgreSQL that goes away mid-run ----------------------------------------------

class PrivatePostgres:
    """A PostgreSQL server of its own in a temporary directory, on a free port, that a test can
    stop and start again; run as the postgres user when the test runs as root (initdb refuses root)."""

    def __init__(self):
        self.root = tempfile.mkdtemp(prefix="sealtrain-pg-")
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
        self._pg("initdb", "-D", f"{self.root}/data", "-A", "trust", "-U", "postgres")

    def _pg(self, program: str, *args: str) -> None:
        command = [os.path.join(PG_BIN, program), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        self._pg("pg_ctl", "-D", f"{self.root}/data", "-l", f"{self.root}/log", "-w", "start", "-o",
                 f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1")

    def stop(self) -> None:
        self._pg("pg_ctl", "-D", f"{self.root}/data", "-m", "fast", "-w", "stop")

    def close(self) -> None:
        try:
            self.stop()
        except subprocess.CalledProcessError:
            pass  # already stopped
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def private_postgres():
    if not os.path.exists(os.path.join(PG_BIN, "initdb")):
        pytest.fail("PostgreSQL's initdb and pg_ctl are required under /usr/lib/postgresql/*/bin")
    server = PrivatePostgres()
    server.start()
    yield server
    server.close()


@pytest.mark.postgres
def test_a_connection_lost_mid_call_is_retried_once_the_server_is_back(private_postgres, monkeypatch):
    monkeypatch.setattr(run_store, "DB_RETRY_SECONDS", 2.0)
    calls = []

    def work(engine):
        calls.append(time.monotonic())
        with engine.connect() as conn:
            if len(calls) == 1:  # the server goes away under an open connection and is back in a second
                private_postgres.stop()
                threading.Timer(1.0, private_postgres.start).start()
            return conn.execute(sa.select(sa.func.count()).select_from(run_store.training_runs)).scalar()

    assert run_store.with_database(private_postgres.url, work) == 0
    assert len(calls) == 2 and calls[1] - calls[0] >= run_store.DB_RETRY_SECONDS


def _rows(url: str) -> list[dict]:
    engine = run_store.engine_for(url)
    try:
        with engine.connect() as conn:
            return [dict(r) for r in conn.execute(sa.select(run_store.training_runs)).mappings()]
    finally:
        engine.dispose()


@pytest.mark.pipeline
@pytest.mark.postgres
def test_a_database_restarted_during_tuning_leaves_one_finished_row(tmp_path, private_postgres, kostecki):
    """The run table and Optuna's study on a private server, stopped while tuning runs and started
    again three seconds later: the run completes, or fails with its row saying so."""
    url = private_postgres.url
    kostecki.to_csv(tmp_path / "kostecki.csv", index=False)
    command = [sys.executable, "-m", "sealtrain.pipelines.cli", "run", "--data", str(tmp_path / "kostecki.csv"),
               "--label", "headache", "--positive-class", "yes", "--group", "id", "--drop", "rownames",
               "--trials", "6", "--bootstrap-samples", "50", "--db-url", url, "--optuna-storage", url,
               "--output", str(tmp_path / "out")]
    outage = None
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as run:
        for line in run.stdout:
            if outage is None and "tuning worker 0: trial 1/" in line:
                private_postgres.stop()
                outage = time.monotonic()
                time.sleep(3)
                private_postgres.start()
        run.wait(timeout=900)
    assert outage is not None, "tuning never reported a trial"
    rows = _rows(url)
    assert len(rows) == 1, rows
    assert rows[0]["status"] == ("completed" if run.returncode == 0 else "failed"), (run.returncode, rows[0])
    if run.returncode:
        assert rows[0]["error"]
