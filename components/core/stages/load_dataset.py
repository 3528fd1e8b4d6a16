"""Stage `load_dataset`: the input table as Parquet, checked against its fingerprint."""

from __future__ import annotations

from .. import tables
from ..constants import META_FINGERPRINT, META_ROWS
from ..errors import InvalidInputError
from . import StageResult


def run(*, data_uri: str, data_fingerprint: str, dataset_path: str) -> StageResult:
    """Reads a CSV/TSV/Parquet table (a path or `gs://` URI) and writes it as Parquet.

    Args:
        data_uri: The source table.
        data_fingerprint: The source's fingerprint, or empty to skip the check.
        dataset_path: Where the Parquet file goes.

    Returns:
        Metadata of `dataset`: the table's fingerprint, row count and source.

    Raises:
        InvalidInputError: The source no longer matches its fingerprint, or cannot be read.
    """
    if data_fingerprint and tables.source_fingerprint(data_uri) != data_fingerprint:
        raise InvalidInputError(f"{data_uri}: content changed since its fingerprint {data_fingerprint[:12]} was taken")
    frame = tables.read_table(data_uri)
    tables.write_parquet(frame, dataset_path)
    return StageResult(metadata={"dataset": {
        META_FINGERPRINT: tables.fingerprint(frame), META_ROWS: float(len(frame)), "source": data_uri,
    }})
