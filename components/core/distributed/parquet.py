"""Parquet datasets as Dask frames: read lazily (a directory, a glob or a gs:// prefix) and written in parts.

Paths go through fsspec, so a local path and `gs://bucket/prefix` read alike (gs:// needs
gcsfs, with credentials from the environment as for `tables.read_table`). An input dataset is
read as the files that `tables.dataset_files` lists and `tables.source_fingerprint` hashes,
in the one schema `tables.dataset_schema` checks, so both engines read the same rows.
"""

from __future__ import annotations

import glob
import os
import shutil
import uuid

import dask
import dask.dataframe as dd
import fsspec
import numpy as np
import pandas as pd
import pyarrow as pa
from distributed import get_client
from fsspec.implementations.local import LocalFileSystem

from ..errors import InvalidInputError

# The most bytes a loaded partition holds in memory, as read. A stage's task on a partition
# holds several times that: the canonical table alone is 3.2 times a 1M-row partition of
# dask_scale's table (numbers as float64, text as Python strings), and converting it peaked at
# 540 MB, more than a 1 GB worker has beside its own 300 MB.
PARTITION_BYTES = 32 * 2**20
ROWS, BYTES = "rows", "bytes"


def _filesystem(path: str) -> tuple[fsspec.AbstractFileSystem, str]:
    """The fsspec filesystem of a path and the path within it, with no cached listing of it.

    Raises:
        InvalidInputError: The scheme's filesystem is not installed (gs:// needs gcsfs).
    """
    try:
        fs, root = fsspec.core.url_to_fs(path)
    except ImportError as exc:
        raise InvalidInputError(f"{path}: {exc}") from exc
    # Workers in other processes write the splits and the loaded dataset: what this process
    # listed of a bucket before (gcsfs caches listings), e.g. that a path was free, is stale.
    fs.invalidate_cache(root)
    return fs, root


def read_parquet(path: str, columns: list[str] | None = None) -> dd.DataFrame:
    """Reads a Parquet dataset lazily and persists it once on the cluster.

    One partition per file or row group, held by the workers (which spill to disk under
    their memory limit), never by this process. Persisting once after the read is what keeps
    dask-expr from recomputing the read, and from failing on partition counts, in the chain
    of operations that follows.

    Args:
        path: A directory of Parquet files, a glob, or a `gs://` prefix.
        columns: The columns to read (default: all).

    Raises:
        InvalidInputError: Nothing is at the path, it is not Parquet, or a column is absent.
    """
    fs, root = _filesystem(path)
    if not (fs.glob(root) if glob.has_magic(root) else fs.exists(root)):
        raise InvalidInputError(f"{path}: no Parquet dataset there")
    return _persisted(path, path, columns=columns)


def _persisted(where: str, paths: str | list[str], **options) -> dd.DataFrame:
    """`dd.read_parquet(paths, **options)`, persisted; `where` names the dataset in errors."""
    try:
        frame = dd.read_parquet(paths, **options)
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        raise InvalidInputError(f"{where}: not a readable Parquet dataset: {exc}") from exc
    return frame.persist()


def read_source(source: str) -> dd.DataFrame:
    """Reads an input dataset (`tables.is_dataset`) lazily: its listed files, in its checked schema.

    Partition keys in directory names (`year=2024/`) are not read as columns, as the pandas
    engine does not read them either; the file list is the one its fingerprint hashes.

    Raises:
        InvalidInputError: As `tables.dataset_files` and `tables.dataset_schema`, or gs://
            without gcsfs.
    """
    from .. import tables

    files = tables.dataset_files(source)
    # The footers alone: files that differ are refused by name before any worker reads them.
    schema = tables.dataset_schema(source, files)
    _filesystem(files[0].location)
    return _persisted(source, [file.location for file in files],
                      dataset={"partitioning": None, "schema": schema})


