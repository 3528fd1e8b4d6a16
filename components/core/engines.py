"""The engines a run computes on: pandas in the task's process, or Dask on a cluster.

A run uses one engine throughout: the split manifest records it and the function that made
its fingerprints (`FINGERPRINT_FUNCTIONS`), and every reader recomputes that same function,
so a split written by one engine is refused, by content, by a reader of the other.
"""

from __future__ import annotations

import contextlib
import os
from typing import Iterator

from .errors import InvalidInputError

PANDAS, DASK = "pandas", "dask"
ENGINES = (PANDAS, DASK)
FINGERPRINT_FUNCTIONS = {
    PANDAS: "tables.fingerprint",
    DASK: "distributed.fingerprints.frame_fingerprint",
}
# Set in every pod of a Kubernetes cluster.
KUBERNETES_ENV = "KUBERNETES_SERVICE_HOST"


def check_engine(engine: str) -> str:
    """Returns the engine, or raises InvalidInputError naming the choices."""
    if engine not in ENGINES:
        raise InvalidInputError(f"engine must be one of {list(ENGINES)}, got {engine!r}")
    return engine


@contextlib.contextmanager
def dask_session(scheduler: str, workers: int) -> Iterator:
    """A Dask client for one task: of the scheduler at `scheduler`, else of a LocalCluster that ends with the block.

    Args:
        scheduler: A running scheduler's address, or empty.
        workers: LocalCluster workers; 0 sizes the cluster to the machine.

    Raises:
        InvalidInputError: In a Kubernetes pod without a scheduler address: the task would start
            a LocalCluster inside its own pod's limits; a KubeCluster per task
            (`cluster.kube_client`) is not wired into the pipeline yet.
    """
    if not scheduler and os.environ.get(KUBERNETES_ENV):
        raise InvalidInputError(
            "engine dask in a Kubernetes pod needs dask_scheduler (the address of a running Dask scheduler, e.g. a "
            "DaskCluster of the dask-kubernetes operator): creating a KubeCluster per task is not wired into the "
            "pipeline yet")
    from .distributed.cluster import dask_client

    with dask_client(scheduler or None, workers=workers or None) as client:
        yield client
