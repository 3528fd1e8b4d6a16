"""Stage `split_dataset`: the group-aware split into train, validation, test and holdout."""

from __future__ import annotations

import json
from pathlib import Path

from .. import engines, lineage, quality, recording, schema, splitting, tables
from ..constants import (
    DEFAULT_RATIOS,
    HOLDOUT,
    META_FINGERPRINT,
    META_MANIFEST_FINGERPRINT,
    META_ROLE,
    META_ROWS,
    SPLITS,
    TEST,
)
from ..errors import DataLeakageError
from . import StageResult

CONSUMER = "split_dataset"


def run(*, dataset_path: str, dataset_metadata: dict, dataset_uri: str, qc_status: str, label_column: str,
        positive_class: str, group_column: str, no_group: bool, drop_columns: list, time_column: str,
        split_ratios: list, split_salt: str, split_tolerance: float, stratify: bool, max_duplicate_share: float,
        allow_features: list, experiment_id: str, db_url: str, lock_fingerprint: str,
        split_paths: dict[str, str], split_uris: dict[str, str], manifest_path: str,
        group_splits_path: str, engine: str = engines.PANDAS, dask_scheduler: str = "",
        dask_workers: int = 0) -> StageResult:
    """Splits by group under the experiment's holdout lock, verifies the result and records it in a manifest.

    Args:
        dataset_path: The loaded table (Parquet): a local path, or with dask its gs:// URI (`locations.table_location`).
        dataset_metadata: Its artifact metadata (`source` names the original table).
        dataset_uri: Its URI, the source when the metadata names none.
        qc_status: The QC gate's verdict; anything but PASSED or WARNING is refused.
        label_column: The binary target.
        positive_class: The positive label value, or empty for 0/1 labels.
        group_column: The patient/group id; empty makes each distinct row its own group.
        no_group: The user's statement that rows are independent: a repeated identifier warns
            instead of blocking the run.
        drop_columns: Columns that are not features.
        time_column: A column for a time-ordered split, or empty for the hash split.
        split_ratios: Shares of train, validation, test and holdout; empty for the defaults.
        split_salt: Salt of the group hash.
        split_tolerance: Allowed deviation of each split's row share.
        stratify: Give every split its share of groups with a positive label.
        max_duplicate_share: Largest share of a test or holdout split whose feature rows
            re-identify a train patient; above it the split fails.
        allow_features: Features the user vouches for despite separating the label on train.
        experiment_id: The experiment whose holdout lock applies.
        db_url: The run table (or empty for SEALTRAIN_DB_URL), where the lock is read.
        lock_fingerprint: `splitting.lock_fingerprint` of the lock as start_run read it.
        split_paths: Where each split's Parquet file goes, by split name: local paths, or with dask the
            splits' gs:// URIs, which the workers write (`locations.table_location`).
        split_uris: Each split's artifact URI, recorded in the manifest.
        manifest_path: Where the split manifest (JSON) goes.
        group_splits_path: Where every group's salted hash and split (Parquet) goes.
        engine: "pandas" (in this process) or "dask" (`engines`).
        dask_scheduler: With dask, a running scheduler's address; empty starts a cluster for the task
            (`engines.dask_session`).
        dask_workers: With dask and no scheduler, the task's cluster's workers; 0 sizes a
            LocalCluster to the machine.

    Returns:
        Metadata of every split (role, content fingerprint, rows, the manifest fingerprint
        and what it hashes) and of `split_manifest`, a line per split and one for the lock,
        and as `value` the test split's content fingerprint.

    Raises:
        QCGateBlockedError: The QC status does not allow training.
        DataLeakageError: The lock changed since the run started (another run of the
            experiment completed meanwhile), or the dataset is not the one load_dataset wrote
            (`lineage.read_loaded`).
        InvalidInputError, SplitRatioViolationError, DataLeakageError: The split cannot be
            made or fails its verification.
    """
    quality.require_trainable(qc_status)
    engines.check_engine(engine)
    locked = recording.holdout_lock(db_url=db_url, experiment_id=experiment_id, split_salt=split_salt,
                                    group_column=group_column)
    if recording.lock_fingerprint(locked) != lock_fingerprint:
        raise DataLeakageError(
            f"experiment {experiment_id!r}'s holdout lock changed since this run started (another run of the "
            f"experiment completed meanwhile, locking its holdout): {len(locked)} groups, fingerprint "
            f"{recording.lock_fingerprint(locked)[:12]} instead of {lock_fingerprint[:12]}; rerun to split under the "
            "lock as it is now"
        )
    spec = schema.DatasetSpec(label_column, positive_class, group_column, tuple(drop_columns), time_column, no_group)
    source = dataset_metadata.get("source", dataset_uri)
    ratios = dict(zip(SPLITS, split_ratios)) if split_ratios else DEFAULT_RATIOS
    if engine == engines.DASK:
        written = _dask_split(dataset_path, dataset_metadata, spec, source, split_paths, dask_scheduler, dask_workers,
                              ratios=ratios, tolerance=split_tolerance, salt=split_salt, stratify=stratify,
                              max_duplicate_share=max_duplicate_share, allow_features=tuple(allow_features),
                              locked=locked)
        manifest, groups, raw = written.manifest, written.groups, written.raw_meta
        positive, features = written.positive, written.features
    else:
        raw = lineage.read_loaded(dataset_path, dataset_metadata, CONSUMER)
        prepared = schema.prepare(raw, spec, source)
        times = schema.time_order(raw, spec) if time_column else None
        result = splitting.split_table(prepared, ratios, split_tolerance, split_salt,
                                       stratify=stratify, times=times, max_duplicate_share=max_duplicate_share,
                                       allow_features=tuple(allow_features), locked=locked)
        manifest, groups = result.manifest, result.groups
        positive, features = schema.positive_label(raw[label_column], spec), spec.feature_columns(raw)
        for name in SPLITS:
            tables.write_parquet(result.tables[name], split_paths[name])
    manifest["engine"], manifest["fingerprint_function"] = engine, engines.FINGERPRINT_FUNCTIONS[engine]
    manifest["dataset"] = {
        "source": source,
        "label_column": label_column,
        "positive_class": positive,
        "group_column": group_column,
        "no_group": no_group,
        "drop_columns": list(drop_columns),
        "time_column": time_column,
        "feature_columns": features,
        "feature_dtypes": {name: str(raw[name].dtype) for name in features},
    }
    stage = StageResult(metadata={"split_manifest": {META_MANIFEST_FINGERPRINT: manifest["fingerprint"]}})
    descent = lineage.Manifest(manifest["fingerprint"], lineage.manifest_core(manifest)).stamp()
    for name in SPLITS:
        entry = manifest["splits"][name]
        entry["uri"] = split_uris[name]
        stage.metadata[name] = {
            META_ROLE: name,
            META_FINGERPRINT: entry["fingerprint"],
            META_ROWS: float(entry["rows"]),
            **descent,
        }
        stage.lines.append(f"{name}: {entry['rows']} rows, {entry['groups']} groups, "
                           f"positive rate {entry['positive_rate']:.3f}")
    lock = manifest["holdout_lock"]
    lock["fingerprint"] = lock_fingerprint
    stage.lines.append(f"{HOLDOUT}: {lock['locked_groups']} groups locked by earlier runs of the experiment "
                       f"({lock['lock_size']} in its lock), {lock['new_groups']} new")
    tables.write_parquet(groups, group_splits_path)
    Path(manifest_path).write_text(json.dumps(manifest, indent=2))
    stage.value = manifest["splits"][TEST]["fingerprint"]
    return stage


def _dask_split(dataset_path: str, dataset_metadata: dict, spec: schema.DatasetSpec, source: str,
                split_paths: dict[str, str], scheduler: str, workers: int, **options):
    """`distributed.split.write_splits` of the verified dataset, in this task's Dask session."""
    from ..distributed import split

    with engines.dask_session(scheduler, workers):
        raw = lineage.read_loaded(dataset_path, dataset_metadata, CONSUMER, engines.DASK)
        return split.write_splits(raw, spec, source, split_paths, **options)
