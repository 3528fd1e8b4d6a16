"""Reading input tables and writing split artifacts, with content fingerprints.

An input table is one file (CSV/TSV, optionally gzipped, or Parquet; a path or a `gs://`
object) or a Parquet dataset: a local directory of Parquet files, or a `gs://` prefix of
Parquet objects. A dataset's files must share one schema (a column that is all missing in a
file may be stored as type `null`); names starting with `.` or `_` (`_SUCCESS`, `_metadata`,
`.crc` files) are skipped, as pyarrow and Dask skip them, and partition keys in directory
names (`year=2024/`) are not read as columns. The source fingerprint of a dataset is taken
from its file listing and file hashes (`source_fingerprint`), without reading it as a table.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
from dataclasses import dataclass
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
# Names of a dataset's files that are not data, as pyarrow and Dask skip them.
HIDDEN_PREFIXES = (".", "_")
# Prefixes of a dataset's source fingerprint, which say how it was computed (`source_fingerprint`).
DIRECTORY_FINGERPRINT = "dir:"
PREFIX_FINGERPRINT = "gcs-prefix:"
# Bytes hashed at a time, so a file of any size is fingerprinted in constant memory.
HASH_CHUNK_BYTES = 1 << 20
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
    """Reads a CSV/TSV (optionally gzipped) or Parquet table from a file or `gs://` object,
    or a Parquet dataset (a directory or `gs://` prefix) whole into one frame.

    Args:
        path: A local file or directory, or a `gs://bucket/object` URI or `gs://bucket/prefix/`
            (credentials from the environment, as google-cloud-storage finds them).

    Returns:
        The table, with the file's own column names; a dataset's files in name order.

    Raises:
        InvalidInputError: The file is missing, unreadable, of an unknown format, empty, or
            has duplicate column names; a dataset's files are missing, unreadable, or differ
            in their columns (see `dataset_schema`).
    """
    return read_columns(path, None)[1]


def read_columns(path: str, columns: list[str] | None) -> tuple[list[str], pd.DataFrame]:
    """Reads a table's header and the named columns that it has (all of them for None).

    Reading only some columns checks arguments early without loading the whole table.

    Args:
        path: A file, a Parquet dataset or a `gs://` URI, as for `read_table`. Of a dataset,
            only the files' footers and the wanted columns are read.
        columns: The columns wanted, those the header lacks left out; None for every column.

    Returns:
        The header and the wanted columns present in it.

    Raises:
        InvalidInputError: As `read_table`.
    """
    if is_dataset(path):
        return _read_dataset(path, columns)
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
    """The data fingerprint that keys cached pipeline steps, taken without reading the table.

    A file's SHA-256; for a `gs://` object `gcs:GENERATION:MD5`, which changes whenever the
    object is rewritten, without downloading it. For a dataset, the SHA-256 of one JSON line
    per Parquet file, sorted by the file's name relative to the dataset's root:
    `dir:` + SHA-256 of the lines `["NAME", "FILE_SHA256"]` for a local directory (each file
    streamed), `gcs-prefix:` + SHA-256 of the lines `["NAME", GENERATION, "MD5"]` for a
    `gs://` prefix (listed, not downloaded). A file added, removed, renamed or rewritten
    changes it.

    Raises:
        InvalidInputError: The file or dataset is missing or unreadable.
    """
    if is_dataset(path):
        return _dataset_fingerprint(path)
    if path.startswith(GCS_SCHEME):
        blob = _gcs_blob(path)
        return f"gcs:{blob.generation}:{blob.md5_hash}"
    if not Path(path).is_file():
        raise InvalidInputError(f"{path}: no such file")
    return _file_sha256(path, path)


def _file_sha256(file: str, where: str) -> str:
    """A local file's SHA-256, read in chunks; `where` names it in the error."""
    digest = hashlib.sha256()
    try:
        with open(file, "rb") as handle:
            for block in iter(lambda: handle.read(HASH_CHUNK_BYTES), b""):
                digest.update(block)
    except OSError as exc:
        raise InvalidInputError(f"{where}: cannot be read ({exc.strerror})") from exc
    return digest.hexdigest()


