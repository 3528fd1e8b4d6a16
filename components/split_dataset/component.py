"""KFP component: the group-aware split into train, validation, test and holdout."""

from typing import NamedTuple

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Output

from sealtrain.components.runtime import DEFAULT_IMAGE


@dsl.component(base_image=DEFAULT_IMAGE, install_kfp_package=False)
def split_dataset(
    dataset: Input[Dataset],
    qc_status: str,
    label_column: str,
    positive_class: str,
    group_column: str,
    no_group: bool,
    drop_columns: list,
    time_column: str,
    split_ratios: list,
    split_salt: str,
    split_tolerance: float,
    stratify: bool,
    max_duplicate_share: float,
    allow_features: list,
    experiment_id: str,
    run_db_url: str,
    lock_fingerprint: str,
    train: Output[Dataset],
    validation: Output[Dataset],
    test: Output[Dataset],
    holdout: Output[Dataset],
    split_manifest: Output[Artifact],
    group_splits: Output[Dataset],
    engine: str = "pandas",
    dask_scheduler: str = "",
    dask_workers: int = 0,
) -> NamedTuple("SplitOutputs", test_fingerprint=str):
    """Splits 60/20/15/5 by group, keeps the experiment's locked holdout, verifies the result and
    records it in a manifest.

    The lock is read from the run table; its fingerprint, from start_run, is an input, so the
    step's result (and cache key) is a function of its inputs, and a lock that changed since
    the run started (a concurrent run completed) is refused.

    Args:
        dataset: The loaded table.
        qc_status: The QC gate's verdict; anything but PASSED or WARNING is refused.
        label_column: The binary target.
        positive_class: The positive label value, or empty for 0/1 labels.
        group_column: The patient/group id; empty makes each distinct row its own group.
        no_group: The user's statement that rows are independent (no patient has two rows).
        drop_columns: Columns that are not features.
        time_column: A date/number column for a time-ordered split (later periods go to
            test and holdout), or empty for the hash split. Never a feature.
        split_ratios: Shares of rows of train, validation, test and holdout, in that order;
            empty means 0.60/0.20/0.15/0.05.
        split_salt: Salt of the group hash; keep it to keep every patient's split.
        split_tolerance: Allowed deviation of each split's row share.
        stratify: Give every split its share of patients with a positive label.
        max_duplicate_share: Largest share of test or holdout rows that may repeat a train
            patient's feature row; above it the split fails with DataLeakageError.
        allow_features: Features kept although they alone separate the label on train
            (recorded in the manifest).
        experiment_id: The experiment whose holdout lock applies.
        run_db_url: Run-table database URL, or empty to use SEALTRAIN_DB_URL.
        lock_fingerprint: The fingerprint of the lock start_run read.
        engine: "pandas" or "dask" (the stage's work on a Dask cluster).
        dask_scheduler: With dask, a running scheduler's address; empty starts a cluster for the task
            (`engines.dask_session`).
        dask_workers: With dask and no scheduler, the task's cluster's workers; 0 sizes a
            LocalCluster to the machine.
        train: Train split (Parquet, role `train`).
        validation: Validation split (role `validation`).
        test: Test split (role `test`), for the evaluation component only.
        holdout: Holdout split (role `holdout`), read by no training task.
        split_manifest: Per-split rows, groups, positive rate and fingerprints (JSON).
        group_splits: Every group's salted hash and split (Parquet), from which record_run grows
            the lock; no ids, no rows.

    Returns:
        test_fingerprint: The test split's content fingerprint, for the test budget.
    """
    from sealtrain.components.core.locations import table_location
    from sealtrain.components.core.stages import stamp
    from sealtrain.components.core.stages.split_dataset import run

    splits = {"train": train, "validation": validation, "test": test, "holdout": holdout}
    result = run(dataset_path=table_location(dataset.uri, dataset.path, engine), dataset_metadata=dataset.metadata,
                 dataset_uri=dataset.uri,
                 qc_status=qc_status, label_column=label_column, positive_class=positive_class,
                 group_column=group_column, no_group=no_group, drop_columns=drop_columns, time_column=time_column,
                 split_ratios=split_ratios, split_salt=split_salt, split_tolerance=split_tolerance, stratify=stratify,
                 max_duplicate_share=max_duplicate_share, allow_features=allow_features,
                 experiment_id=experiment_id, db_url=run_db_url, lock_fingerprint=lock_fingerprint,
                 split_paths={name: table_location(a.uri, a.path, engine) for name, a in splits.items()},
                 split_uris={name: a.uri for name, a in splits.items()}, manifest_path=split_manifest.path,
                 group_splits_path=group_splits.path,
                 engine=engine, dask_scheduler=dask_scheduler, dask_workers=dask_workers)
    stamp(result, split_manifest=split_manifest, **splits)
    return (result.value,)
