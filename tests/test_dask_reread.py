"""A split (or loaded dataset) partition read again after its worker is lost is held to the content verified.

Found at 40M rows on 2 GB workers: both workers were restarted by their nannies in
evaluate-model, and Dask read the lost partitions of the verified splits again from their
files; the run went on. Had a file changed since the split was verified, the stage would have
used the new content unchecked. Here real worker processes (with nannies, as `LocalCluster`
starts them), a split file rewritten during the "run", and the workers restarted.
"""

from __future__ import annotations

import re
from pathlib import Path

import dask.dataframe as dd
import pandas as pd
import pytest
from conftest import KOSTECKI_SPEC

from sealtrain.components.core import lineage, schema, splitting
from sealtrain.components.core.constants import META_FINGERPRINT, TRAIN
from sealtrain.components.core.distributed import cluster, parquet
from sealtrain.components.core.distributed.fingerprints import frame_fingerprint
from sealtrain.components.core.errors import DataLeakageError


@pytest.fixture(scope="module")
def workers():
    with cluster.dask_client(workers=2, threads_per_worker=1, processes=True) as client:
        yield client


@pytest.fixture
def written(kostecki, tmp_path, workers):
    """The train split of KosteckiDillon as partitioned Parquet, and a manifest that fingerprints it."""
    train = splitting.split_table(schema.prepare(kostecki, KOSTECKI_SPEC, "KosteckiDillon")).tables[TRAIN]
    path = str(tmp_path / "train")
    parquet.write_parquet({path: dd.from_pandas(train, npartitions=4)})
    content = frame_fingerprint(parquet.read_parquet(path))
    return path, lineage.Manifest("m", {"splits": {TRAIN: {"fingerprint": content}}})


@pytest.fixture
def loaded(kostecki, tmp_path, workers):
    """KosteckiDillon as load_dataset writes it for the Dask engine, and that stage's metadata."""
    path = str(tmp_path / "dataset")
    parquet.write_parquet({path: dd.from_pandas(kostecki, npartitions=4)})
    return path, {META_FINGERPRINT: frame_fingerprint(parquet.read_parquet(path))}


def _rewrite_one_file(path: str, column: str = "__label__") -> None:
    """Partition 1's file with one value x of a numeric column made 1 - x: the same schema and size, other content."""
    target = Path(path) / "part.1.parquet"
    frame = pd.read_parquet(target)
    frame.loc[frame.index[0], column] = 1 - frame[column].iloc[0]
    frame.to_parquet(target, index=False)


def _lose_the_partitions(client) -> None:
    # The scheduler's own list: the client's copy still names the workers of a previous restart.
    client.restart_workers(client.run_on_scheduler(lambda dask_scheduler: sorted(dask_scheduler.workers)))


def _swap_two_files(path: str) -> None:
    """Partitions 0 and 1 trade files: every row still there, in another order."""
    first, second = Path(path) / "part.0.parquet", Path(path) / "part.1.parquet"
    first.rename(Path(path) / "swap")
    second.rename(first)
    (Path(path) / "swap").rename(second)


@pytest.mark.parametrize("change", ["one value", "two files swapped", "unchanged"])
def test_a_partition_read_again_after_a_lost_worker_is_held_to_the_content_verified(written, workers, change):
    path, manifest = written
    train = lineage.read_split(path, TRAIN, "evaluate_model", manifest, "dask")
    expected = train.compute()
    if change != "unchanged":
        if change == "one value":
            _rewrite_one_file(path)
        else:
            _swap_two_files(path)
        # In memory: the verified content, whatever the files now hold.
        pd.testing.assert_frame_equal(train.compute(), expected)
    _lose_the_partitions(workers)
    if change != "unchanged":
        with pytest.raises(DataLeakageError, match=rf"evaluate_model: the train input {re.escape(path)}: partition "
                           "[01] was read again"):
            train.compute()
    else:
        pd.testing.assert_frame_equal(train.compute(), expected)


@pytest.mark.parametrize("when", ["before the read", "after the read"])
def test_the_loaded_dataset_is_held_to_what_load_dataset_wrote(loaded, workers, when):
    """The split and QC stages' input: refused when it changed since load_dataset, and when read again."""
    path, metadata = loaded
    if when == "before the read":
        _rewrite_one_file(path, "dos")
        with pytest.raises(DataLeakageError, match=rf"split_dataset: the dataset input {re.escape(path)} has "
                           "fingerprint .*: it changed after it was loaded"):
            lineage.read_loaded(path, metadata, "split_dataset", "dask")
        return
    dataset = lineage.read_loaded(path, metadata, "split_dataset", "dask")
    _rewrite_one_file(path, "dos")
    _lose_the_partitions(workers)
    with pytest.raises(DataLeakageError, match=rf"split_dataset: the dataset input {re.escape(path)}: partition 1 "
                       "was read again"):
        dataset.compute()


def test_a_plain_persisted_read_would_take_the_rewritten_file(written, workers):
    """Why the check is needed: without it the lost partition comes back with the new content."""
    path, _ = written
    plain = parquet.read_parquet(path)
    before = plain.compute()
    _rewrite_one_file(path)
    _lose_the_partitions(workers)
    assert plain["__label__"].sum().compute() != before["__label__"].sum()
