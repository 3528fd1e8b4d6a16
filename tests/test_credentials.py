"""No credential anywhere but where the user put it: a real `sealtrain run` whose run table and
Optuna storage are a PostgreSQL role with a password and whose MLflow is a real server reached
as http://user:PASSWORD@..., then everything the run wrote, showed or recorded is searched for
the password, and so is the process table, sampled while the run ran."""

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import POSTGRES_ADMIN_URL, free_port, wait_for

from sealtrain.components.core import endpoints, tracking

pytestmark = [pytest.mark.postgres, pytest.mark.pipeline]

PASSWORD = f"Pw{uuid.uuid4().hex}"
USER = f"trainer_{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def database():
    """A database owned by a role that logs in with PASSWORD (the server trusts any password)."""
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"sealtrain_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE ROLE {USER} LOGIN PASSWORD '{PASSWORD}'"))
        conn.execute(sa.text(f'CREATE DATABASE "{name}" OWNER {USER}'))
    yield f"postgresql://{USER}:{PASSWORD}@127.0.0.1:5432/{name}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f"DROP ROLE {USER}"))
    admin.dispose()


@pytest.fixture(scope="module")
def mlflow_root(tmp_path_factory):
    """A real MLflow server on loopback; yields its URL with USER:PASSWORD in it and its folder."""
    root = tmp_path_factory.mktemp("mlflow")
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}", "--artifacts-destination", str(root / "artifacts")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/health", process)
        yield f"http://{USER}:{PASSWORD}@127.0.0.1:{port}", root
    finally:
        process.terminate()
        process.wait(timeout=30)


class _ProcessTable:
    """Samples every process's command line every 0.2 s, keeping those that hold the password.

    Attributes:
        ignore: Processes allowed to hold it (the command the user typed).
        seen: Command lines that held it, by process id.
        samples: How many times the table was read.
    """

    def __init__(self, ignore: list[int]):
        self.ignore = ignore
        self.seen: dict[int, str] = {}
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self):
        secret = PASSWORD.encode()
        while not self._stop.is_set():
            for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
                try:
                    command = cmdline.read_bytes()
                except OSError:
                    continue
                if secret in command:
                    self.seen[int(cmdline.parent.name)] = command.replace(b"\0", b" ").decode(errors="replace")
            self.samples += 1
            time.sleep(0.2)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def _sealtrain(out: Path, data: Path, env: dict, *flags: str, started=lambda pid: None) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "sealtrain.pipelines.cli", "run", "--data", str(data), "--label", "headache",
               "--positive-class", "yes", "--group", "id", "--drop", "rownames", "--output", str(out),
               "--experiment", "credentials", "--trials", "2", "--bootstrap-samples", "20", *flags]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env={**os.environ, **env}) as process:
        started(process.pid)
        stdout, stderr = process.communicate(timeout=900)
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


@pytest.fixture(scope="module")
def runs(tmp_path_factory, kostecki, database, mlflow_root):
    """One run given a password in every store URL by flag, watched in the process table (but
    for the `sealtrain` process itself, whose arguments the user typed), and one that fails on
    an MLflow that does not answer, its URLs given by environment."""
    work = tmp_path_factory.mktemp("credentials")
    data = work / "kostecki.csv"
    kostecki.to_csv(data, index=False)
    cli = []
    with _ProcessTable(ignore=cli) as table:
        completed = _sealtrain(work / "out", data, {}, "--mlflow-uri", mlflow_root[0], "--db-url", database,
                               "--optuna-storage", database, "--summary-json", str(work / "out" / "summary.json"),
                               started=cli.append)
    dead = {endpoints.TRACKING_URI_ENV: f"http://{USER}:{PASSWORD}@127.0.0.1:{free_port()}",
            endpoints.DB_URL_ENV: database, endpoints.OPTUNA_STORAGE_ENV: database}
    failed = _sealtrain(work / "failed", data, dead)
    return work, completed, failed, table


def _files_holding_the_password(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and PASSWORD.encode() in p.read_bytes()]


def test_the_run_completes_with_the_password_in_every_store_url(runs):
    work, completed, _, _ = runs
    assert completed.returncode == 0, completed.stderr + completed.stdout[-3000:]
    summary = json.loads((work / "out" / "summary.json").read_text())
    assert summary["mlflow"]["tracking_uri"] == f"http://{USER}:***@" + summary["mlflow"]["tracking_uri"].split("@")[1]


def test_nothing_the_run_wrote_or_printed_holds_the_password(runs):
    work, completed, _, _ = runs
    assert PASSWORD not in completed.stdout + completed.stderr
    assert _files_holding_the_password(work / "out") == []  # logs, summary, pipeline root, kfp.local cache


def test_no_command_line_held_the_password_during_the_run(runs):
    _, _, _, table = runs
    assert table.samples > 50 and set(table.seen) <= set(table.ignore) and table.ignore


def test_mlflow_params_tags_and_artifacts_and_the_databases_hold_no_password(runs, mlflow_root, database):
    import mlflow

    work, _, _, _ = runs
    client = mlflow.MlflowClient(endpoints.without_credentials(mlflow_root[0])[0])
    experiment = client.get_experiment_by_name("credentials")
    logged = client.search_runs([experiment.experiment_id])
    assert len(logged) >= 3  # the run and its trials
    for run in logged:
        assert PASSWORD not in json.dumps([run.data.params, run.data.tags, run.info.artifact_uri])
    assert _files_holding_the_password(mlflow_root[1]) == []  # the server's store and artifacts
    engine = sa.create_engine(endpoints.normalise_url(database))
    with engine.connect() as conn:
        tables = conn.execute(sa.text("select tablename from pg_tables where schemaname = 'public'")).scalars().all()
        dumped = [conn.execute(sa.text(f'select t::text from "{name}" t')).scalars().all() for name in tables]
    engine.dispose()
    assert {"ml_training_runs", "studies", "trials"} <= set(tables)
    assert PASSWORD not in json.dumps(dumped)


def test_a_failing_store_is_named_without_its_password(runs):
    work, _, failed, _ = runs
    assert failed.returncode != 0
    assert f"{USER}:***@127.0.0.1" in failed.stderr and PASSWORD not in failed.stdout + failed.stderr
    assert _files_holding_the_password(work / "failed") == []


def test_urls_are_redacted_and_mlflow_never_sees_the_password():
    url = f"http://{USER}:{PASSWORD}@127.0.0.1:1"
    assert endpoints.redact(url) == f"http://{USER}:***@127.0.0.1:1"
    assert endpoints.redact("sqlite:////tmp/runs.db") == "sqlite:////tmp/runs.db"
    assert endpoints.scrub(f"GET {url}/api failed", url) == f"GET http://{USER}:***@127.0.0.1:1/api failed"
    with pytest.raises(tracking.TrackingError) as caught:
        tracking.ensure_experiment(url, "x")
    assert PASSWORD not in str(caught.value) and PASSWORD not in str(caught.value.__cause__)
    assert f"MLflow at http://{USER}:***@127.0.0.1:1 failed" in str(caught.value)
