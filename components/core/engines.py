"""The engines a run computes on: pandas in the task's process, or Dask on a cluster.

A run uses one engine throughout: the split manifest records it and the function that made
its fingerprints (`FINGERPRINT_FUNCTIONS`), and every reader recomputes that same function,
so a split written by one engine is refused, by content, by a reader of the other.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from typing import Iterator, Mapping

from .errors import InvalidInputError

PANDAS, DASK = "pandas", "dask"
ENGINES = (PANDAS, DASK)
FINGERPRINT_FUNCTIONS = {
    PANDAS: "tables.fingerprint",
    DASK: "distributed.fingerprints.frame_fingerprint",
}
# Set in every pod of a Kubernetes cluster.
KUBERNETES_ENV = "KUBERNETES_SERVICE_HOST"
# What a task in a pod needs to create its own DaskCluster; the compiled pipeline sets them on
# every task whose component takes an engine (pipelines/training_pipeline.py: configure): the
# pod's name and namespace from the downward API, and the image the task runs, which the
# scheduler and workers run too (they unpickle the task's sealtrain and xgboost).
POD_NAME_ENV = "SEALTRAIN_POD_NAME"
POD_NAMESPACE_ENV = "SEALTRAIN_POD_NAMESPACE"
TASK_IMAGE_ENV = "SEALTRAIN_TASK_IMAGE"
# The namespace the DaskClusters go to when it is not the task's own: KFP standalone runs the
# tasks in `kubeflow`, while the operator, the RBAC and the NetworkPolicies of the Dask engine
# are in `sealtrain` (manifests/). Read from the sealtrain-endpoints ConfigMap, where present.
DASK_NAMESPACE_ENV = "SEALTRAIN_DASK_NAMESPACE"
# Workers of a task's DaskCluster when dask_workers is 0.
DEFAULT_KUBE_WORKERS = 2


def check_engine(engine: str) -> str:
    """Returns the engine, or raises InvalidInputError naming the choices."""
    if engine not in ENGINES:
        raise InvalidInputError(f"engine must be one of {list(ENGINES)}, got {engine!r}")
    return engine


@dataclass(frozen=True)
class KubeTask:
    """Where a task's DaskCluster goes, as its pod learns it from the environment.

    Attributes:
        cluster: The DaskCluster's name, unique per pod (`cluster.kube_cluster_name`).
        namespace: The namespace it is created in.
        image: The image of its scheduler and workers: the task's own.
    """

    cluster: str
    namespace: str
    image: str


def kube_task(environ: Mapping[str, str]) -> KubeTask:
    """The DaskCluster a task in a pod creates, from the variables the compiled pipeline sets.

    Raises:
        InvalidInputError: A variable is missing: the pipeline was compiled before the pipeline
            set them, or by hand; the message names them.
    """
    from .distributed.cluster import kube_cluster_name

    missing = [name for name in (POD_NAME_ENV, POD_NAMESPACE_ENV, TASK_IMAGE_ENV) if not environ.get(name)]
    if missing:
        raise InvalidInputError(
            f"engine dask in a Kubernetes pod without dask_scheduler creates a DaskCluster for the task and needs "
            f"{', '.join(missing)} in the task's environment, which sealtrain's compiled pipelines set: compile the "
            f"pipeline again (`sealtrain compile`), or pass dask_scheduler (the address of a running Dask scheduler)")
    return KubeTask(cluster=kube_cluster_name(environ[POD_NAME_ENV]),
                    namespace=environ.get(DASK_NAMESPACE_ENV) or environ[POD_NAMESPACE_ENV],
                    image=environ[TASK_IMAGE_ENV])


@contextlib.contextmanager
def dask_session(scheduler: str, workers: int) -> Iterator:
    """A Dask client for one task, of whatever lives as long as the block.

    Of the scheduler at `scheduler`; else, in a Kubernetes pod, of a DaskCluster the task
    creates through the dask-kubernetes operator (`cluster.kube_client`); else of a
    LocalCluster. A cluster the session created is deleted when the block ends, also when it
    ends with an exception.

    Args:
        scheduler: A running scheduler's address, or empty.
        workers: Workers of the cluster the session creates; 0 sizes a LocalCluster to the
            machine and gives a DaskCluster DEFAULT_KUBE_WORKERS.

    Raises:
        InvalidInputError: In a pod without a scheduler address, the pipeline did not give the
            task its pod's name, namespace and image (`kube_task`).
    """
    from .distributed.cluster import dask_client, kube_client

    if not scheduler and os.environ.get(KUBERNETES_ENV):
        task = kube_task(os.environ)
        session = kube_client(task.cluster, task.image, workers or DEFAULT_KUBE_WORKERS, namespace=task.namespace)
    else:
        session = dask_client(scheduler or None, workers=workers or None)
    with session as client:
        yield client
