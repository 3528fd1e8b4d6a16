"""KFP component: the data-quality report, computed or handed over from upstream."""

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Output

from sealtrain.components.runtime import DEFAULT_IMAGE


@dsl.component(base_image=DEFAULT_IMAGE, install_kfp_package=False)
def check_data_quality(
    dataset: Input[Dataset],
    label_column: str,
    positive_class: str,
    group_column: str,
    no_group: bool,
    drop_columns: list,
    time_column: str,
    upstream_report: str,
    qc_report: Output[Artifact],
    engine: str = "pandas",
    dask_scheduler: str = "",
    dask_workers: int = 0,
):
    """Writes the QC report that the gate reads.

    Args:
        dataset: The loaded table.
        label_column: The binary target.
        positive_class: The positive label value, or empty to infer it for 0/1 labels.
        group_column: The patient/group id column, or empty.
        no_group: The user's statement that rows are independent: a repeated identifier
            column warns instead of failing QC.
        drop_columns: Columns that are not features.
        time_column: The column of a time-ordered split, or empty.
        upstream_report: A QC report (JSON) from an upstream data-quality step; when empty
            the report is computed here.
        engine: "pandas" or "dask" (the stage's work on a Dask cluster).
        dask_scheduler: With dask, a running scheduler's address; empty starts a cluster for the task
            (`engines.dask_session`).
        dask_workers: With dask and no scheduler, the task's cluster's workers; 0 sizes a
            LocalCluster to the machine.
        qc_report: The report (JSON), with `status` and `overall_score` in metadata.
    """
    from sealtrain.components.core.locations import table_location
    from sealtrain.components.core.stages import stamp
    from sealtrain.components.core.stages.check_data_quality import run

    result = run(dataset_path=table_location(dataset.uri, dataset.path, engine), dataset_metadata=dataset.metadata,
                 label_column=label_column, positive_class=positive_class,
                 group_column=group_column, no_group=no_group, drop_columns=drop_columns, time_column=time_column,
                 upstream_report=upstream_report, qc_report_path=qc_report.path,
                 engine=engine, dask_scheduler=dask_scheduler, dask_workers=dask_workers)
    stamp(result, qc_report=qc_report)
