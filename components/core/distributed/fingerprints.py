"""Content fingerprints of Dask frames, computed where the partitions live.

`tables.fingerprint` hashes a whole table column by column, so it cannot be computed piece
by piece. A Dask frame's fingerprint is instead a SHA-256 over its partitions' own
`tables.fingerprint`s, in partition order: every cell's bytes still feed the digest (on the
workers), and only one hex digest per partition comes back. It depends on where the
partitions are cut, which a Parquet dataset fixes (one partition per file, in file order),
so the writer of a split and every reader of the same files agree on it; it differs from
the pandas engine's fingerprint of the same rows, so one run's manifest and guards use one
engine's fingerprints throughout.

A frame read and verified is kept in the workers' memory, but a worker can be lost (its
nanny restarts it over its memory limit) and Dask then reads its partitions again from their
files: `held_to` makes every such read check its partition against the fingerprint verified.
"""

from __future__ import annotations

import hashlib

import dask
import dask.dataframe as dd
import pandas as pd

from ..errors import DataLeakageError
from ..tables import fingerprint


def partition_fingerprints(frame: dd.DataFrame) -> list[str]:
    """Each partition's `tables.fingerprint`, in order, computed on the workers."""
    return list(dask.compute(*(dask.delayed(fingerprint)(part) for part in frame.to_delayed())))


def combined(parts: list[str]) -> str:
    """A SHA-256 over the number of partitions and each partition's fingerprint, in order."""
    digest = hashlib.sha256(f"{len(parts)} partitions".encode())
    for part in parts:
        digest.update(part.encode())
    return digest.hexdigest()


def frame_fingerprint(frame: dd.DataFrame) -> str:
    """`combined` over the frame's `partition_fingerprints`."""
    return combined(partition_fingerprints(frame))


def held_to(frame: dd.DataFrame, parts: list[str], where: str) -> dd.DataFrame:
    """The frame, persisted, each partition checked against its fingerprint in `parts` whenever it is computed.

    Args:
        frame: A persisted frame whose `partition_fingerprints` are `parts`.
        parts: The fingerprints verified.
        where: The frame's name in errors (its path and role).

    Returns:
        The frame to use in place of `frame`, whose partitions it keeps in memory unless a
        worker is lost; a partition read again then fails its computation with a
        `DataLeakageError` if its content is not the one verified.
    """
    return frame.map_partitions(_unchanged, parts, where, meta=frame._meta).persist()


def _unchanged(partition: pd.DataFrame, parts: list[str], where: str, partition_info: dict) -> pd.DataFrame:
    number = partition_info["number"]
    found = fingerprint(partition)
    if found != parts[number]:
        raise DataLeakageError(f"{where}: partition {number} was read again (a worker holding it was lost) and its "
                               f"content has fingerprint {found}, not the {parts[number]} verified: its file changed "
                               "during the run")
    return partition