def _dataset_fingerprint(path: str) -> str:
    """A dataset's source fingerprint (see `source_fingerprint`)."""
    files = dataset_files(path)
    digest = hashlib.sha256()
    # One JSON line per file: the names' quoting keeps a newline in a name from forging a line.
    if path.startswith(GCS_SCHEME):
        for file in files:
            digest.update((json.dumps([file.name, file.blob.generation, file.blob.md5_hash]) + "\n").encode())
        return PREFIX_FINGERPRINT + digest.hexdigest()
    for file in files:
        content = _file_sha256(file.location, f"{path}: {file.name}")
        digest.update((json.dumps([file.name, content]) + "\n").encode())
    return DIRECTORY_FINGERPRINT + digest.hexdigest()


@dataclass(frozen=True)
class DatasetFile:
    """One Parquet file of a dataset.

    Attributes:
        name: Its path relative to the dataset's root, with `/` separators.
        location: Its local path, or its `gs://bucket/object` URI.
        blob: The listed Cloud Storage object (generation, MD5), None for a local file.
    """

    name: str
    location: str
    blob: object = None


def is_dataset(path: str) -> bool:
    """Whether a path names a Parquet dataset rather than one table file.

    A local directory is a dataset; a `gs://` URI is a prefix when it ends with `/` or not
    with a table file's suffix (`gs://bucket/events/` and `gs://bucket/events` alike).
    """
    if path.startswith(GCS_SCHEME):
        return path.endswith("/") or not path.lower().endswith(SUPPORTED)
    return Path(path).is_dir()


def dataset_files(path: str) -> list[DatasetFile]:
    """Lists a dataset's Parquet files, sorted by name, skipping names that start with . or _.

    Raises:
        InvalidInputError: The directory, prefix or bucket is missing, it holds no Parquet
            file, or it holds a file that is not Parquet; the message names the path and file.
    """
    found = _gcs_listing(path) if path.startswith(GCS_SCHEME) else _local_listing(path)
    if not found:
        raise InvalidInputError(f"{path}: the {'prefix' if path.startswith(GCS_SCHEME) else 'directory'} is "
                                "empty; a Parquet dataset needs at least one .parquet file")
    visible = sorted((file for file in found if not _hidden(file.name)), key=lambda file: file.name)
    parquet = [file for file in visible if file.name.lower().endswith(PARQUET_SUFFIXES)]
    if not parquet:
        names = sorted(file.name for file in found)
        raise InvalidInputError(f"{path}: no Parquet files ({', '.join(PARQUET_SUFFIXES)}) in it; it holds "
                                + ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else ""))
    strays = [file.name for file in visible if file not in parquet]
    if strays:
        # Skipping it would leave out data its writer meant to include, and Dask would not skip it.
        raise InvalidInputError(f"{path}: {strays[0]} is not a Parquet file ({', '.join(PARQUET_SUFFIXES)}); a "
                                "dataset holds Parquet files only (names starting with . or _ are skipped)")
    return parquet


def _hidden(name: str) -> bool:
    return any(part.startswith(HIDDEN_PREFIXES) for part in name.split("/"))


def _local_listing(path: str) -> list[DatasetFile]:
    root = Path(path)
    if not root.is_dir():
        raise InvalidInputError(f"{path}: no such directory")
    try:
        return [DatasetFile(file.relative_to(root).as_posix(), str(file)) for file in root.rglob("*") if file.is_file()]
    except OSError as exc:
        raise InvalidInputError(f"{path}: cannot be listed ({exc.strerror})") from exc


def _gcs_listing(path: str) -> list[DatasetFile]:
    from google.api_core import exceptions
    from google.cloud import storage

    bucket, _, name = path.removeprefix(GCS_SCHEME).partition("/")
    # `gs://b/events` lists `events/...`, not `events2/...`.
    prefix = name if not name or name.endswith("/") else name + "/"
    try:
        blobs = list(storage.Client().list_blobs(bucket, prefix=prefix))
    except exceptions.NotFound as exc:
        raise InvalidInputError(f"{path}: no such bucket {bucket!r}") from exc
    except exceptions.GoogleAPIError as exc:
        raise InvalidInputError(f"{path}: cannot be listed in Cloud Storage ({exc})") from exc
    # A name ending in / is a folder placeholder that consoles create, not a file.
    return [DatasetFile(blob.name[len(prefix):], f"{GCS_SCHEME}{bucket}/{blob.name}", blob)
            for blob in blobs if not blob.name.endswith("/")]


