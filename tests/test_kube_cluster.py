"""A task's own DaskCluster on Kubernetes: what the pipeline tells the task, the cluster it asks for, its end.

No Kubernetes cluster runs here. The compiled pipelines are read as they are shipped
(pipelines/compiled/); the DaskCluster is the one the task would send (its checks against the
vendored CRD and the restricted Pod Security Standard are in test_manifests.py). Only the
Kubernetes API is replaced: `FakeKubeCluster` stands in for dask-kubernetes' KubeCluster (which
would create the DaskCluster through the API server and wait for the operator) with a real
in-process Dask cluster of the spec's worker count, and records its deletion.
"""

from __future__ import annotations

import re
from pathlib import Path

import dask.config
import dask_kubernetes.operator
import pytest
from conftest import compiled_documents, container_tasks
from dask.utils import parse_bytes
from dask_kubernetes.constants import MAX_CLUSTER_NAME_LEN
from dask_kubernetes.operator.kubecluster.kubecluster import CreateMode
from dask_kubernetes.operator.validation import validate_cluster_name
from distributed import LocalCluster

from sealtrain.components.core import engines
from sealtrain.components.core.distributed import cluster as kube
from sealtrain.components.core.errors import InvalidInputError
from sealtrain.components.runtime import DEFAULT_IMAGE

COMPILED = Path(__file__).resolve().parents[1] / "pipelines" / "compiled"
GOLDENS = {"training": COMPILED / "sealtrain-training.yaml", "holdout": COMPILED / "sealtrain-holdout-validation.yaml"}
ENDPOINTS_CONFIG_MAP = "sealtrain-endpoints"
DNS_1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
# A KFP v2 pod's name as Argo makes it: the workflow's, the template's and a hash.
POD_NAME = "sealtrain-training-x7k2p-system-container-impl-1234567890"
# The tasks each pipeline runs on the engine it is given; the holdout is read with pandas.
DASK_TASKS = {
    "training": {"load-dataset", "check-data-quality", "split-dataset", "fit-preprocessor", "tune-hyperparameters",
                 "train-model", "evaluate-model"},
    "holdout": set(),
}


# --- what the compiled pipelines give each task --------------------------------------------


def _dask_env(spec: dict, platform: dict, task: dict) -> dict[str, object]:
    """The variables of the Dask wiring a compiled task gets, by name, each as its source."""
    executor = spec["components"][task["componentRef"]["name"]]["executorLabel"]
    container = spec["deploymentSpec"]["executors"][executor]["container"]
    k8s = platform.get(executor, {})
    found = {e["name"]: ("image", e["value"]) for e in container.get("env", []) if e["name"] == engines.TASK_IMAGE_ENV}
    found |= {e["name"]: ("field", e["fieldPath"]) for e in k8s.get("fieldPathAsEnv", [])
              if e["name"] in (engines.POD_NAME_ENV, engines.POD_NAMESPACE_ENV)}
    found |= {key["envVar"]: ("configMap", source["configMapName"], key["configMapKey"], source.get("optional", False))
              for source in k8s.get("configMapAsEnv", []) for key in source["keyToEnv"]
              if key["envVar"] == engines.DASK_NAMESPACE_ENV}
    return found


@pytest.mark.parametrize("pipeline", GOLDENS)
def test_every_task_that_takes_the_engine_learns_its_pod_image_and_the_dask_namespace(pipeline):
    spec, platform = compiled_documents(GOLDENS[pipeline])
    expected = {
        engines.POD_NAME_ENV: ("field", "metadata.name"),
        engines.POD_NAMESPACE_ENV: ("field", "metadata.namespace"),
        engines.TASK_IMAGE_ENV: ("image", DEFAULT_IMAGE),
        # Optional: without the ConfigMap's key the task's own namespace is used.
        engines.DASK_NAMESPACE_ENV: ("configMap", ENDPOINTS_CONFIG_MAP, engines.DASK_NAMESPACE_ENV, True),
    }
    dask_tasks = set()
    for name, task in container_tasks(spec).items():
        # A task runs on Dask when the pipeline passes it its engine parameter.
        takes_engine = task.get("inputs", {}).get("parameters", {}).get("engine", {}).get("componentInputParameter")
        found = _dask_env(spec, platform, task)
        if takes_engine:
            dask_tasks.add(name)
            assert found == expected, name
        else:
            assert not found, name
    assert dask_tasks == DASK_TASKS[pipeline]


def test_the_endpoints_configmap_names_the_namespace_of_the_dask_operator():
    manifests = Path(__file__).resolve().parents[1] / "manifests"
    endpoints = dict(line.split("=", 1) for line in (manifests / "base" / "endpoints.env").read_text().splitlines()
                     if line and not line.startswith("#"))
    operator = (manifests / "components" / "dask-operator" / "operator.yaml").read_text()
    assert f"--namespace={endpoints[engines.DASK_NAMESPACE_ENV]}" in operator


# --- the name, the spec and the sizes --------------------------------------------------------


