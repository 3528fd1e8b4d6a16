"""Reading input tables and writing split artifacts, with content fingerprints."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
from pathlib import Path

import pandas as pd

from .errors import InvalidInputError

CSV_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".tsv.gz")
PARQUET_SUFFIXES = (".parquet", ".pq")
SUPPORTED = CSV_SUFFIXES + PARQUET_SUFFIXES
GCS_SCHEME = "gs://"


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
    fmt = _format_of(path)
    raw = _read_bytes(path)
    if not raw.strip():
        raise InvalidInputError(f"{path}: the file is empty")
    try:
        if fmt == "parquet":
            frame = pd.read_parquet(io.BytesIO(raw))
        else:
            sep = "\t" if ".tsv" in path.lower() else ","
            header = _csv_header(raw, path, sep)
            duplicates = sorted({c for c in header if header.count(c) > 1})
            if duplicates:
                raise InvalidInputError(f"{path}: duplicate column names {duplicates}")
            compression = "gzip" if path.lower().endswith(".gz") else None
            frame = pd.read_csv(io.BytesIO(raw), sep=sep, compression=compression)
    except InvalidInputError:
        raise
    except Exception as exc:  # pandas/pyarrow raise many types for a corrupt file
        raise InvalidInputError(f"{path}: not a readable {fmt} file ({exc})") from exc
    if frame.columns.duplicated().any():
        dup = sorted(set(frame.columns[frame.columns.duplicated()]))
        raise InvalidInputError(f"{path}: duplicate column names {dup}")
    if frame.empty:
        raise InvalidInputError(f"{path}: the table has no rows")
    return frame


def fingerprint(frame: pd.DataFrame) -> str:
    """Returns a SHA-256 of a table's columns, dtypes and cell values, ignoring the index."""
    digest = hashlib.sha256()
    for name, dtype in frame.dtypes.items():
        digest.update(f"{name}\x1f{dtype}\x1e".encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


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
