"""KFP component: a training run's holdout, rebuilt from its data and the groups it locked."""

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Output

from sealtrain.components.runtime import DEFAULT_IMAGE


@dsl.component(base_image=DEFAULT_IMAGE, install_kfp_package=False)
def rebuild_holdout(
    dataset: Input[Dataset],
    split_manifest: Input[Artifact],
    run_db_url: str,
    holdout: Output[Dataset],
):
    """Writes the run's holdout: the rows whose salted group hash the run locked in the run store.

    The split manifest comes from the holdout gate, so nothing is rebuilt before the gate passed.

    Args:
        dataset: The loaded table; it must be the data the run was trained on (by fingerprint).
        split_manifest: The training run's split manifest, from the holdout gate.
        run_db_url: Run-store URL, or empty to use SEALTRAIN_DB_URL.
        holdout: The holdout (Parquet, role `holdout`), its content checked against the manifest.
    """
    from sealtrain.components.core.stages import stamp
    from sealtrain.components.core.stages.rebuild_holdout import run

    result = run(dataset_path=dataset.path, dataset_metadata=dataset.metadata, manifest_path=split_manifest.path,
                 manifest_metadata=split_manifest.metadata, db_url=run_db_url, holdout_path=holdout.path)
    stamp(result, holdout=holdout)
