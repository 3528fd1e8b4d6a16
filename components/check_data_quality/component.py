"""KFP component: the data-quality report, computed or handed over from upstream."""

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Output

from sealtrain.components.runtime import RUNTIME_IMAGE


@dsl.component(base_image=RUNTIME_IMAGE, install_kfp_package=False)
def check_data_quality(
    dataset: Input[Dataset],
    label_column: str,
    positive_class: str,
    group_column: str,
    drop_columns: list,
    time_column: str,
    upstream_report: str,
    qc_report: Output[Artifact],
):
    """Writes the QC report that the gate reads.

    Args:
        dataset: The loaded table.
        label_column: The binary target.
        positive_class: The positive label value, or empty to infer it for 0/1 labels.
        group_column: The patient/group id column, or empty.
        drop_columns: Columns that are not features.
        time_column: The column of a time-ordered split, or empty.
        upstream_report: A QC report (JSON) from an upstream data-quality step; when empty
            the report is computed here.
        qc_report: The report (JSON), with `status` and `overall_score` in metadata.
    """
    from pathlib import Path

    from sealtrain.components.core import quality, schema, tables

    if upstream_report:
        report = quality.parse_report(upstream_report, "upstream QC report")
    else:
        spec = schema.DatasetSpec(label_column, positive_class, group_column, tuple(drop_columns), time_column)
        report = quality.compute_report(tables.read_parquet(dataset.path), spec)
    Path(qc_report.path).write_text(report.to_json())
    qc_report.metadata.update({"status": report.status, "overall_score": report.overall_score})
    for check in report.problems:
        print(f"[sealtrain] QC {check.status}: {check.name}: {check.detail}")
