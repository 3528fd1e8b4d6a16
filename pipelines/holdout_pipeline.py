"""The post-deployment holdout validation: a production model's holdout, read once, by one task.

    holdout_gate (alias `production`, not validated yet) -> model, preprocessor, split_manifest, data
    load_dataset (the run's data, or --data; the fingerprint decides)
    rebuild_holdout <- dataset, split_manifest   (the run's locked groups, checked by content)
    evaluate_holdout <- holdout, model, preprocessor   (the only reader of the holdout)
    record_holdout <- evaluation (MLflow run and version, split ledger)
"""

import dataclasses

from kfp import dsl

from sealtrain.components.core.constants import HOLDOUT
from sealtrain.components.core.isolation import HOLDOUT_PIPELINE_NAME
from sealtrain.components.evaluate_holdout import evaluate_holdout
from sealtrain.components.holdout_gate import holdout_gate
from sealtrain.components.load_dataset import load_dataset
from sealtrain.components.rebuild_holdout import rebuild_holdout
from sealtrain.components.record_holdout import record_holdout
from sealtrain.components.runtime import DEFAULT_IMAGE
from sealtrain.pipelines.training_pipeline import STEPS as TRAINING_STEPS
from sealtrain.pipelines.training_pipeline import StepSettings, configure

PIPELINE_NAME = HOLDOUT_PIPELINE_NAME

# As in the training pipeline: the gate and the record task read or write MLflow and the run
# store as they are now, so they are never cached; the record task is not retried (a partial
# record is finished by running the validation again, which the ledger still allows).
STEPS = {
    "holdout-gate": StepSettings(cache=False, endpoints=True),
    # Without its Dask settings: the holdout is read with pandas, by one task.
    "load-dataset": dataclasses.replace(TRAINING_STEPS["load-dataset"], dask=False),
    "rebuild-holdout": StepSettings(endpoints=True),
    "evaluate-holdout": StepSettings(resources=TRAINING_STEPS["evaluate-model"].resources, retries=2),
    "record-holdout": StepSettings(cache=False, endpoints=True),
}


def build_pipeline(image: str = DEFAULT_IMAGE):
    """The holdout validation pipeline with every component running `image`."""

    @dsl.pipeline(name=PIPELINE_NAME,
                  description="Validate a production model once on its training run's locked holdout.")
    def holdout_pipeline(
        model_uri: str,
        experiment_id: str = "",
        data_uri: str = "",
        force: bool = False,
        reason: str = "",
        min_auc: float = 0.0,
        mlflow_tracking_uri: str = "",
        run_db_url: str = "",
    ) -> None:
        """Evaluates a production model on its run's holdout and records the result.

        Args:
            model_uri: `models:/NAME@production` or `models:/NAME/VERSION`; the version must carry
                the alias `production`.
            experiment_id: The experiment the version must belong to; empty for its training run's.
            data_uri: Where the run's training data is now; empty for the source its split
                manifest recorded. Only the very data the run was trained on is accepted.
            force: Validate a model that was validated before; needs `reason`.
            reason: Why a forced validation is needed; recorded in the ledger and on the version.
            min_auc: The lower 95% bound of holdout AUC the model must reach to pass; 0 for none.
            mlflow_tracking_uri: MLflow URI; empty reads MLFLOW_TRACKING_URI in the task.
            run_db_url: Run-store URL; empty reads SEALTRAIN_DB_URL in the task.
        """
        def step(task: dsl.PipelineTask) -> dsl.PipelineTask:
            return configure(task, image, STEPS)

        gate = step(holdout_gate(
            model_uri=model_uri,
            experiment_id=experiment_id,
            data_uri=data_uri,
            force=force,
            reason=reason,
            mlflow_tracking_uri=mlflow_tracking_uri,
            run_db_url=run_db_url,
        ))
        loaded = step(load_dataset(data_uri=gate.outputs["data_uri"],
                                   data_fingerprint=gate.outputs["data_fingerprint"]))
        rebuilt = step(rebuild_holdout(
            dataset=loaded.outputs["dataset"], split_manifest=gate.outputs["split_manifest"], run_db_url=run_db_url,
        ))
        evaluated = step(evaluate_holdout(
            holdout=rebuilt.outputs[HOLDOUT],
            preprocessor=gate.outputs["preprocessor"],
            model=gate.outputs["model"],
        ))
        step(record_holdout(
            evaluation=evaluated.outputs["evaluation"],
            report=evaluated.outputs["report"],
            model=gate.outputs["model"],
            min_auc=min_auc,
            force=force,
            reason=reason,
            mlflow_tracking_uri=mlflow_tracking_uri,
            run_db_url=run_db_url,
        ))

    return holdout_pipeline


holdout_pipeline = build_pipeline()
