"""KFP component: read the input table into a Parquet artifact."""

from kfp import dsl
from kfp.dsl import Dataset, Output

from sealtrain.components.runtime import RUNTIME_IMAGE


@dsl.component(base_image=RUNTIME_IMAGE, install_kfp_package=False)
def load_dataset(data_uri: str, data_fingerprint: str, dataset: Output[Dataset]):
    """Reads a CSV/TSV/Parquet table and writes it as Parquet.

    Args:
        data_uri: Path or `gs://` URI of the input table.
        data_fingerprint: The source's fingerprint (a file's SHA-256; a `gs://` object's
            generation and MD5), or empty. When given, the source must still match it; it
            also keys the step cache, so changed data never reuses a stale result.
        dataset: The table as Parquet, with its fingerprint and row count in metadata.
    """
    from sealtrain.components.core import tables
    from sealtrain.components.core.constants import META_FINGERPRINT, META_ROWS
    from sealtrain.components.core.errors import InvalidInputError

    if data_fingerprint and tables.source_fingerprint(data_uri) != data_fingerprint:
        raise InvalidInputError(f"{data_uri}: content changed since its fingerprint {data_fingerprint[:12]} was taken")
    frame = tables.read_table(data_uri)
    tables.write_parquet(frame, dataset.path)
    dataset.metadata.update({META_FINGERPRINT: tables.fingerprint(frame), META_ROWS: float(len(frame)), "source": data_uri})
