"""Stage `rebuild_holdout`: a training run's holdout, rebuilt from its data and its locked groups."""

from __future__ import annotations

import json
from pathlib import Path

from .. import holdout_validation, lineage, run_store, split_ledger, splitting, tables
from ..constants import HOLDOUT, META_FINGERPRINT, META_MANIFEST_FINGERPRINT, META_ROLE, META_ROWS
from ..endpoints import DB_URL_ENV, resolve
from ..errors import DataLeakageError
from . import StageResult


def run(*, dataset_path: str, dataset_metadata: dict, manifest_path: str, manifest_metadata: dict, db_url: str,
        holdout_path: str) -> StageResult:
    """Writes the run's holdout: the rows of the data whose group the run locked, checked by content.

    Args:
        dataset_path: The loaded table (Parquet).
        dataset_metadata: Its artifact metadata (`source` names the original table).
        manifest_path: The training run's split manifest, from the holdout gate.
        manifest_metadata: Its artifact metadata: the manifest fingerprint, the run and experiment.
        db_url: The run store (or empty for SEALTRAIN_DB_URL), which holds the run's holdout groups.
        holdout_path: Where the holdout (Parquet) goes.

    Returns:
        Metadata of `holdout`: role, content fingerprint, rows and the manifest's lineage, as
        `split_dataset` stamps a split; and a line.

    Raises:
        DataLeakageError: The manifest is not the one the gate passed on.
        HoldoutAccessError: The data is not the run's (by fingerprint), or the run locked no
            groups, or the rows of its groups are not its holdout.
    """
    manifest = json.loads(Path(manifest_path).read_text())
    claimed = manifest_metadata.get(META_MANIFEST_FINGERPRINT)
    if splitting.manifest_fingerprint(manifest) != claimed or manifest.get("fingerprint") != claimed:
        raise DataLeakageError(f"rebuild_holdout: the split manifest does not hash to the fingerprint {claimed} the "
                               "holdout gate gave it: it was altered")
    experiment, training_run = manifest_metadata["experiment_id"], manifest_metadata["training_run_id"]
    groups = run_store.with_database(resolve(db_url, DB_URL_ENV, "run_db_url"),
                                     lambda engine: split_ledger.run_holdout(engine, experiment, training_run))
    source = dataset_metadata.get("source", dataset_path)
    holdout = holdout_validation.rebuild(tables.read_parquet(dataset_path), manifest, groups, source, training_run)
    tables.write_parquet(holdout, holdout_path)
    entry = manifest["splits"][HOLDOUT]
    descent = lineage.Manifest(claimed, lineage.manifest_core(manifest)).stamp()
    return StageResult(
        metadata={HOLDOUT: {META_ROLE: HOLDOUT, META_FINGERPRINT: entry["fingerprint"],
                            META_ROWS: float(len(holdout)), **descent}},
        lines=[f"holdout of run {training_run}: {len(holdout)} rows, {entry['groups']} groups, content "
               f"{entry['fingerprint'][:12]} as recorded"],
    )
