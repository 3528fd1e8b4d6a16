"""Stage `split_dataset`: the group-aware split into train, validation, test and holdout."""

from __future__ import annotations

import json
from pathlib import Path

from .. import lineage, quality, schema, splitting, tables
from ..constants import DEFAULT_RATIOS, META_FINGERPRINT, META_MANIFEST_FINGERPRINT, META_ROLE, META_ROWS, SPLITS
from . import StageResult


def run(*, dataset_path: str, dataset_metadata: dict, dataset_uri: str, qc_status: str, label_column: str,
        positive_class: str, group_column: str, no_group: bool, drop_columns: list, time_column: str,
        split_ratios: list, split_salt: str, split_tolerance: float, stratify: bool, max_duplicate_share: float,
        allow_features: list,
        split_paths: dict[str, str], split_uris: dict[str, str], manifest_path: str) -> StageResult:
    """Splits by group, verifies the result and records it in a manifest.

    Args:
        dataset_path: The loaded table (Parquet).
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
        split_paths: Where each split's Parquet file goes, by split name.
        split_uris: Each split's artifact URI, recorded in the manifest.
        manifest_path: Where the split manifest (JSON) goes.

    Returns:
        Metadata of every split (role, content fingerprint, rows, the manifest fingerprint
        and what it hashes) and of `split_manifest`, and a line per split.

    Raises:
        QCGateBlockedError: The QC status does not allow training.
        InvalidInputError, SplitRatioViolationError, DataLeakageError: The split cannot be
            made or fails its verification.
    """
    quality.require_trainable(qc_status)
    spec = schema.DatasetSpec(label_column, positive_class, group_column, tuple(drop_columns), time_column, no_group)
    source = dataset_metadata.get("source", dataset_uri)
    raw = tables.read_parquet(dataset_path)
    prepared = schema.prepare(raw, spec, source)
    times = schema.time_order(raw, spec) if time_column else None
    ratios = dict(zip(SPLITS, split_ratios)) if split_ratios else DEFAULT_RATIOS
    result = splitting.split_table(prepared, ratios, split_tolerance, split_salt,
                                   stratify=stratify, times=times, max_duplicate_share=max_duplicate_share,
                                   allow_features=tuple(allow_features))
    manifest = result.manifest
    features = spec.feature_columns(raw)
    manifest["dataset"] = {
        "source": source,
        "label_column": label_column,
        "positive_class": schema.positive_label(raw[label_column], spec),
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
        tables.write_parquet(result.tables[name], split_paths[name])
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
    Path(manifest_path).write_text(json.dumps(manifest, indent=2))
    return stage
