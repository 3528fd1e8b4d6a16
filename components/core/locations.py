"""Where a task's big tables are read and written: the artifact's object-store URI or its local path.

KFP's launcher keeps a task's artifacts as files at `.path` in the task's own pod, copied
from the pipeline root before the task and back after it. Dask workers run in other pods
(a DaskCluster, or the scheduler given by `--dask-scheduler`), so they cannot read or write
those files; they reach an artifact only at its URI in the pipeline root, and only when that
root is object storage they can read with their own credentials: Cloud Storage (`gs://`).
On Vertex AI Pipelines `.path` is the GCS FUSE view of that same object.
"""

from __future__ import annotations

from .engines import DASK

# The one object store the workers read and write here, through gcsfs (in the dask extra).
from .tables import GCS_SCHEME


def table_location(uri: str, path: str, engine: str) -> str:
    """Where the loaded dataset or a split is read and written by this task's engine.

    Only these big tables move: manifests, models, reports and metrics are small, written and
    read by the task's own process at `.path` whatever the engine.

    Args:
        uri: The artifact's URI (`artifact.uri`).
        path: Its local path in this task (`artifact.path`).
        engine: "pandas" or "dask" (`engines`).

    Returns:
        With dask and a `gs://` URI, the URI, which the workers reach from their own pods;
        otherwise the path: pandas reads in this process, and a local run (kfp.local, a
        LocalCluster) shares one filesystem with its workers.
    """
    return uri if engine == DASK and uri.startswith(GCS_SCHEME) else path
