"""Large arguments of per-partition functions, sent to each worker once.

A pandas object passed as such to `map_partitions` is copied into every partition's task, and
the scheduler sends each task on its own: a group -> split assignment of a million patients
(about 24 MB pickled) went out once per partition and split, 80 times for a 20-file table.
Wrapped in `dask.delayed` it is one key of the graph that the tasks name, so each worker
fetches it once.
"""

from __future__ import annotations

import dask
from dask.delayed import Delayed


def shared(value) -> Delayed:
    """`value` as one key of the graph, named by every task that takes it instead of copied into each."""
    return dask.delayed(value)
