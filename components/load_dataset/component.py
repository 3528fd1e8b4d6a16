"""KFP component: read the input table into a Parquet artifact."""

from kfp import dsl
from kfp.dsl import Dataset, Output

from sealtrain.components.runtime import DEFAULT_IMAGE


@dsl.component(base_image=DEFAULT_IMAGE, install_kfp_package=False)
def load_dataset(data_uri: str, data_fingerprint: str, dataset: Output[Dataset], engine: str = "pandas",
                 dask_scheduler: str = "", dask_workers: int = 0):
    """Reads a CSV/TSV/Parquet table and writes it as Parquet.

    Args:
        data_uri: Path or `gs://` URI of the input table.
        data_fingerprint: The source's fingerprint (a file's SHA-256; a `gs://` object's
            generation and MD5), or empty. When given, the source must still match it; it
            also keys the step cache, so changed data never reuses a stale result.
        engine: "pandas" or "dask" (the stage's work on a Dask cluster).
        dask_scheduler: With dask, a running scheduler's address; empty starts a cluster for the task
            (`engines.dask_session`).
        dask_workers: With dask and no scheduler, the task's cluster's workers; 0 sizes a
            LocalCluster to the machine.
        dataset: The table as Parquet, with its fingerprint and row count in metadata.
    """
    from sealtrain.components.core.locations import table_location
    from sealtrain.components.core.stages import stamp
    from sealtrain.components.core.stages.load_dataset import run

    result = run(data_uri=data_uri, data_fingerprint=data_fingerprint,
                 dataset_path=table_location(dataset.uri, dataset.path, engine),
                 engine=engine, dask_scheduler=dask_scheduler, dask_workers=dask_workers)
    stamp(result, dataset=dataset)
