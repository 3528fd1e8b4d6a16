"""A Parquet dataset as `--data`: a local directory or a `gs://` prefix of Parquet files.

Real data (carData/KosteckiDillon) cut into files, read by both engines' load stage, checked by
preflight from the files' footers and label column, and fingerprinted without being loaded.
The `gs://` prefix runs against the real Cloud Storage emulator (`gcs` in conftest), which
google-cloud-storage and gcsfs both reach through STORAGE_EMULATOR_HOST.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from sealtrain.components.core import tables
from sealtrain.components.core.distributed import parquet
from sealtrain.components.core.errors import InvalidInputError
from sealtrain.components.core.stages import load_dataset
from sealtrain.pipelines import cli, contract, preflight
from sealtrain.pipelines.contract import UsageError

KOSTECKI = ["--label", "headache", "--positive-class", "yes", "--group", "id", "--drop", "rownames"]
# Where the files go: two at the root, one in a subdirectory, so names are relative paths.
PARTS = ("part.0.parquet", "part.1.parquet", "more/part.2.parquet")
BUCKET, PREFIX = "sealtrain-data", "kostecki-parts"


def _cut(kostecki: pd.DataFrame) -> list[pd.DataFrame]:
    size = -(-len(kostecki) // len(PARTS))
    return [kostecki.iloc[i * size:(i + 1) * size] for i in range(len(PARTS))]


def _in_name_order(kostecki: pd.DataFrame) -> pd.DataFrame:
    """The table as a dataset of PARTS reads: its files in name order (more/part.2 first)."""
    parts = dict(zip(PARTS, _cut(kostecki)))
    return pd.concat([parts[name] for name in sorted(parts)], ignore_index=True)


@pytest.fixture(scope="module")
def written(tmp_path_factory, kostecki) -> Path:
    """KosteckiDillon as three Parquet files, with the marker files writers leave beside them."""
    root = tmp_path_factory.mktemp("datasets") / "kostecki"
    for name, part in zip(PARTS, _cut(kostecki)):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        part.to_parquet(root / name, index=False)
    (root / "_SUCCESS").touch()
    (root / ".part.0.parquet.crc").write_bytes(b"crc")
    return root


@pytest.fixture
def dataset(written, tmp_path) -> Path:
    """A copy of `written` that a test may change."""
    return Path(shutil.copytree(written, tmp_path / "kostecki"))



def _arguments(data: str, **change) -> dict:
    return {"data_uri": data, "label_column": "headache", "positive_class": "yes", "group_column": "id",
            "drop_columns": ["rownames"], "time_column": "", "no_group": False, **change}


def test_a_directory_reads_as_the_table_it_was_cut_from(written, kostecki):
    assert tables.is_dataset(str(written))
    assert [f.name for f in tables.dataset_files(str(written))] == sorted(PARTS)
    assert tables.fingerprint(tables.read_table(str(written))) == tables.fingerprint(_in_name_order(kostecki))
    header, label = tables.read_columns(str(written), ["headache", "absent"])
    assert header == list(kostecki.columns)
    assert list(label.columns) == ["headache"]
    assert label["headache"].tolist() == _in_name_order(kostecki)["headache"].tolist()


def test_preflight_and_the_cli_take_a_directory(written, tmp_path):
    preflight.check_table(_arguments(str(written)))
    args = cli._parser().parse_args(["run", "--data", str(written), *KOSTECKI, "--output", str(tmp_path / "out")])
    arguments = cli.pipeline_arguments(args, tmp_path / "out")
    assert arguments["data_uri"] == str(written)
    assert arguments["data_fingerprint"] == tables.source_fingerprint(str(written))
    with pytest.raises(UsageError, match=f"--data {written}: label column 'migraine' not found"):
        preflight.check_table(_arguments(str(written), label_column="migraine"))


def _differ_in_a_column(root: Path) -> str:
    frame = pd.read_parquet(root / PARTS[1])
    frame.drop(columns="airq").to_parquet(root / PARTS[1], index=False)
    return f"{PARTS[1]} lacks column 'airq', which {PARTS[2]} has"


def _differ_in_a_type(root: Path) -> str:
    frame = pd.read_parquet(root / PARTS[1])
    frame.assign(age=frame["age"].astype(str)).to_parquet(root / PARTS[1], index=False)
    return f"column 'age' is large_string in {PARTS[1]} but int64 in {PARTS[2]}"


def _gain_a_column(root: Path) -> str:
    frame = pd.read_parquet(root / PARTS[0])
    frame.assign(extra=1).to_parquet(root / PARTS[0], index=False)
    return f"{PARTS[0]} has column 'extra', which {PARTS[2]} lacks"


def _corrupt(root: Path) -> str:
    (root / PARTS[0]).write_bytes(b"not parquet at all")
    return f"{PARTS[0]} is not a readable Parquet file"


def _empty(root: Path) -> str:
    shutil.rmtree(root)
    root.mkdir()
    return "the directory is empty"


def _only_csv(root: Path) -> str:
    for name in PARTS:
        (root / name).unlink()
    (root / "k.csv").write_text("headache\nyes\n")
    return "no Parquet files (.parquet, .pq) in it; it holds .part.0.parquet.crc, _SUCCESS, k.csv"


def _stray_csv(root: Path) -> str:
    (root / "more" / "notes.csv").write_text("a\n1\n")
    return "more/notes.csv is not a Parquet file"


@pytest.mark.parametrize("spoil", [_differ_in_a_column, _differ_in_a_type, _gain_a_column, _corrupt, _empty,
                                   _only_csv, _stray_csv])
def test_preflight_names_the_dataset_and_the_file_it_refuses(dataset, spoil):
    message = spoil(dataset)
    with pytest.raises(UsageError) as caught:
        preflight.check_table(_arguments(str(dataset)))
    assert f"{dataset}: {message}" in str(caught.value)


def test_types_that_widen_to_one_are_one_schema_on_both_engines(dataset, kostecki, client, tmp_path):
    """pandas writes an all-None text column as type null, and integers with a gap as double."""
    first = pd.read_parquet(dataset / PARTS[0]).assign(sex=None)
    first.to_parquet(dataset / PARTS[0], index=False)
    second = pd.read_parquet(dataset / PARTS[1])
    second.assign(age=second["age"].astype(float)).to_parquet(dataset / PARTS[1], index=False)
    parquet.load(str(dataset), str(tmp_path / "dask"))
    for read in (tables.read_table(str(dataset)), pd.read_parquet(tmp_path / "dask")):
        read = read.set_index("rownames").sort_index()
        assert read["sex"].isna().sum() == len(first)
        others = kostecki.set_index("rownames")["sex"].drop(first["rownames"])
        assert read["sex"].drop(first["rownames"]).tolist() == others.tolist()
        assert read["age"].dtype == "float64" and read["age"].tolist() == kostecki["age"].tolist()


def test_the_fingerprint_is_the_documented_hash_of_names_and_file_hashes(written):
    lines = "".join(json.dumps([name, hashlib.sha256((written / name).read_bytes()).hexdigest()]) + "\n"
                    for name in sorted(PARTS))
    expected = "dir:" + hashlib.sha256(lines.encode()).hexdigest()
    assert tables.source_fingerprint(str(written)) == expected
    parser = argparse.ArgumentParser()
    contract.add_pipeline_flags(parser)
    assert "dir: + the SHA-256 of one JSON line" in " ".join(parser.format_help().split())


def _add(root: Path) -> None:
    shutil.copy(root / PARTS[0], root / "more" / "part.3.parquet")


def _remove(root: Path) -> None:
    (root / PARTS[1]).unlink()


def _rename(root: Path) -> None:
    (root / PARTS[1]).rename(root / "part.1b.parquet")


def _rewrite(root: Path) -> None:
    frame = pd.read_parquet(root / PARTS[2])
    frame.loc[frame.index[0], "airq"] += 1
    frame.to_parquet(root / PARTS[2], index=False)


def test_the_fingerprint_is_stable_and_independent_of_where_the_dataset_is(written, tmp_path):
    moved = shutil.copytree(written, tmp_path / "elsewhere")
    (moved / "_SUCCESS").write_text("skipped, as readers skip it")
    assert tables.source_fingerprint(str(moved)) == tables.source_fingerprint(str(written))


@pytest.mark.parametrize("change", [_add, _remove, _rename, _rewrite])
def test_the_load_stage_refuses_a_dataset_changed_after_its_fingerprint(dataset, tmp_path, change):
    before = tables.source_fingerprint(str(dataset))
    change(dataset)
    assert tables.source_fingerprint(str(dataset)) != before
    with pytest.raises(InvalidInputError, match="a file was added, removed, renamed or rewritten since its "
                                                f"fingerprint {before} was taken"):
        load_dataset.run(data_uri=str(dataset), data_fingerprint=before, dataset_path=str(tmp_path / "d.parquet"))
    assert not (tmp_path / "d.parquet").exists()


def test_the_pandas_load_stage_reads_a_directory_whole(written, tmp_path, kostecki):
    result = load_dataset.run(data_uri=str(written), data_fingerprint=tables.source_fingerprint(str(written)),
                              dataset_path=str(tmp_path / "d.parquet"))
    meta = result.metadata["dataset"]
    assert meta["rows"] == len(kostecki) and meta["source"] == str(written)
    assert meta["fingerprint"] == tables.fingerprint(_in_name_order(kostecki))
    assert tables.fingerprint(tables.read_parquet(str(tmp_path / "d.parquet"))) == meta["fingerprint"]


def _rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows in a fixed order with the engines' text dtypes alike, to compare two reads."""
    return frame.astype({c: object for c in frame.select_dtypes(exclude="number").columns}) \
        .sort_values(["id", "time"], ignore_index=True)