def write_parquet(frames: dict[str, dd.DataFrame]) -> None:
    """Writes Dask frames as Parquet datasets of one file per partition, in one computation.

    Frames made from one table (its four splits) share its reading and conversion: each of its
    partitions is computed once for all of them, not once per dataset. A local dataset is
    written beside its target and renamed into place once every dataset is written, so a
    failure leaves no half-written directory; a remote one (gs://) is written in place.

    Args:
        frames: Each dataset's frame, by its path.

    Raises:
        InvalidInputError: Something is already at a path (checked before anything is written).
    """
    targets = {}
    for path in frames:
        fs, root = _filesystem(path)
        if fs.exists(root):
            raise InvalidInputError(f"{path}: already exists; a split is written once")
        local = isinstance(fs, LocalFileSystem)
        targets[path] = (root, f"{root.rstrip('/')}.partial-{uuid.uuid4().hex[:8]}" if local else None)
    writes = [frame.to_parquet(targets[path][1] or path, write_index=False, schema=_schema(frame), compute=False)
              for path, frame in frames.items()]
    try:
        dask.compute(*writes)
        for root, partial in targets.values():
            if partial:
                os.replace(partial, root)
    finally:
        for _, partial in targets.values():
            if partial:
                shutil.rmtree(partial, ignore_errors=True)


def _schema(frame: dd.DataFrame) -> pa.Schema:
    # Object columns hold text (`schema.coerce_features`); inferring their type fails when the
    # first partitions hold no row of a split.
    return pa.schema([
        (name, pa.large_string() if pd.api.types.is_object_dtype(dtype) else pa.Schema.from_pandas(
            frame._meta[[name]], preserve_index=False).field(name).type)
        for name, dtype in frame.dtypes.items()
    ])


def bounded(frame: dd.DataFrame, limit: int) -> dd.DataFrame:
    """The frame with every partition over `limit` bytes in memory cut into equal row ranges of about `limit`.

    A partition of n times `limit` bytes becomes ceil(n) pieces. Smaller partitions are left as
    they are (not merged), so the cut depends on each partition alone.
    """
    sizes = frame.map_partitions(_size, meta={ROWS: "int64", BYTES: "int64"}, enforce_metadata=False).compute()
    if (sizes[BYTES] <= limit).all():
        return frame
    pieces = []
    for part, rows, size in zip(frame.to_delayed(), sizes[ROWS], sizes[BYTES]):
        cuts = np.linspace(0, rows, -(-size // limit) + 1).astype("int64")
        pieces += [dask.delayed(_rows)(part, start, stop) for start, stop in zip(cuts[:-1], cuts[1:])]
    return dd.from_delayed(pieces, meta=frame._meta, verify_meta=False)


def _size(partition: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({ROWS: [len(partition)], BYTES: [int(partition.memory_usage(deep=True).sum())]})


def _rows(partition: pd.DataFrame, start: int, stop: int) -> pd.DataFrame:
    return partition.iloc[start:stop]


def load(source: str, path: str) -> tuple[str, int]:
    """Writes the input table as a Parquet dataset at `path`, the `load_dataset` of the Dask engine.

    A Parquet dataset (a directory or `gs://` prefix, `read_source`) or glob is read lazily;
    a single file, which one process reads anyway (a gzipped CSV cannot be split), is read by
    `tables.read_table` and cut into one partition per worker thread. Partitions over
    `PARTITION_BYTES` are cut (`bounded`): every later stage reads one file per partition.

    Returns:
        The dataset's `frame_fingerprint`, computed from the written files as every reader
        will read them, and its rows.
    """
    from .. import tables
    from .fingerprints import frame_fingerprint

    if glob.has_magic(source):
        frame = read_parquet(source)
    elif tables.is_dataset(source):
        frame = read_source(source)
    else:
        threads = sum(get_client().nthreads().values())
        frame = dd.from_pandas(tables.read_table(source), npartitions=max(1, threads))
    write_parquet({path: bounded(frame, PARTITION_BYTES)})
    written = read_parquet(path)
    return frame_fingerprint(written), int(written.shape[0].compute())
