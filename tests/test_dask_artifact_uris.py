"""The Dask stages read and write the big tables at the artifacts' gs:// URIs, not at their local paths.

On a cluster the Dask workers run in other pods than the task, which keeps its artifacts as
files at `.path` in its own pod; the workers reach an artifact only at its URI in a `gs://`
pipeline root (`locations.table_location`). Here the real stage functions (no KFP) load
KosteckiDillon from the real Cloud Storage emulator (`gcs` in conftest, which gcsfs reaches
through STORAGE_EMULATOR_HOST), split it, and fit the preprocessor from the train split, each
big table at a gs:// URI while the task's small files (manifest, group splits, preprocessor)
stay at local paths; and the runtime guard, recomputing the fingerprint from what it reads at
a URI, refuses the test split handed over as train. The workers are two threads of this
process, so they see the emulator's environment as a worker pod sees its credentials.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import kostecki_split

from sealtrain.components.core import engines
from sealtrain.components.core.constants import (
    META_FINGERPRINT,
    META_ROLE,
    META_TRAIN_FINGERPRINT,
    SPLITS,
    TEST,
    TRAIN,
)
from sealtrain.components.core.distributed import cluster
from sealtrain.components.core.errors import DataLeakageError
from sealtrain.components.core.locations import table_location
from sealtrain.components.core.stages import fit_preprocessor, load_dataset, split_dataset

BUCKET = "sealtrain-data"
SOURCE = f"gs://{BUCKET}/kostecki.csv"  # put there by the `gcs` fixture
# Where a KFP run with pipeline root gs://sealtrain-data/root keeps its artifacts.
ROOT = f"gs://{BUCKET}/root/run-1"
SPLIT = kostecki_split("uris")


@dataclass
class Artifact:
    """What a KFP task sees of an artifact: its URI in the pipeline root and its file in the pod."""

    uri: str
    path: str

    @property
    def location(self) -> str:
        return table_location(self.uri, self.path, engines.DASK)


@dataclass
class Run:
    """The load and split stages' artifacts and results, and the Dask scheduler they ran on."""

    local: Path
    scheduler: str
    dataset: Artifact
    splits: dict[str, Artifact]
    metadata: dict[str, dict]


def _artifact(local: Path, task: str, name: str) -> Artifact:
    return Artifact(uri=f"{ROOT}/{task}/{name}", path=str(local / task / name))


@pytest.fixture(scope="module")
def run(gcs, tmp_path_factory) -> Run:
    """load_dataset -> split_dataset with engine dask, every big table at a gs:// URI."""
    local = tmp_path_factory.mktemp("pod")
    dataset = _artifact(local, "load-dataset", "dataset")
    splits = {name: _artifact(local, "split-dataset", name) for name in SPLITS}
    with cluster.dask_client(workers=2, threads_per_worker=1, processes=False) as client:
        scheduler = client.scheduler.address
        loaded = load_dataset.run(data_uri=SOURCE, data_fingerprint="", dataset_path=dataset.location,
                                  engine=engines.DASK, dask_scheduler=scheduler)
        (local / "split-dataset").mkdir()
        result = split_dataset.run(
            dataset_path=dataset.location, dataset_metadata=loaded.metadata["dataset"], dataset_uri=dataset.uri,
            **SPLIT, db_url=f"sqlite:///{local / 'runs.db'}",
            split_paths={name: a.location for name, a in splits.items()},
            split_uris={name: a.uri for name, a in splits.items()},
            manifest_path=str(local / "split-dataset" / "split_manifest"),
            group_splits_path=str(local / "split-dataset" / "group_splits"),
            engine=engines.DASK, dask_scheduler=scheduler)
        yield Run(local, scheduler, dataset, splits, {**loaded.metadata, **result.metadata})


