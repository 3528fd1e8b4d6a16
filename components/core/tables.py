"""Reading input tables and writing split artifacts, with content fingerprints."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .errors import InvalidInputError

CSV_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".tsv.gz")
PARQUET_SUFFIXES = (".parquet", ".pq")
SUPPORTED = CSV_SUFFIXES + PARQUET_SUFFIXES
GCS_SCHEME = "gs://"
# Numpy dtype kinds hashed as raw values: bool, integers, floats, complex, timedelta, datetime.
NUMPY_KINDS = "biufcmM"


def _format_of(name: str) -> str:
    lower = name.lower()
    if lower.endswith(PARQUET_SUFFIXES):
        return "parquet"
    if lower.endswith(CSV_SUFFIXES):
        return "csv"
    raise InvalidInputError(
        f"{name}: unknown table format; sealtrain reads {', '.join(SUPPORTED)}"
    )


def _csv_header(raw: bytes, name: str, sep: str) -> list[str]:
    text = gzip.decompress(raw) if name.lower().endswith(".gz") else raw
    first = io.StringIO(text[:1 << 20].decode("utf-8", errors="replace")).readline()
    return next(csv.reader([first], delimiter=sep), [])


def _gcs_blob(uri: str):
    from google.api_core import exceptions
    from google.cloud import storage

    bucket, _, name = uri.removeprefix(GCS_SCHEME).partition("/")
    try:
        blob = storage.Client().bucket(bucket).get_blob(name)
    except exceptions.GoogleAPIError as exc:
        raise InvalidInputError(f"{uri}: cannot be read from Cloud Storage ({exc})") from exc
    if blob is None:
        raise InvalidInputError(f"{uri}: no such object")
    return blob


def _read_bytes(path: str) -> bytes:
    if path.startswith(GCS_SCHEME):
        return _gcs_blob(path).download_as_bytes()
    file = Path(path)
    if not file.is_file():
        raise InvalidInputError(f"{path}: no such file")
    try:
        return file.read_bytes()
    except OSError as exc:
        raise InvalidInputError(f"{path}: cannot be read ({exc.strerror})") from exc


def read_table(path: str) -> pd.DataFrame:
    """Reads a CSV/TSV (optionally gzipped) or Parquet table from a file or `gs://` object.

    Args:
        path: A local file path or a `gs://bucket/object` URI (credentials from the
            environment, as google-cloud-storage finds them).

    Returns:
        The table, with the file's own column names.

    Raises:
        InvalidInputError: The file is missing, unreadable, of an unknown format, empty, or
            has duplicate column names.
    """
    return read_columns(path, None)[1]


def read_columns(path: str, columns: list[str] | None) -> tuple[list[str], pd.DataFrame]:
    """Reads a table's header and the named columns that it has (all of them for None).

    Reading only some columns checks arguments early without loading the whole table.

    Args:
        path: A local file path or a `gs://bucket/object` URI, as for `read_table`.
        columns: The columns wanted, those the header lacks left out; None for every column.

    Returns:
        The header and the wanted columns present in it.

    Raises:
        InvalidInputError: As `read_table`.
    """
    fmt = _format_of(path)
    raw = _read_bytes(path)
    if not raw.strip():
        raise InvalidInputError(f"{path}: the file is empty")
    sep = "\t" if ".tsv" in path.lower() else ","
    try:
        header = pq.read_schema(io.BytesIO(raw)).names if fmt == "parquet" else _csv_header(raw, path, sep)
        duplicates = sorted({c for c in header if header.count(c) > 1})
        if duplicates:
            raise InvalidInputError(f"{path}: duplicate column names {duplicates}")
        # None reads the table as the readers see it, so their own header parsing has the last word.
        wanted = None if columns is None else [c for c in header if c in columns]
        if fmt == "parquet":
            frame = pd.read_parquet(io.BytesIO(raw), columns=wanted)
        else:
            compression = "gzip" if path.lower().endswith(".gz") else None
            frame = pd.read_csv(io.BytesIO(raw), sep=sep, compression=compression, usecols=wanted)
    except InvalidInputError:
        raise
    except Exception as exc:  # pandas/pyarrow raise many types for a corrupt file
        raise InvalidInputError(f"{path}: not a readable {fmt} file ({exc})") from exc
    if frame.empty and wanted != []:
        raise InvalidInputError(f"{path}: the table has no rows")
    return header, frame


def fingerprint(frame: pd.DataFrame) -> str:
    """Returns a SHA-256 of a table's column names, types and cell values, ignoring the index.

    Every cell's bytes go into the digest, with no weak per-row hash in between that a forged
    table could be crafted to match. The result survives a Parquet round trip: text hashes
    as UTF-8 whether pandas holds it as `object` or `str`, and a missing value is a mask bit
    whatever stood for it (None, NaN, NA).
    """
    digest = hashlib.sha256(f"{len(frame)} rows".encode())
    for name in frame.columns:
        kind, parts = _column_parts(frame[name])
        for part in (str(name).encode(), kind.encode(), *parts):
            # Length-prefixed, so no two different tables feed the digest the same bytes.
            digest.update(len(part).to_bytes(8, "little"))
            digest.update(part)
    return digest.hexdigest()


def _column_parts(column: pd.Series) -> tuple[str, list]:
    """A column's kind (numpy dtype code, or `text`) and the buffers that hold its values."""
    if isinstance(column.dtype, np.dtype) and column.dtype.kind in NUMPY_KINDS:
        values = column.to_numpy()
        missing = np.isnan(values) if values.dtype.kind in "fc" else np.zeros(len(values), dtype=bool)
        values = np.where(missing, 0, values) if missing.any() else values
        return values.dtype.str, [np.packbits(missing).tobytes(), np.ascontiguousarray(values).view(np.uint8)]
    text = _as_text(column)
    missing = text.is_null().to_numpy(zero_copy_only=False)
    text = pc.fill_null(text, "")
    offsets = np.frombuffer(text.buffers()[1], dtype=np.int64)[text.offset:text.offset + len(text) + 1]
    data = memoryview(text.buffers()[2] or b"")[offsets[0]:offsets[-1]]
    return "text", [np.packbits(missing).tobytes(), np.diff(offsets).tobytes(), data]


def _as_text(column: pd.Series) -> pa.Array:
    """A non-numeric column as an Arrow `large_string` array; values that are not text as `str(value)`."""
    try:
        arrow = pa.array(column, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        arrow = None
    if arrow is None or not (pa.types.is_string(arrow.type) or pa.types.is_large_string(arrow.type)):
        arrow = pa.array(column.astype(pd.StringDtype("pyarrow")).array)
    if isinstance(arrow, pa.ChunkedArray):
        arrow = arrow.combine_chunks()
    return arrow.cast(pa.large_string())


def write_parquet(frame: pd.DataFrame, path: str) -> None:
    """Writes a table as Parquet without the pandas index."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path, index=False)


def read_parquet(path: str) -> pd.DataFrame:
    """Reads a Parquet artifact written by `write_parquet`."""
    return pd.read_parquet(path)


def source_fingerprint(path: str) -> str:
    """The data fingerprint that keys cached pipeline steps.

    A file's SHA-256; for a `gs://` object its generation and MD5, which change whenever
    the object is rewritten, without downloading it.
    """
    if path.startswith(GCS_SCHEME):
        blob = _gcs_blob(path)
        return f"gcs:{blob.generation}:{blob.md5_hash}"
    if not Path(path).is_file():
        raise InvalidInputError(f"{path}: no such file")
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        raise InvalidInputError(f"{path}: cannot be read ({exc.strerror})") from exc
    return digest.hexdigest()