def test_the_dask_load_reads_the_listed_files_lazily(written, tmp_path, kostecki, client):
    fingerprint, rows = parquet.load(str(written), str(tmp_path / "dask"))
    assert rows == len(kostecki)
    assert len(list((tmp_path / "dask").glob("*.parquet"))) == len(PARTS), "small files are neither cut nor merged"
    back = pd.read_parquet(tmp_path / "dask")
    pd.testing.assert_frame_equal(_rows(back), _rows(kostecki), check_column_type=False)
    assert len(fingerprint) == 64


def _memory(frame) -> pd.Series:
    """Each partition's bytes in memory."""
    return frame.map_partitions(lambda p: pd.Series([int(p.memory_usage(deep=True).sum())])).compute()


def test_the_dask_load_cuts_partitions_over_the_limit_into_files_under_it(written, tmp_path, client, monkeypatch):
    """A 1 GB worker cannot convert a 1M-row file at once: a file over the limit becomes several, rows in order."""
    read = parquet.read_parquet(str(written))
    limit = int(_memory(read).max()) // 3
    monkeypatch.setattr(parquet, "PARTITION_BYTES", limit)
    parquet.load(str(written), str(tmp_path / "cut"))
    back = parquet.read_parquet(str(tmp_path / "cut"))
    pieces = sum(-(-size // limit) for size in _memory(read))
    assert len(list((tmp_path / "cut").glob("*.parquet"))) == back.npartitions == pieces >= 3 * len(PARTS)
    # Equal row ranges, so a piece is near the limit, not under it to the byte (rows differ in size).
    assert _memory(back).max() <= 1.05 * limit
    pd.testing.assert_frame_equal(back.compute().reset_index(drop=True), read.compute().reset_index(drop=True))


def test_the_dask_load_reads_no_partition_key_and_refuses_differing_files(dataset, tmp_path, client):
    """A key in a directory name is no column on either engine, and a file that differs is named."""
    hive = tmp_path / "hive"
    (hive / "year=2024").mkdir(parents=True)
    shutil.copy(dataset / PARTS[0], hive / "year=2024" / "part.0.parquet")
    _, rows = parquet.load(str(hive), str(tmp_path / "hive-out"))
    assert "year" not in pd.read_parquet(tmp_path / "hive-out").columns
    assert "year" not in tables.read_table(str(hive)).columns
    message = _differ_in_a_type(dataset)
    with pytest.raises(InvalidInputError, match=message):
        parquet.load(str(dataset), str(tmp_path / "refused"))


@pytest.fixture(scope="module")
def bucket_prefix(gcs, kostecki) -> str:
    """KosteckiDillon as three Parquet objects under gs://sealtrain-data/kostecki-parts/."""
    from google.cloud import storage

    bucket = storage.Client().bucket(BUCKET)
    for name, part in zip(PARTS, _cut(kostecki)):
        buffer = io.BytesIO()
        part.to_parquet(buffer, index=False)
        bucket.blob(f"{PREFIX}/{name}").upload_from_string(buffer.getvalue())
    bucket.blob(f"{PREFIX}/_SUCCESS").upload_from_string(b"")
    return f"gs://{BUCKET}/{PREFIX}/"


def test_a_cloud_storage_prefix_reads_and_fingerprints_without_a_download(bucket_prefix, kostecki):
    from google.cloud import storage

    assert tables.fingerprint(tables.read_table(bucket_prefix)) == tables.fingerprint(_in_name_order(kostecki))
    blobs = {blob.name.removeprefix(f"{PREFIX}/"): blob
             for blob in storage.Client().list_blobs(BUCKET, prefix=f"{PREFIX}/")}
    lines = "".join(json.dumps([name, blobs[name].generation, blobs[name].md5_hash]) + "\n" for name in sorted(PARTS))
    fingerprint = tables.source_fingerprint(bucket_prefix)
    assert fingerprint == "gcs-prefix:" + hashlib.sha256(lines.encode()).hexdigest()
    # Without the slash it is the same prefix, and not `kostecki-parts2/`.
    assert tables.source_fingerprint(bucket_prefix.rstrip("/")) == fingerprint
    preflight.check_table(_arguments(bucket_prefix))
    with pytest.raises(UsageError, match=f"{bucket_prefix}: label column 'migraine' not found"):
        preflight.check_table(_arguments(bucket_prefix, label_column="migraine"))


def test_a_cloud_storage_prefix_rewritten_after_its_fingerprint_is_refused(bucket_prefix, tmp_path):
    from google.cloud import storage

    before = tables.source_fingerprint(bucket_prefix)
    blob = storage.Client().bucket(BUCKET).blob(f"{PREFIX}/{PARTS[0]}")
    blob.upload_from_string(blob.download_as_bytes())  # same bytes, a new generation
    with pytest.raises(InvalidInputError, match="a file was added, removed, renamed or rewritten"):
        load_dataset.run(data_uri=bucket_prefix, data_fingerprint=before, dataset_path=str(tmp_path / "d.parquet"))


@pytest.mark.parametrize(("uri", "message"), [
    (f"gs://{BUCKET}/nothing-here/", "the prefix is empty"),
    ("gs://no-such-bucket/data/", "no such bucket 'no-such-bucket'"),
])
def test_an_unusable_prefix_is_named(gcs, uri, message):
    with pytest.raises(InvalidInputError, match=f"{uri}: {message}"):
        tables.source_fingerprint(uri)


def test_the_dask_load_reads_a_cloud_storage_prefix_through_gcsfs(bucket_prefix, tmp_path, kostecki, client):
    _, rows = parquet.load(bucket_prefix, str(tmp_path / "dask"))
    assert rows == len(kostecki)
    pd.testing.assert_frame_equal(_rows(pd.read_parquet(tmp_path / "dask")), _rows(kostecki), check_column_type=False)