def _objects(uri: str) -> list[str]:
    from google.cloud import storage

    prefix = uri.removeprefix(f"gs://{BUCKET}/") + "/"
    return [blob.name.removeprefix(prefix) for blob in storage.Client().list_blobs(BUCKET, prefix=prefix)]


def test_only_a_dask_run_with_a_gs_uri_moves_its_tables_to_the_uri():
    assert table_location("gs://b/root/t/train", "/gcs/b/root/t/train", engines.DASK) == "gs://b/root/t/train"
    assert table_location("gs://b/root/t/train", "/tmp/t/train", engines.PANDAS) == "/tmp/t/train"
    # kfp.local: the URI is the local file itself, which a LocalCluster's workers share.
    assert table_location("/out/local_outputs/t/train", "/out/local_outputs/t/train", engines.DASK) \
        == "/out/local_outputs/t/train"
    assert table_location("minio://mlpipeline/t/train", "/minio/mlpipeline/t/train", engines.DASK) \
        == "/minio/mlpipeline/t/train"


def test_the_dataset_and_the_splits_are_written_to_the_bucket_and_not_to_the_pod(run):
    dataset_parts = _objects(run.dataset.uri)
    assert dataset_parts and all(name.endswith(".parquet") for name in dataset_parts)
    manifest_rows = 0
    for name, artifact in run.splits.items():
        parts = _objects(artifact.uri)
        assert parts and all(part.endswith(".parquet") for part in parts), (name, parts)
        manifest_rows += run.metadata[name]["rows"]
    assert manifest_rows == run.metadata["dataset"]["rows"]
    # The pod holds only the task's small files: no table at any artifact's local path.
    for artifact in (run.dataset, *run.splits.values()):
        assert not Path(artifact.path).exists(), artifact.path
    written = sorted(str(p.relative_to(run.local)) for p in run.local.rglob("*") if p.is_file())
    assert [p for p in written if p.endswith(".parquet") and "group_splits" not in p] == []
    assert (run.local / "split-dataset" / "split_manifest").is_file()


def test_a_reader_verifies_the_split_it_reads_at_its_uri(run):
    result = fit_preprocessor.run(train_path=run.splits[TRAIN].location, train_metadata=run.metadata[TRAIN],
                                  preprocessor_path=str(run.local / "preprocessor"), engine=engines.DASK,
                                  dask_scheduler=run.scheduler)
    assert result.metadata["preprocessor"][META_TRAIN_FINGERPRINT] == run.metadata[TRAIN][META_FINGERPRINT]


def test_the_test_split_relabelled_as_train_at_its_uri_is_refused_by_content(run):
    relabelled = {**run.metadata[TEST], META_ROLE: TRAIN}
    test_content, train_content = run.metadata[TEST][META_FINGERPRINT], run.metadata[TRAIN][META_FINGERPRINT]
    with pytest.raises(DataLeakageError, match=rf"content has fingerprint {test_content} \(the test split of that "
                                               rf"manifest\), .* fingerprints the train split as {train_content}"):
        fit_preprocessor.run(train_path=run.splits[TEST].location, train_metadata=relabelled,
                             preprocessor_path=str(run.local / "forged"), engine=engines.DASK,
                             dask_scheduler=run.scheduler)
    assert not (run.local / "forged").exists()


def test_the_test_split_copied_to_another_uri_is_refused_as_train(run):
    import fsspec

    fs = fsspec.filesystem("gs")
    forged = f"{ROOT}/forger/train"
    for part in _objects(run.splits[TEST].uri):
        fs.pipe(f"{forged}/{part}", fs.cat(f"{run.splits[TEST].uri}/{part}"))
    with pytest.raises(DataLeakageError, match=f"content has fingerprint {run.metadata[TEST][META_FINGERPRINT]}"):
        fit_preprocessor.run(train_path=forged, train_metadata=run.metadata[TRAIN],
                             preprocessor_path=str(run.local / "forged-copy"), engine=engines.DASK,
                             dask_scheduler=run.scheduler)
