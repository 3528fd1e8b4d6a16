"""KFP component: the holdout gate, which only a production model's first validation passes."""

from typing import NamedTuple

from kfp import dsl
from kfp.dsl import Artifact, Model, Output

from sealtrain.components.runtime import DEFAULT_IMAGE


@dsl.component(base_image=DEFAULT_IMAGE, install_kfp_package=False)
def holdout_gate(
    model_uri: str,
    experiment_id: str,
    data_uri: str,
    force: bool,
    reason: str,
    mlflow_tracking_uri: str,
    run_db_url: str,
    model: Output[Model],
    preprocessor: Output[Model],
    split_manifest: Output[Artifact],
) -> NamedTuple("Outputs", data_uri=str, data_fingerprint=str):
    """Lets a model version's holdout be read only if it is in production and not validated yet.

    It has side effects on nothing, but reads MLflow and the run store as they are now, so the
    pipeline never caches it.

    Args:
        model_uri: `models:/NAME@ALIAS` or `models:/NAME/VERSION`; the version must carry the
            alias `production`, set by a person in the MLflow registry.
        experiment_id: The experiment the version must belong to; empty for its training run's.
        data_uri: Where the training data is now; empty for the source its split manifest recorded.
        force: Validate a model that was validated before; needs `reason`.
        reason: Why, recorded in the ledger and on the version.
        mlflow_tracking_uri: MLflow URI, or empty to use MLFLOW_TRACKING_URI.
        run_db_url: Run-store URL, or empty to use SEALTRAIN_DB_URL.
        model: The version's model, with its lineage and identity in metadata.
        preprocessor: Its training run's preprocessor.
        split_manifest: Its training run's split manifest.

    Returns:
        The data URI and its source fingerprint, for `load_dataset`.
    """
    from sealtrain.components.core.stages import stamp
    from sealtrain.components.core.stages.holdout_gate import run

    result = run(model_uri=model_uri, experiment_id=experiment_id, data_uri=data_uri, force=force, reason=reason,
                 tracking_uri=mlflow_tracking_uri, db_url=run_db_url, model_path=model.path,
                 preprocessor_path=preprocessor.path, manifest_path=split_manifest.path)
    stamp(result, model=model, preprocessor=preprocessor, split_manifest=split_manifest)
    outputs = NamedTuple("Outputs", data_uri=str, data_fingerprint=str)
    return outputs(result.value["data_uri"], result.value["data_fingerprint"])
