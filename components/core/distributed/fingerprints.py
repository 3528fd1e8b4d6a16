"""Content fingerprints of Dask frames, computed where the partitions live.

`tables.fingerprint` hashes a whole table column by column, so it cannot be computed piece
by piece. A Dask frame's fingerprint is instead a SHA-256 over its partitions' own
`tables.fingerprint`s, in partition order: every cell's bytes still feed the digest (on the
workers), and only one hex digest per partition comes back. It depends on where the
partitions are cut, which a Parquet dataset fixes (one partition per file, in file order),
so the writer of a split and every reader of the same files agree on it; it differs from
the pandas engine's fingerprint of the same rows, so one run's manifest and guards use one
engine's fingerprints throughout.
"""

from __future__ import annotations

import hashlib

import dask
import dask.dataframe as dd

from ..tables import fingerprint


def frame_fingerprint(frame: dd.DataFrame) -> str:
    """A SHA-256 over the number of partitions and each partition's `tables.fingerprint`, in order."""
    parts = dask.compute(*(dask.delayed(fingerprint)(part) for part in frame.to_delayed()))
    digest = hashlib.sha256(f"{len(parts)} partitions".encode())
    for part in parts:
        digest.update(part.encode())
    return digest.hexdigest()
