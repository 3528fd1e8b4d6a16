"""Where the Dask engine runs: an existing scheduler, a LocalCluster sized to the machine, or a KubeCluster.

Each is a context manager that yields a `distributed.Client` and closes what it created when
the block ends, also when it ends with an exception, so a failed task leaves no workers behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from dataclasses import dataclass
from typing import Iterator

from dask.system import CPU_COUNT
from distributed import Client, LocalCluster
from distributed.deploy.utils import nprocesses_nthreads
from distributed.system import MEMORY_LIMIT

from ..errors import InvalidInputError

# Seconds to reach an existing scheduler before naming it in the error.
CONNECT_TIMEOUT = 30
# Seconds a new KubeCluster has to bring up all its workers: xgboost's collective breaks when a worker
# joins mid-training, so training starts only with every worker present.
KUBE_WORKERS_TIMEOUT = 600
# The scheduler always serves HTTP (health, metrics; the dashboard with bokeh); on a free port,
# so local clusters of parallel tasks do not compete for 8787.
DASHBOARD_ADDRESS = "127.0.0.1:0"

# --- a task's DaskCluster on Kubernetes ---
# dask_kubernetes.constants.MAX_CLUSTER_NAME_LEN: the operator names the scheduler's Service and
# the workers' Deployments after the cluster, and those names must stay DNS labels.
MAX_KUBE_CLUSTER_NAME = 53
KUBE_CLUSTER_PREFIX = "dask-"
# Hex digits of the pod name's hash that keep a shortened cluster name unique.
KUBE_NAME_HASH = 10
# The user the runtime image runs as (images/Dockerfile: USER 10001:10001); the namespace's
# restricted Pod Security Standard admits only pods that run as a user other than root.
RUNTIME_UID = 10001
# A worker's container: one core and 2 GiB, requests equal to limits so the kubelet evicts it
# last. dask_workers scales a run out; a bigger worker needs a change here.
KUBE_WORKER_CPU = "1"
KUBE_WORKER_MEMORY = 2 * 2**30
# Of a worker container's memory, what its nanny (the process that starts and watches the
# worker, in the same container) keeps; the rest is the worker's --memory-limit, so the worker
# spills to disk (60-70% of it), pauses (80%) and is restarted by its nanny (95%) before the
# container's limit, where the kernel would kill it.
NANNY_MEMORY = 256 * 2**20
# The scheduler holds task metadata, not data; xgboost's collective tracker runs beside it.
KUBE_SCHEDULER_RESOURCES = {"requests": {"cpu": "250m", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}}
# The operator deletes a cluster whose scheduler has run nothing for this long: the backstop
# for a task killed before it could delete its cluster (OOM kill, lost node).
KUBE_IDLE_TIMEOUT = 3600
# The one writable directory of the Dask pods (their root filesystem is read-only): the
# workers' spill space, and HOME, where dask and matplotlib write their config and caches.
SCRATCH_VOLUME, SCRATCH_PATH = "scratch", "/tmp"


@dataclass(frozen=True)
class LocalSize:
    """The shape of a LocalCluster.

    Attributes:
        workers: Worker processes (or threads-backed workers with `processes=False`).
        threads_per_worker: Threads of each worker.
        memory_limit: Bytes each worker may hold before it spills and then pauses.
    """

    workers: int
    threads_per_worker: int
    memory_limit: int


def local_size(workers: int | None = None, threads_per_worker: int | None = None,
               memory_limit: int | None = None) -> LocalSize:
    """Sizes a LocalCluster to this machine, for whatever the caller left unset.

    The cores (CPU affinity and cgroup quota) are shared out as distributed's own default
    does (one single-threaded worker per core up to 4 cores, then about sqrt(cores) workers),
    and the memory (host, cgroup or rlimit, the smallest) evenly between the workers.

    Raises:
        InvalidInputError: A size is not positive.
    """
    for name, value in (("workers", workers), ("threads per worker", threads_per_worker),
                        ("memory limit per worker", memory_limit)):
        if value is not None and value < 1:
            raise InvalidInputError(f"Dask {name} must be at least 1, got {value}")
    if workers is None and threads_per_worker is None:
        workers, threads_per_worker = nprocesses_nthreads(CPU_COUNT)
    elif threads_per_worker is None:
        threads_per_worker = max(1, CPU_COUNT // workers)
    elif workers is None:
        workers = max(1, CPU_COUNT // threads_per_worker)
    return LocalSize(workers, threads_per_worker, memory_limit or MEMORY_LIMIT // workers)


@contextlib.contextmanager
def dask_client(scheduler: str | None = None, *, workers: int | None = None, threads_per_worker: int | None = None,
                memory_limit: int | None = None, processes: bool = True,
                timeout: float = CONNECT_TIMEOUT) -> Iterator[Client]:
    """A client of an existing scheduler, or of a LocalCluster that lives as long as the block.

    Args:
        scheduler: The address of a running scheduler (`tcp://host:8786`, `--dask-scheduler`);
            None starts a LocalCluster.
        workers: LocalCluster workers (default: sized to the machine, `local_size`).
        threads_per_worker: Threads of each local worker (likewise).
        memory_limit: Bytes per local worker (likewise).
        processes: Local workers in their own processes (True) or as threads of this one.
        timeout: Seconds to reach the scheduler.

    Raises:
        InvalidInputError: Sizes were given with a scheduler address (the scheduler's workers
            are sized where they were started), or the scheduler cannot be reached.
    """
    if scheduler:
        if any(v is not None for v in (workers, threads_per_worker, memory_limit)):
            raise InvalidInputError(f"Dask worker sizes apply to a local cluster only, not to the scheduler at "
                                    f"{scheduler}: size its workers where they are started")
        try:
            client = Client(scheduler, timeout=timeout)
        except OSError as exc:
            raise InvalidInputError(f"cannot reach the Dask scheduler at {scheduler} within {timeout:g} s: {exc}") \
                from exc
        with client:
            yield client
        return
    size = local_size(workers, threads_per_worker, memory_limit)
    with (
        LocalCluster(n_workers=size.workers, threads_per_worker=size.threads_per_worker, memory_limit=size.memory_limit,
                     processes=processes, dashboard_address=DASHBOARD_ADDRESS) as cluster,
        Client(cluster) as client,
    ):
        yield client


def kube_cluster_name(pod_name: str) -> str:
    """The name of a pod's DaskCluster: a DNS-1035 label the operator accepts, unique per pod.

    `dask-` and the pod's name in lower case, other characters as `-`; a name longer than the
    operator allows is cut and ends with a hash of the whole pod name.
    """
    name = KUBE_CLUSTER_PREFIX + re.sub(r"[^a-z0-9]+", "-", pod_name.lower()).strip("-")
    if len(name) > MAX_KUBE_CLUSTER_NAME:
        digest = hashlib.sha256(pod_name.encode()).hexdigest()[:KUBE_NAME_HASH]
        name = f"{name[:MAX_KUBE_CLUSTER_NAME - KUBE_NAME_HASH - 1].rstrip('-')}-{digest}"
    return name


def _harden(pod: dict, resources: dict) -> None:
    """Makes a scheduler or worker pod spec meet the restricted Pod Security Standard, with its resources.

    Non-root (the image's user), the runtime's default seccomp profile, no privilege
    escalation, no capabilities, a read-only root filesystem with an emptyDir for scratch;
    no service account token (Dask pods never call the Kubernetes API) and no service links.
    """
    pod["securityContext"] = {"runAsNonRoot": True, "runAsUser": RUNTIME_UID, "runAsGroup": RUNTIME_UID,
                              "seccompProfile": {"type": "RuntimeDefault"}}
    pod["automountServiceAccountToken"] = False
    pod["enableServiceLinks"] = False
    pod["volumes"] = [{"name": SCRATCH_VOLUME, "emptyDir": {}}]
    for container in pod["containers"]:
        container["securityContext"] = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                                        "readOnlyRootFilesystem": True}
        container["resources"] = resources
        container["volumeMounts"] = [{"name": SCRATCH_VOLUME, "mountPath": SCRATCH_PATH}]
        container["env"] = [*(container["env"] or []), {"name": "HOME", "value": SCRATCH_PATH}]


def kube_cluster_spec(name: str, image: str, workers: int) -> dict:
    """The DaskCluster a task creates: dask-kubernetes' own spec, hardened and sized.

    Each worker has KUBE_WORKER_CPU and KUBE_WORKER_MEMORY (requests equal to limits) and a
    --memory-limit of KUBE_WORKER_MEMORY less NANNY_MEMORY; the scheduler has
    KUBE_SCHEDULER_RESOURCES.

    Args:
        name: The cluster's name (`kube_cluster_name`).
        image: The scheduler's and workers' image.
        workers: Workers of the default worker group.

    Raises:
        InvalidInputError: dask-kubernetes is not installed.
    """
    try:
        from dask_kubernetes.operator import make_cluster_spec
    except ImportError as exc:
        raise InvalidInputError("a Dask cluster on Kubernetes needs dask-kubernetes: "
                                "pip install 'sealtrain[dask]'") from exc
    memory = f"{KUBE_WORKER_MEMORY // 2**20}Mi"
    worker_resources = {"requests": {"cpu": KUBE_WORKER_CPU, "memory": memory},
                        "limits": {"cpu": KUBE_WORKER_CPU, "memory": memory}}
    spec = make_cluster_spec(
        name=name, image=image, n_workers=workers, env={}, resources=worker_resources,
        worker_command=["dask-worker", "--memory-limit", str(KUBE_WORKER_MEMORY - NANNY_MEMORY),
                        "--local-directory", SCRATCH_PATH],
        idle_timeout=KUBE_IDLE_TIMEOUT,
    )
    _harden(spec["spec"]["scheduler"]["spec"], KUBE_SCHEDULER_RESOURCES)
    _harden(spec["spec"]["worker"]["spec"], worker_resources)
    return spec


@contextlib.contextmanager
def kube_client(name: str, image: str, workers: int, *, namespace: str,
                timeout: float = KUBE_WORKERS_TIMEOUT) -> Iterator[Client]:
    """A client of a DaskCluster created through the dask-kubernetes operator and deleted at the end.

    The cluster is `kube_cluster_spec`'s. The caller's service account needs the RBAC of
    manifests/components/dask (DaskClusters, and reading their pods and Services) in
    `namespace`, where the operator must be watching.

    Args:
        name: The DaskCluster's name, unique per task (`kube_cluster_name`).
        image: The worker and scheduler image: the runtime image, so workers unpickle the
            same sealtrain and xgboost as the task.
        workers: Workers to start; the block starts only when all have joined.
        namespace: The namespace to create it in.
        timeout: Seconds to wait for every worker.

    Raises:
        InvalidInputError: dask-kubernetes is not installed.
    """
    spec = kube_cluster_spec(name, image, workers)
    from dask_kubernetes.operator import KubeCluster
    from dask_kubernetes.operator.kubecluster.kubecluster import CreateMode

    # CREATE_ONLY: a cluster of that name is another task's, never to be joined (nor deleted:
    # shutdown_on_close is left to KubeCluster, which deletes only what it created).
    cluster = KubeCluster(custom_cluster_spec=spec, namespace=namespace, create_mode=CreateMode.CREATE_ONLY,
                          quiet=True)
    try:
        with Client(cluster) as client:
            client.wait_for_workers(workers, timeout=timeout)
            yield client
    finally:
        cluster.close()
