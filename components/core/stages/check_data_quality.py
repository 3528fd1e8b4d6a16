"""Stage `check_data_quality`: the QC report the gate reads."""

from __future__ import annotations

from pathlib import Path

from .. import engines, lineage, quality, schema
from . import StageResult

CONSUMER = "check_data_quality"


def run(*, dataset_path: str, dataset_metadata: dict, label_column: str, positive_class: str, group_column: str,
        no_group: bool, drop_columns: list, time_column: str, upstream_report: str, qc_report_path: str,
        engine: str = engines.PANDAS, dask_scheduler: str = "", dask_workers: int = 0) -> StageResult:
    """Checks the loaded table against the dataset contract, or takes an upstream report.

    Args:
        dataset_path: The loaded table (Parquet): a local path, or with dask its gs:// URI (`locations.table_location`).
        dataset_metadata: Its artifact metadata, whose fingerprint the table read must have.
        label_column: The binary target.
        positive_class: The positive label value, or empty for 0/1 labels.
        group_column: The patient/group id column, or empty.
        no_group: The user's statement that rows are independent: a repeated identifier warns
            instead of failing QC.
        drop_columns: Columns that are not features.
        time_column: The column of a time-ordered split, or empty.
        upstream_report: A QC report (JSON) from an upstream step; when empty it is computed.
        qc_report_path: Where the report (JSON) goes.
        engine: "pandas" (in this process) or "dask" (`engines`).
        dask_scheduler: With dask, a running scheduler's address; empty starts a cluster for the task
            (`engines.dask_session`).
        dask_workers: With dask and no scheduler, the task's cluster's workers; 0 sizes a
            LocalCluster to the machine.

    Returns:
        Metadata of `qc_report` (status and score), and a line per check that did not pass.

    Raises:
        InvalidInputError: The upstream report is not a valid report.
        DataLeakageError: The table read is not the one load_dataset wrote (`lineage.read_loaded`).
    """
    if upstream_report:
        report = quality.parse_report(upstream_report, "upstream QC report")
    else:
        spec = schema.DatasetSpec(label_column, positive_class, group_column, tuple(drop_columns), time_column,
                                  no_group)
        if engines.check_engine(engine) == engines.DASK:
            from ..distributed.quality import compute_report

            with engines.dask_session(dask_scheduler, dask_workers):
                report = compute_report(lineage.read_loaded(dataset_path, dataset_metadata, CONSUMER, engine), spec)
        else:
            report = quality.compute_report(lineage.read_loaded(dataset_path, dataset_metadata, CONSUMER), spec)
    Path(qc_report_path).write_text(report.to_json())
    return StageResult(
        metadata={"qc_report": {"status": report.status, "overall_score": report.overall_score}},
        lines=[f"QC {check.status}: {check.name}: {check.detail}" for check in report.problems],
    )
