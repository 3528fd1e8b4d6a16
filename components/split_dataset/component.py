"""KFP component: the group-aware split into train, validation, test and holdout."""

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Output

from sealtrain.components.runtime import RUNTIME_IMAGE


@dsl.component(base_image=RUNTIME_IMAGE, install_kfp_package=False)
def split_dataset(
    dataset: Input[Dataset],
    qc_status: str,
    label_column: str,
    positive_class: str,
    group_column: str,
    drop_columns: list,
    time_column: str,
    split_ratios: list,
    split_salt: str,
    split_tolerance: float,
    stratify: bool,
    fail_on_duplicates: bool,
    train: Output[Dataset],
    validation: Output[Dataset],
    test: Output[Dataset],
    holdout: Output[Dataset],
    split_manifest: Output[Artifact],
):
    """Splits 60/20/15/5 by group, verifies the result and records it in a manifest.

    Args:
        dataset: The loaded table.
        qc_status: The QC gate's verdict; anything but PASSED or WARNING is refused.
        label_column: The binary target.
        positive_class: The positive label value, or empty for 0/1 labels.
        group_column: The patient/group id; empty makes each distinct row its own group.
        drop_columns: Columns that are not features.
        time_column: A date/number column for a time-ordered split (later periods go to
            test and holdout), or empty for the hash split. Never a feature.
        split_ratios: Shares of rows of train, validation, test and holdout, in that order;
            empty means 0.60/0.20/0.15/0.05.
        split_salt: Salt of the group hash; keep it to keep every patient's split.
        split_tolerance: Allowed deviation of each split's row share.
        stratify: Give every split its share of patients with a positive label.
        fail_on_duplicates: Fail when identical feature rows land in two splits.
        train: Train split (Parquet, role `train`).
        validation: Validation split (role `validation`).
        test: Test split (role `test`), for the evaluation component only.
        holdout: Holdout split (role `holdout`), read by no training task.
        split_manifest: Per-split rows, groups, positive rate and fingerprints (JSON).
    """
    import json
    from pathlib import Path

    from sealtrain.components.core import quality, schema, splitting, tables
    from sealtrain.components.core.constants import (
        DEFAULT_RATIOS,
        META_FINGERPRINT,
        META_MANIFEST_FINGERPRINT,
        META_ROLE,
        META_ROWS,
        QC_FAILED,
        SPLITS,
    )

    quality.gate(quality.QCReport(status=qc_status if qc_status else QC_FAILED, overall_score=float("nan")))
    spec = schema.DatasetSpec(label_column, positive_class, group_column, tuple(drop_columns), time_column)
    raw = tables.read_parquet(dataset.path)
    prepared = schema.prepare(raw, spec, dataset.metadata.get("source", dataset.uri))
    times = schema.time_order(raw, spec) if time_column else None
    ratios = dict(zip(SPLITS, split_ratios)) if split_ratios else DEFAULT_RATIOS
    result = splitting.split_table(prepared, ratios, split_tolerance, split_salt,
                                   fail_on_duplicates, stratify, times)
    outputs = {"train": train, "validation": validation, "test": test, "holdout": holdout}
    manifest = result.manifest
    manifest["dataset"] = {
        "source": dataset.metadata.get("source", dataset.uri),
        "label_column": label_column,
        "positive_class": schema.positive_label(raw[label_column], spec),
        "group_column": group_column,
        "drop_columns": list(drop_columns),
        "time_column": time_column,
        "feature_columns": spec.feature_columns(raw),
        "feature_dtypes": {name: str(raw[name].dtype) for name in spec.feature_columns(raw)},
    }
    for name, artifact in outputs.items():
        tables.write_parquet(result.tables[name], artifact.path)
        entry = manifest["splits"][name]
        entry["uri"] = artifact.uri
        artifact.metadata.update({
            META_ROLE: name,
            META_FINGERPRINT: entry["fingerprint"],
            META_MANIFEST_FINGERPRINT: manifest["fingerprint"],
            META_ROWS: float(entry["rows"]),
        })
        print(f"[sealtrain] {name}: {entry['rows']} rows, {entry['groups']} groups, positive rate {entry['positive_rate']:.3f}")
    Path(split_manifest.path).write_text(json.dumps(manifest, indent=2))
    split_manifest.metadata[META_MANIFEST_FINGERPRINT] = manifest["fingerprint"]
