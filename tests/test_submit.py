"""`sealtrain.pipelines.submit` against a stand-in for the KFP API server.

No KFP API server can run here (it needs a Kubernetes cluster, Argo and MySQL), so these
tests run the real `kfp.Client` against a small local HTTP stand-in (`http.server` on
127.0.0.1, a free port) that implements only the KFP v2beta1 REST endpoints `submit` uses,
with the paths, query parameters and JSON shapes of `kfp_server_api` 2.17:

    GET  /apis/v2beta1/healthz
    GET  /apis/v2beta1/pipelines?filter=...                (display_name EQUALS)
    POST /apis/v2beta1/pipelines/upload?name=...           (multipart, field "uploadfile")
    POST /apis/v2beta1/pipelines/upload_version?name=...&pipelineid=...   (multipart)
    GET  /apis/v2beta1/pipelines/{pipeline_id}/versions?page_size=...&sort_by=created_at desc
    GET  /apis/v2beta1/experiments?filter=...              (display_name EQUALS)
    POST /apis/v2beta1/experiments
    POST /apis/v2beta1/runs

It records every request (method, path, query, headers, body) and answers with minimal
valid JSON. What it cannot show is how a real server treats the requests.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.metadata import version
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

from sealtrain.components.core.isolation import SpecGraph
from sealtrain.pipelines.compile import compile_pipeline
from sealtrain.pipelines.contract import UsageError
from sealtrain.pipelines.submit import SubmitError, submit
from sealtrain.pipelines.training_pipeline import PIPELINE_NAME

API = "/apis/v2beta1"
ARGUMENTS = {"data_uri": "gs://b/x.csv", "label_column": "y", "n_trials": 5}
NEVER_CACHED = {"start-run", "recall-best-config", "record-run", "finalize-run"}


class StandIn(ThreadingHTTPServer):
    """The KFP v2beta1 endpoints `submit` calls, with in-memory state."""

    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.requests: list[dict] = []
        self.pipelines: list[dict] = []
        self.versions: list[dict] = []
        self.experiments: list[dict] = []
        self.runs: list[dict] = []
        self.failures: dict[tuple[str, str], tuple[int, dict]] = {}  # (method, path) -> answer
        self.counter = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def new_id(self, kind: str) -> str:
        self.counter += 1
        return f"{kind}-{self.counter}"

    def calls(self, method: str, path: str) -> list[dict]:
        return [r for r in self.requests if r["method"] == method and r["path"] == path]


def _matches(filter_json: str, item: dict) -> bool:
    """Evaluates the only filter kfp sends here: display_name EQUALS a string."""
    for predicate in json.loads(filter_json)["predicates"]:
        if predicate["key"] != "display_name" or predicate["operation"] not in (1, "EQUALS"):
            raise ValueError(f"unsupported predicate {predicate}")
        if item["display_name"] != predicate["stringValue"]:
            return False
    return True


def _multipart(content_type: str, body: bytes) -> dict[str, tuple[str, bytes]]:
    """The parts of a multipart/form-data body: name -> (filename, exact bytes)."""
    boundary = re.search(r'boundary="?([^";]+)"?', content_type).group(1).encode()
    parts = {}
    for chunk in body.split(b"--" + boundary)[1:]:
        if chunk.startswith(b"--"):
            break
        head, _, data = chunk[2:].partition(b"\r\n\r\n")
        assert data.endswith(b"\r\n")
        disposition = head.decode()
        name = re.search(r'name="([^"]*)"', disposition).group(1)
        filename = re.search(r'filename="([^"]*)"', disposition)
        parts[name] = (filename.group(1) if filename else "", data[:-2])
    return parts


class Handler(BaseHTTPRequestHandler):
    server: StandIn

    def log_message(self, *args):  # keep pytest's output clean
        pass

    def _answer(self, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _handle(self) -> None:
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        record = {"method": self.command, "path": url.path, "query": query,
                  "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body}
        self.server.requests.append(record)
        if (self.command, url.path) in self.server.failures:
            return self._answer(*self.server.failures[(self.command, url.path)])
        try:
            status, payload = self._route(self.command, url.path, query, record)
        except (KeyError, ValueError, AttributeError) as exc:
            status, payload = 400, {"error": f"stand-in: {exc!r}", "code": 3, "message": f"stand-in: {exc!r}"}
        self._answer(status, payload)

    do_GET = do_POST = _handle

    def _route(self, method: str, path: str, query: dict, record: dict) -> tuple[int, dict]:
        s = self.server
        if (method, path) == ("GET", f"{API}/healthz"):
            return 200, {"multi_user": False}
        if (method, path) == ("GET", f"{API}/pipelines"):
            found = [p for p in s.pipelines if _matches(query["filter"], p)]
            return 200, ({"pipelines": found, "total_size": len(found)} if found else {})
        if (method, path) in (("POST", f"{API}/pipelines/upload"), ("POST", f"{API}/pipelines/upload_version")):
            parts = _multipart(record["headers"]["content-type"], record["body"])
            record["upload"] = parts["uploadfile"]
            if path.endswith("/upload"):
                pipeline = {"pipeline_id": s.new_id("pipeline"), "display_name": query["name"], "name": query["name"]}
                s.pipelines.append(pipeline)
                # Like the real server, an uploaded pipeline gets a first version of the same name.
                s.versions.append({"pipeline_id": pipeline["pipeline_id"], "pipeline_version_id": s.new_id("version"),
                                   "display_name": query["name"], "name": query["name"]})
                return 200, pipeline
            if not any(p["pipeline_id"] == query["pipelineid"] for p in s.pipelines):
                return 404, {"error": "pipeline not found", "code": 5, "message": "pipeline not found"}
            created = {"pipeline_id": query["pipelineid"], "pipeline_version_id": s.new_id("version"),
                       "display_name": query["name"], "name": query["name"]}
            s.versions.append(created)
            return 200, created
        if match := re.fullmatch(rf"{API}/pipelines/([^/]+)/versions", path):
            if method != "GET" or query.get("sort_by") != "created_at desc":
                raise ValueError(f"unexpected {method} {path} {query}")
            found = [v for v in reversed(s.versions) if v["pipeline_id"] == match.group(1)]
            found = found[: int(query.get("page_size") or len(found))]
            return 200, ({"pipeline_versions": found, "total_size": len(found)} if found else {})
        if (method, path) == ("GET", f"{API}/experiments"):
            found = [e for e in s.experiments if _matches(query["filter"], e)]
            return 200, ({"experiments": found, "total_size": len(found)} if found else {})
        if (method, path) == ("POST", f"{API}/experiments"):
            experiment = {**json.loads(record["body"]), "experiment_id": s.new_id("experiment")}
            s.experiments.append(experiment)
            return 200, experiment
        if (method, path) == ("POST", f"{API}/runs"):
            run = {**json.loads(record["body"]), "run_id": s.new_id("run"), "state": "PENDING"}
            s.runs.append(run)
            return 200, run
        return 404, {"error": f"no route {method} {path}", "code": 5, "message": f"no route {method} {path}"}


@pytest.fixture
def server(monkeypatch, tmp_path):
    # kfp.Client reads a namespace from ~/.config/kfp/context.json; keep the user's out.
    monkeypatch.setattr("kfp.client.client.Client._LOCAL_KFP_CONTEXT", str(tmp_path / "no-context.json"))
    stand_in = StandIn()
    thread = threading.Thread(target=stand_in.serve_forever, daemon=True)
    thread.start()
    yield stand_in
    stand_in.shutdown()
    stand_in.server_close()


@pytest.fixture(scope="module")
def compiled(tmp_path_factory) -> bytes:
    """What `sealtrain compile` writes, compiled afresh."""
    return compile_pipeline(tmp_path_factory.mktemp("compiled") / "pipeline.yaml").read_bytes()


def _tasks(spec: dict) -> dict[str, dict]:
    """Every task of every DAG of a pipeline spec, by name (names are unique in this pipeline)."""
    return {task.name: task.spec for task in SpecGraph(spec).tasks.values()}


def _caching(spec: dict) -> dict[str, bool]:
    """Which container tasks have caching enabled (an absent flag is false, as in protobuf)."""
    return {task.name: task.spec.get("cachingOptions", {}).get("enableCache", False)
            for task in SpecGraph(spec).leaf_tasks()}


def test_first_submit_uploads_the_compiled_pipeline_and_runs_its_version(server, compiled):
    result = submit(server.url, ARGUMENTS, experiment="exp-a", existing_token="tok-123")

    assert server.calls("GET", f"{API}/healthz")
    lookup = server.calls("GET", f"{API}/pipelines")
    assert len(lookup) == 1
    assert json.loads(lookup[0]["query"]["filter"])["predicates"] == [
        {"operation": 1, "key": "display_name", "stringValue": PIPELINE_NAME}]
    uploads = server.calls("POST", f"{API}/pipelines/upload")
    assert len(uploads) == 1 and not server.calls("POST", f"{API}/pipelines/upload_version")
    assert uploads[0]["query"]["name"] == PIPELINE_NAME
    filename, content = uploads[0]["upload"]
    assert filename.endswith(".yaml")  # the server picks the format by extension
    assert content == compiled  # byte for byte what `sealtrain compile` writes

    created = server.calls("POST", f"{API}/experiments")
    assert len(created) == 1 and json.loads(created[0]["body"])["display_name"] == "exp-a"

    (run_request,) = server.calls("POST", f"{API}/runs")
    run = json.loads(run_request["body"])
    pipeline, first_version = server.pipelines[0], server.versions[0]
    assert run["pipeline_version_reference"] == {"pipeline_id": pipeline["pipeline_id"],
                                                 "pipeline_version_id": first_version["pipeline_version_id"]}
    assert run["experiment_id"] == server.experiments[0]["experiment_id"]
    assert run["runtime_config"]["parameters"] == ARGUMENTS
    assert "pipeline_root" not in run["runtime_config"]  # the cluster's default root
    assert run["display_name"].startswith(f"{PIPELINE_NAME}-{version('sealtrain')}-")
    # Caching on: the run references the stored version and overrides nothing, so the
    # caching compiled into the uploaded spec applies (on, except the never-cached tasks).
    assert "pipeline_spec" not in run
    caching = _caching(next(yaml.safe_load_all(content)))
    assert {name for name, on in caching.items() if not on} == NEVER_CACHED
    assert caching["train-model"] and caching["tune-hyperparameters"] and caching["evaluate-model"]

    assert all(r["headers"].get("authorization") == "Bearer tok-123" for r in server.requests)
    assert result.pipeline_id == pipeline["pipeline_id"]
    assert result.version_id == first_version["pipeline_version_id"]
    assert result.run_id == server.runs[0]["run_id"]
    assert result.run_url == f"{server.url}/#/runs/details/{result.run_id}"


def test_existing_pipeline_gets_a_new_version_and_the_experiment_is_reused(server, compiled):
    first = submit(server.url, ARGUMENTS)
    server.requests.clear()

    second = submit(server.url + "/", {**ARGUMENTS, "n_trials": 7})

    assert not server.calls("POST", f"{API}/pipelines/upload")
    (upload,) = server.calls("POST", f"{API}/pipelines/upload_version")
    assert upload["query"]["pipelineid"] == first.pipeline_id
    assert re.fullmatch(rf"{re.escape(version('sealtrain'))}-\d{{8}}-\d{{6}}", upload["query"]["name"])
    assert upload["upload"][1] == compiled
    assert len(server.pipelines) == 1 and len(server.versions) == 2
    assert second.pipeline_id == first.pipeline_id
    assert second.version_id == server.versions[-1]["pipeline_version_id"] != first.version_id

    assert not server.calls("POST", f"{API}/experiments")  # get-or-create found "sealtrain"
    assert len(server.experiments) == 1
    run = json.loads(server.calls("POST", f"{API}/runs")[0]["body"])
    assert run["experiment_id"] == server.experiments[0]["experiment_id"]
    assert run["pipeline_version_reference"] == {"pipeline_id": first.pipeline_id,
                                                 "pipeline_version_id": second.version_id}
    assert run["runtime_config"]["parameters"]["n_trials"] == 7
    assert second.run_url == f"{server.url}/#/runs/details/{second.run_id}"


def test_no_cache_runs_the_same_spec_with_caching_off_for_every_task(server, compiled):
    result = submit(server.url, ARGUMENTS, enable_caching=False)

    (upload,) = server.calls("POST", f"{API}/pipelines/upload")
    assert upload["upload"][1] == compiled  # the stored version is still the compiled spec
    run = json.loads(server.calls("POST", f"{API}/runs")[0]["body"])
    assert "pipeline_version_reference" not in run
    assert run["runtime_config"]["parameters"] == ARGUMENTS
    sent, platform = run["pipeline_spec"]["pipeline_spec"], run["pipeline_spec"]["platform_spec"]
    caching = _caching(sent)
    assert caching and not any(caching.values())
    assert all(not t.get("cachingOptions", {}).get("enableCache", False) for t in _tasks(sent).values())

    # Apart from the caching flags, the run's spec is the compiled one.
    documents = list(yaml.safe_load_all(compiled))
    for spec in (sent, documents[0]):
        for task in _tasks(spec).values():
            task.pop("cachingOptions", None)
    assert json.loads(json.dumps(sent)) == json.loads(json.dumps(documents[0]))
    assert platform == documents[1]
    assert result.run_id == server.runs[0]["run_id"]


def test_api_error_becomes_submit_error_naming_the_host(server):
    server.failures[("POST", f"{API}/runs")] = (400, {"error": "bad", "code": 3,
                                                      "message": "Invalid input error: unknown parameter n_trials"})
    with pytest.raises(SubmitError) as caught:
        submit(server.url, ARGUMENTS)
    message = str(caught.value)
    assert server.url in message and "starting the run" in message
    assert "HTTP 400" in message and "unknown parameter n_trials" in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_failing_healthz_fails_fast_instead_of_kfp_retrying(server):
    server.failures[("GET", f"{API}/healthz")] = (503, {"error": "unavailable"})
    start = time.monotonic()
    with pytest.raises(SubmitError, match=re.escape(server.url) + ".*HTTP 503"):
        submit(server.url, ARGUMENTS)
    assert time.monotonic() - start < 5  # kfp.Client alone retries 5 times, 5 s apart
    assert len(server.requests) == 1


def test_unreachable_host_raises_submit_error_quickly(tmp_path):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    host = f"http://127.0.0.1:{port}"
    start = time.monotonic()
    with pytest.raises(SubmitError) as caught:
        submit(host, ARGUMENTS)
    assert time.monotonic() - start < 30
    assert host in str(caught.value) and "Connection refused" in str(caught.value)


def test_cli_submit_sends_gs_data_and_leaves_the_stores_to_the_cluster(server, gcs, capsys):
    from sealtrain.pipelines import cli

    code = cli.main(["submit", "--host", server.url, "--data", "gs://sealtrain-data/kostecki.csv",
                     "--label", "headache", "--positive-class", "yes", "--group", "id", "--trials", "7",
                     "--experiment", "cli"])
    assert code == 0, capsys.readouterr().err
    (run_request,) = server.calls("POST", f"{API}/runs")
    parameters = json.loads(run_request["body"])["runtime_config"]["parameters"]
    assert parameters["data_uri"] == "gs://sealtrain-data/kostecki.csv" and parameters["n_trials"] == 7
    assert parameters["data_fingerprint"].startswith("gcs:")
    assert parameters["mlflow_tracking_uri"] == parameters["run_db_url"] == parameters["optuna_storage_url"] == ""
    assert capsys.readouterr().out.strip().endswith(f"/#/runs/details/{server.runs[0]['run_id']}")


@pytest.fixture
def no_cloud_credentials(monkeypatch, tmp_path):
    """No emulator, no key file, no gcloud login and no metadata server: google.auth finds nothing."""
    for name in ("STORAGE_EMULATOR_HOST", "GOOGLE_APPLICATION_CREDENTIALS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    monkeypatch.setenv("NO_GCE_CHECK", "True")


def test_cli_submit_without_credentials_says_how_to_provide_them(server, no_cloud_credentials, capsys):
    from sealtrain.pipelines import cli

    code = cli.main(["submit", "--host", server.url, "--data", "gs://sealtrain-data/kostecki.csv", "--label", "y"])
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith("error: --data gs://sealtrain-data/kostecki.csv: no Google Cloud credentials")
    assert "Application Default Credentials" in err and "GOOGLE_APPLICATION_CREDENTIALS" in err
    assert "--data-fingerprint" in err
    assert server.requests == []


def test_cli_submit_with_a_given_fingerprint_reads_nothing_from_cloud_storage(server, no_cloud_credentials, capsys):
    from sealtrain.pipelines import cli

    code = cli.main(["submit", "--host", server.url, "--data", "gs://sealtrain-data/kostecki.csv", "--label", "y",
                     "--data-fingerprint", "gcs:1700000000000000:q1w2e3=="])
    assert code == 0, capsys.readouterr().err
    (run_request,) = server.calls("POST", f"{API}/runs")
    parameters = json.loads(run_request["body"])["runtime_config"]["parameters"]
    assert parameters["data_fingerprint"] == "gcs:1700000000000000:q1w2e3=="


# A Dask run as `submit` takes it; the fingerprint is given, so nothing is read from Cloud Storage.
DASK_SUBMIT = ["submit", "--data", "gs://sealtrain-data/kostecki.csv", "--label", "headache", "--group", "id",
               "--data-fingerprint", "gcs:1700000000000000:q1w2e3==", "--engine", "dask"]


@pytest.mark.parametrize("root", [[], ["--pipeline-root", "minio://mlpipeline/v2/artifacts"]])
def test_cli_dask_submit_without_a_gs_pipeline_root_is_refused_before_any_request(server, no_cloud_credentials,
                                                                                 capsys, root):
    from sealtrain.pipelines import cli

    code = cli.main([*DASK_SUBMIT, "--host", server.url, *root])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --engine dask on a cluster needs --pipeline-root gs://BUCKET/PREFIX, not "
                          + (f"--pipeline-root {root[1]}" if root else "the cluster's default pipeline root"))
    assert "cannot reach artifacts kept in a task's pod or in KFP's MinIO" in err
    assert "`sealtrain run --engine dask`" in err and "their own Google credentials" in err
    assert server.requests == []  # the mock KFP API server heard nothing


def test_submit_refuses_a_dask_run_without_a_gs_root_also_through_the_api(server):
    with pytest.raises(UsageError, match="--engine dask on a cluster needs --pipeline-root gs://"):
        submit(server.url, {**ARGUMENTS, "engine": "dask"}, pipeline_root="s3://bucket/root")
    assert server.requests == []


@pytest.mark.parametrize("cache", [[], ["--no-cache"]])
def test_cli_dask_submit_with_a_gs_pipeline_root_starts_the_run_under_it(server, no_cloud_credentials, capsys,
                                                                        cache):
    from sealtrain.pipelines import cli

    code = cli.main([*DASK_SUBMIT, "--host", server.url, "--pipeline-root", "gs://sealtrain-runs/kfp", *cache])
    assert code == 0, capsys.readouterr().err
    (run_request,) = server.calls("POST", f"{API}/runs")  # the mock KFP API server's record
    runtime = json.loads(run_request["body"])["runtime_config"]
    assert runtime["pipeline_root"] == "gs://sealtrain-runs/kfp"
    assert runtime["parameters"]["engine"] == "dask"