def _with_parquet_file(path: str, file: DatasetFile, read):
    """`read(pq.ParquetFile)` of one dataset file; a `gs://` object at the generation it was listed at.

    Raises:
        InvalidInputError: The file cannot be read as Parquet, or the object was rewritten or
            removed since it was listed; the message names the dataset and the file.
    """
    if file.blob is None:
        try:
            return read(pq.ParquetFile(file.location))
        except OSError as exc:
            raise InvalidInputError(f"{path}: {file.name} cannot be read ({exc})") from exc
        except Exception as exc:  # pyarrow raises many types for a corrupt file
            raise InvalidInputError(f"{path}: {file.name} is not a readable Parquet file ({exc})") from exc
    from google.api_core import exceptions

    try:
        with file.blob.open("rb", if_generation_match=file.blob.generation) as handle:
            return read(pq.ParquetFile(handle))
    except (exceptions.PreconditionFailed, exceptions.NotFound) as exc:
        raise InvalidInputError(f"{path}: {file.name} was rewritten or removed while the dataset was read "
                                f"(generation {file.blob.generation} is gone)") from exc
    except exceptions.GoogleAPIError as exc:
        raise InvalidInputError(f"{path}: {file.name} cannot be read from Cloud Storage ({exc})") from exc
    except Exception as exc:  # pyarrow raises many types for a corrupt file
        raise InvalidInputError(f"{path}: {file.name} is not a readable Parquet file ({exc})") from exc


def dataset_schema(path: str, files: list[DatasetFile]) -> pa.Schema:
    """The one schema of a dataset's files, from their footers alone.

    A column's types in the files must widen to one without loss of meaning, as pyarrow's
    permissive promotion does: `null` (all missing, as pandas writes it) to any type, `string`
    to `large_string`, `int64` to `double` (a file whose integers had a gap); a number and a
    text do not.

    Args:
        path: The dataset, to name in errors.
        files: Its files (`dataset_files`).

    Returns:
        The columns in the first file's order, with its metadata (pandas' dtypes).

    Raises:
        InvalidInputError: A file is unreadable, has duplicate column names, lacks a column
            another has, or types a column otherwise; the message names the file and column.
    """
    types: dict[str, tuple[pa.DataType, str]] = {}
    first = None
    for file in files:
        schema = _with_parquet_file(path, file, lambda reader: reader.schema_arrow)
        duplicates = sorted({c for c in schema.names if schema.names.count(c) > 1})
        if duplicates:
            raise InvalidInputError(f"{path}: {file.name} has duplicate column names {duplicates}")
        if first is None:
            first = file.name, schema
        missing = [c for c in first[1].names if c not in schema.names]
        if missing:
            raise InvalidInputError(f"{path}: {file.name} lacks column {missing[0]!r}, which {first[0]} has")
        extra = [c for c in schema.names if c not in first[1].names]
        if extra:
            raise InvalidInputError(f"{path}: {file.name} has column {extra[0]!r}, which {first[0]} lacks")
        for field in schema:
            known = types.get(field.name)
            if known is None or pa.types.is_null(known[0]):
                types[field.name] = field.type, file.name
                continue
            try:
                merged = pa.unify_schemas([pa.schema([(field.name, known[0])]), pa.schema([field])],
                                          promote_options="permissive").field(field.name).type
            except (pa.ArrowTypeError, pa.ArrowInvalid, NotImplementedError):
                raise InvalidInputError(f"{path}: column {field.name!r} is {field.type} in {file.name} but "
                                        f"{known[0]} in {known[1]}") from None
            types[field.name] = merged, known[1]
    return pa.schema([(name, types[name][0]) for name in first[1].names], metadata=first[1].metadata)


def _read_dataset(path: str, columns: list[str] | None) -> tuple[list[str], pd.DataFrame]:
    """`read_columns` of a dataset: every file's wanted columns, in one schema, as one frame."""
    files = dataset_files(path)
    schema = dataset_schema(path, files)
    wanted = schema.names if columns is None else [c for c in schema.names if c in columns]
    target = pa.schema([schema.field(c) for c in wanted], metadata=schema.metadata)
    parts = [_with_parquet_file(path, file, lambda reader: reader.read(columns=wanted).select(wanted).cast(target))
             for file in files]
    table = pa.concat_tables(parts)
    # No wanted column reads no row: the caller names the missing columns instead.
    if table.num_rows == 0 and wanted:
        raise InvalidInputError(f"{path}: the dataset has no rows")
    return schema.names, table.to_pandas()
