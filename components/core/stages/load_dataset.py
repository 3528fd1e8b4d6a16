"""Stage `load_dataset`: the input table as Parquet, checked against its fingerprint."""

from __future__ import annotations

from .. import engines, tables
from ..constants import META_FINGERPRINT, META_ROWS
from ..errors import InvalidInputError
from . import StageResult


def run(*, data_uri: str, data_fingerprint: str, dataset_path: str, engine: str = engines.PANDAS,
        dask_scheduler: str = "", dask_workers: int = 0) -> StageResult:
    """Reads a CSV/TSV/Parquet table or a Parquet dataset (a path or `gs://` URI) and writes it as Parquet.

    With pandas a dataset (a directory or `gs://` prefix of Parquet files) is read whole into
    this process; with dask it is read lazily by the workers.

    Args:
        data_uri: The source table or dataset.
        data_fingerprint: The source's fingerprint (`tables.source_fingerprint`), or empty to
            skip the check.
        dataset_path: Where the Parquet file goes (a directory of parts with dask, which the workers write:
            a local path, or the artifact's gs:// URI on a cluster, `locations.table_location`).
        engine: "pandas" (in this process) or "dask" (`engines`).
        dask_scheduler: With dask, a running scheduler's address; empty starts a cluster for the task
            (`engines.dask_session`).
        dask_workers: With dask and no scheduler, the task's cluster's workers; 0 sizes a
            LocalCluster to the machine.

    Returns:
        Metadata of `dataset`: the table's fingerprint, row count and source.

    Raises:
        InvalidInputError: The source no longer matches its fingerprint, or cannot be read.
    """
    if data_fingerprint and tables.source_fingerprint(data_uri) != data_fingerprint:
        what = "a file was added, removed, renamed or rewritten" if tables.is_dataset(data_uri) else "content changed"
        raise InvalidInputError(f"{data_uri}: {what} since its fingerprint {data_fingerprint} was taken; "
                                "the run must read the data it was submitted with")
    if engines.check_engine(engine) == engines.DASK:
        from ..distributed import parquet

        with engines.dask_session(dask_scheduler, dask_workers):
            fingerprint, rows = parquet.load(data_uri, dataset_path)
    else:
        frame = tables.read_table(data_uri)
        tables.write_parquet(frame, dataset_path)
        fingerprint, rows = tables.fingerprint(frame), len(frame)
    return StageResult(metadata={"dataset": {
        META_FINGERPRINT: fingerprint, META_ROWS: float(rows), "source": data_uri,
    }})
