"""KFP component: fit the preprocessing on the train split, and only on it."""

from kfp import dsl
from kfp.dsl import Dataset, Input, Model, Output

from sealtrain.components.runtime import DEFAULT_IMAGE


@dsl.component(base_image=DEFAULT_IMAGE, install_kfp_package=False)
def fit_preprocessor(train: Input[Dataset], preprocessor: Output[Model], engine: str = "pandas",
                     dask_scheduler: str = "", dask_workers: int = 0):
    """Fits median imputation, standard scaling and one-hot encoding on the train split.

    Args:
        train: The train split; an artifact of any other role is refused.
        engine: "pandas" or "dask" (the stage's work on a Dask cluster).
        dask_scheduler: With dask, a running scheduler's address; empty starts a cluster for the task
            (`engines.dask_session`).
        dask_workers: With dask and no scheduler, the task's cluster's workers; 0 sizes a
            LocalCluster to the machine.
        preprocessor: The fitted transformer (skops) and its feature contract (JSON),
            stamped with the train fingerprint and split manifest.
    """
    from sealtrain.components.core.locations import table_location
    from sealtrain.components.core.stages import stamp
    from sealtrain.components.core.stages.fit_preprocessor import run

    result = run(train_path=table_location(train.uri, train.path, engine), train_metadata=train.metadata,
                 preprocessor_path=preprocessor.path,
                 engine=engine, dask_scheduler=dask_scheduler, dask_workers=dask_workers)
    stamp(result, preprocessor=preprocessor)
