import gzip

import pandas as pd
import pytest

from sealtrain.components.core import tables
from sealtrain.components.core.errors import InvalidInputError


def test_reads_csv_gzip_tsv_and_parquet_alike(tmp_path, kostecki):
    kostecki.to_csv(tmp_path / "a.csv", index=False)
    kostecki.to_csv(tmp_path / "a.csv.gz", index=False)
    kostecki.to_csv(tmp_path / "a.tsv", index=False, sep="\t")
    kostecki.to_parquet(tmp_path / "a.parquet", index=False)
    frames = [tables.read_table(str(tmp_path / n)) for n in ("a.csv", "a.csv.gz", "a.tsv", "a.parquet")]
    for frame in frames:
        assert frame.shape == kostecki.shape
        assert tables.fingerprint(frame) == tables.fingerprint(frames[0])


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.csv", b"", "empty"),
        ("blank.csv", b"\n\n", "empty"),
        ("header_only.csv", b"a,b\n", "no rows"),
        ("data.xlsx", b"PK", "unknown table format"),
        ("dup.csv", b"a,b,a\n1,2,3\n", "duplicate column names ['a']"),
        ("dup.csv.gz", gzip.compress(b"x,x\n1,2\n", mtime=0), "duplicate column names ['x']"),
        ("broken.parquet", b"not parquet at all", "not a readable parquet file"),
    ],
)
def test_bad_files_are_refused_by_name(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InvalidInputError) as caught:
        tables.read_table(str(path))
    assert message in str(caught.value)
    assert name in str(caught.value)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(InvalidInputError, match="nope.csv: no such file"):
        tables.read_table(str(tmp_path / "nope.csv"))


def test_fingerprint_ignores_index_but_sees_values(kostecki):
    shuffled_index = kostecki.set_index(kostecki.index + 1000)
    assert tables.fingerprint(shuffled_index) == tables.fingerprint(kostecki)
    changed = kostecki.copy()
    changed.loc[0, "airq"] += 1
    assert tables.fingerprint(changed) != tables.fingerprint(kostecki)


def test_source_fingerprint_changes_with_content(tmp_path):
    path = tmp_path / "x.csv"
    pd.DataFrame({"a": [1]}).to_csv(path, index=False)
    before = tables.source_fingerprint(str(path))
    pd.DataFrame({"a": [2]}).to_csv(path, index=False)
    assert tables.source_fingerprint(str(path)) != before


@pytest.mark.parametrize(("uri", "dataset"), [
    ("gs://b/events/", True),
    ("gs://b/events", True),
    ("gs://b", True),
    ("gs://b/events/part.0.parquet", False),
    ("gs://b/table.csv.gz", False),
])
def test_a_gs_uri_without_a_table_suffix_is_a_prefix(uri, dataset):
    assert tables.is_dataset(uri) is dataset


def test_a_directory_of_one_file_reads_as_that_file(tmp_path, kostecki):
    (tmp_path / "d").mkdir()
    kostecki.to_parquet(tmp_path / "d" / "k.parquet", index=False)
    assert not tables.is_dataset(str(tmp_path / "d" / "k.parquet"))
    assert tables.fingerprint(tables.read_table(str(tmp_path / "d"))) == \
        tables.fingerprint(tables.read_table(str(tmp_path / "d" / "k.parquet")))
    assert tables.source_fingerprint(str(tmp_path / "d")).startswith(tables.DIRECTORY_FINGERPRINT)