def test_cluster_names_are_dns_labels_the_operator_accepts_and_unique_per_pod():
    assert kube.MAX_KUBE_CLUSTER_NAME == MAX_CLUSTER_NAME_LEN
    short = kube.kube_cluster_name("Train_Model.pod-1")
    assert short == "dask-train-model-pod-1"
    retried = POD_NAME[:-1] + "1"
    names = {kube.kube_cluster_name(pod) for pod in (POD_NAME, retried, POD_NAME + "-" + "x" * 200)}
    assert len(names) == 3
    for name in names | {short}:
        assert DNS_1035_LABEL.fullmatch(name) and len(name) <= MAX_CLUSTER_NAME_LEN, name
        validate_cluster_name(name)
        # The operator's longest derived names stay DNS labels too.
        assert len(f"{name}-scheduler") <= 63


def test_the_spec_runs_the_tasks_image_with_sized_workers_that_spill_before_the_kubelet_kills():
    spec = kube.kube_cluster_spec("dask-x", "registry.example/sealtrain:1.2.3", 3)
    assert spec["metadata"]["name"] == "dask-x" and spec["spec"]["worker"]["replicas"] == 3
    assert spec["spec"]["idleTimeout"] == kube.KUBE_IDLE_TIMEOUT > 0
    scheduler = spec["spec"]["scheduler"]["spec"]["containers"][0]
    (worker,) = spec["spec"]["worker"]["spec"]["containers"]
    assert scheduler["image"] == worker["image"] == "registry.example/sealtrain:1.2.3"
    assert worker["resources"]["requests"] == worker["resources"]["limits"]
    container_bytes = parse_bytes(worker["resources"]["limits"]["memory"].replace("Mi", "MiB"))
    assert container_bytes == kube.KUBE_WORKER_MEMORY
    args = worker["args"]
    memory_limit = int(args[args.index("--memory-limit") + 1])
    assert memory_limit == container_bytes - kube.NANNY_MEMORY
    # Dask's own thresholds, as fractions of --memory-limit: spilling and the nanny's restart
    # happen inside the container's limit, with the nanny's share left over.
    terminate = dask.config.get("distributed.worker.memory.terminate")
    assert memory_limit * terminate + kube.NANNY_MEMORY < container_bytes
    assert args[args.index("--local-directory") + 1] == kube.SCRATCH_PATH
    assert {"name": "HOME", "value": kube.SCRATCH_PATH} in worker["env"]


# --- the session in a pod, against a stand-in for the API server -------------------------------


class FakeKubeCluster(LocalCluster):
    """KubeCluster without the Kubernetes API server: a real in-process cluster of the spec's workers.

    Records each instance's spec, namespace and create mode, and whether it was closed (where
    KubeCluster deletes the DaskCluster it created).
    """

    made: list[FakeKubeCluster] = []

    def __init__(self, *, custom_cluster_spec: dict, namespace: str, create_mode: CreateMode, quiet: bool):
        self.spec, self.namespace, self.create_mode = custom_cluster_spec, namespace, create_mode
        self.deleted = False
        super().__init__(n_workers=custom_cluster_spec["spec"]["worker"]["replicas"], threads_per_worker=1,
                         processes=False, dashboard_address=":0")
        FakeKubeCluster.made.append(self)

    def close(self, *args, **kwargs):
        self.deleted = True
        return super().close(*args, **kwargs)


@pytest.fixture
def in_a_pod(monkeypatch):
    """This process as a pipeline task in a pod, with KubeCluster replaced by FakeKubeCluster."""
    FakeKubeCluster.made = []
    monkeypatch.setattr(dask_kubernetes.operator, "KubeCluster", FakeKubeCluster)
    environment = {engines.KUBERNETES_ENV: "10.96.0.1", engines.POD_NAME_ENV: POD_NAME,
                   engines.POD_NAMESPACE_ENV: "kubeflow", engines.TASK_IMAGE_ENV: "sealtrain:9.9.9",
                   engines.DASK_NAMESPACE_ENV: "sealtrain"}
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def test_a_task_in_a_pod_creates_its_own_cluster_and_deletes_it_when_it_fails(in_a_pod):
    with pytest.raises(RuntimeError, match="the task failed"):
        with engines.dask_session("", 0) as client:
            assert client.submit(sum, [1, 2]).result() == 3
            assert len(client.scheduler_info()["workers"]) == engines.DEFAULT_KUBE_WORKERS
            raise RuntimeError("the task failed")
    (cluster,) = FakeKubeCluster.made
    assert cluster.deleted
    assert cluster.spec["metadata"]["name"] == kube.kube_cluster_name(POD_NAME)
    assert cluster.namespace == "sealtrain"
    assert cluster.spec["spec"]["worker"]["spec"]["containers"][0]["image"] == "sealtrain:9.9.9"
    assert cluster.create_mode == CreateMode.CREATE_ONLY


def test_without_the_configmaps_namespace_the_cluster_goes_to_the_pods_and_ends_with_the_block(in_a_pod):
    in_a_pod.delenv(engines.DASK_NAMESPACE_ENV)
    with engines.dask_session("", 1) as client:
        assert len(client.scheduler_info()["workers"]) == 1
    (cluster,) = FakeKubeCluster.made
    assert cluster.namespace == "kubeflow" and cluster.deleted


def test_a_pipeline_that_did_not_set_the_pod_variables_is_refused_by_name(in_a_pod):
    in_a_pod.delenv(engines.TASK_IMAGE_ENV)
    with pytest.raises(InvalidInputError, match=f"{engines.TASK_IMAGE_ENV}.*compile the pipeline again"):
        with engines.dask_session("", 0):
            pass
    assert not FakeKubeCluster.made
