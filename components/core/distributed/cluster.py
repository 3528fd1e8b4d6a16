"""Where the Dask engine runs: an existing scheduler, a LocalCluster sized to the machine, or a KubeCluster.

Each is a context manager that yields a `distributed.Client` and closes what it created when
the block ends, also when it ends with an exception, so a failed task leaves no workers behind.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Iterator

from dask.system import CPU_COUNT
from distributed import Client, LocalCluster
from distributed.deploy.utils import nprocesses_nthreads
from distributed.system import MEMORY_LIMIT

from ..errors import InvalidInputError

# Seconds to reach an existing scheduler before naming it in the error.
CONNECT_TIMEOUT = 30
# Seconds a new KubeCluster has to bring up all its workers: xgboost.dask breaks when a worker
# joins mid-training, so training starts only with every worker present.
KUBE_WORKERS_TIMEOUT = 600
# The scheduler always serves HTTP (health, metrics; the dashboard with bokeh); on a free port,
# so local clusters of parallel tasks do not compete for 8787.
DASHBOARD_ADDRESS = "127.0.0.1:0"


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


@contextlib.contextmanager
def kube_client(name: str, image: str, workers: int, *, namespace: str | None = None,
                resources: dict | None = None, env: dict[str, str] | None = None,
                timeout: float = KUBE_WORKERS_TIMEOUT) -> Iterator[Client]:
    """A client of a DaskCluster created through the dask-kubernetes operator and deleted at the end.

    The task's service account needs RBAC for `daskclusters.kubernetes.dask.org` in its
    namespace, and the operator must be installed in the cluster.

    Args:
        name: The DaskCluster's name (unique per task, e.g. from the run id).
        image: The worker and scheduler image: the runtime image, so workers unpickle the
            same sealtrain and xgboost as the task.
        workers: Workers to start; the block starts only when all have joined.
        namespace: The namespace (default: the pod's own).
        resources: Worker requests and limits, as the operator takes them.
        env: Extra environment of the workers.
        timeout: Seconds to wait for every worker.

    Raises:
        InvalidInputError: dask-kubernetes is not installed.
    """
    try:
        from dask_kubernetes.operator import KubeCluster
    except ImportError as exc:
        raise InvalidInputError("a Dask cluster on Kubernetes needs dask-kubernetes: "
                                "pip install 'sealtrain[dask]'") from exc
    cluster = KubeCluster(name=name, image=image, n_workers=workers, namespace=namespace, resources=resources,
                          env=env, shutdown_on_close=True)
    try:
        with Client(cluster) as client:
            client.wait_for_workers(workers, timeout=timeout)
            yield client
    finally:
        cluster.close()
