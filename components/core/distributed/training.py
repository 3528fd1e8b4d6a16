"""Training and scoring on Dask: xgboost.dask on the workers, one ordinary xgboost model back.

The estimator is the pandas engine's (`algorithms.REGISTRY`: the same fixed settings, early
stopping rounds and hyperparameters), trained as a `DaskXGBClassifier`, which reads each
worker's partitions into a `DaskQuantileDMatrix`: features are sketched into histogram bins
partition by partition, never gathered into one array. What comes back is the booster, as the
`XGBClassifier` the rest of sealtrain saves, loads, serves and scores, with the fit's
validation curve (`evals_result()`) as a pandas fit has it.

Callbacks (a tuning trial's pruning) run on the workers, each on its own copy: xgboost
reduces every round's validation metric over all workers before they see it, so copies that
decide from the metric stop every worker at the same round, as its early stopping does.
"""

from __future__ import annotations

from typing import Any, Sequence

import dask.dataframe as dd
import numpy as np
import pandas as pd
from distributed import Client

from ..algorithms import Algorithm, get_algorithm
from ..constants import LABEL_COLUMN
from ..errors import InvalidInputError, TrainingFailedError
from ..preprocessing import Preprocessor
from ..training import XGBOOST_EVAL_METRIC
from .arguments import shared

# Algorithms with a distributed implementation, by registry name.
DISTRIBUTED_ALGORITHMS = ("xgboost",)


def distributed_algorithm(name: str) -> Algorithm:
    """The registry entry of an algorithm that trains on Dask.

    Raises:
        InvalidInputError: The algorithm is unknown or has no distributed implementation.
    """
    algorithm = get_algorithm(name)
    if name not in DISTRIBUTED_ALGORITHMS:
        raise InvalidInputError(
            f"algorithm {name!r} has no distributed implementation, so it cannot run with --engine dask "
            f"(which trains {', '.join(DISTRIBUTED_ALGORITHMS)}); use --engine pandas for {name}"
        )
    return algorithm


def design_matrix(frame: dd.DataFrame, preprocessor: Preprocessor) -> tuple[dd.DataFrame, dd.Series]:
    """The transformed features (float32, as xgboost bins them) and the labels of a canonical Dask split."""
    names = preprocessor.feature_names_out()
    meta = pd.DataFrame({n: pd.Series(dtype="float32") for n in names})
    features = frame.map_partitions(_transform, shared(preprocessor), names, meta=meta)
    return features, frame[LABEL_COLUMN]


def _transform(partition: pd.DataFrame, preprocessor: Preprocessor, names: list[str]) -> pd.DataFrame:
    # A partition may hold no row of a split (its patients all went elsewhere); scikit-learn
    # refuses to transform zero rows.
    values = preprocessor.transform(partition) if len(partition) else np.empty((0, len(names)))
    return pd.DataFrame(values.astype(np.float32), columns=names, index=partition.index)


def fit(client: Client, algorithm_name: str, params: dict, seed: int, train: dd.DataFrame,
        validation: dd.DataFrame, preprocessor: Preprocessor, *, metric: str = "auc",
        callbacks: Sequence[Any] = ()) -> Any:
    """Fits a model on a Dask train split; the validation split only stops boosting early.

    Args:
        client: The cluster's client.
        algorithm_name: The registry name (`distributed_algorithm`).
        params: Hyperparameters on top of the algorithm's fixed settings.
        seed: Random seed of the estimator.
        train: The canonical train split.
        validation: The canonical validation split.
        preprocessor: The preprocessor fitted on train.
        metric: The tuning objective; boosting stops early on its xgboost counterpart.
        callbacks: Extra xgboost callbacks, pickled to the workers (pruning during tuning).

    Returns:
        The fitted model as an `xgboost.XGBClassifier` (with `best_iteration` and `evals_result()`).

    Raises:
        InvalidInputError: The algorithm has no distributed implementation.
        TrainingFailedError: xgboost rejected the parameters or the data.
    """
    from xgboost import XGBClassifier
    from xgboost.dask import DaskXGBClassifier

    algorithm = distributed_algorithm(algorithm_name)
    x_train, y_train = design_matrix(train, preprocessor)
    x_val, y_val = design_matrix(validation, preprocessor)
    try:
        settings = algorithm.build(params, seed).get_params()
        model = DaskXGBClassifier(**{**settings, "eval_metric": XGBOOST_EVAL_METRIC[metric],
                                     "callbacks": list(callbacks) or None})
        model.client = client
        model.fit(x_train, y_train, eval_set=[(x_val, y_val)], verbose=False)
    except Exception as exc:  # xgboost raises XGBoostError, ValueError; workers may raise anything
        raise TrainingFailedError(f"{algorithm_name} failed to fit on Dask with {params}: {exc}") from exc
    # Built from the settings alone: callbacks hold an Optuna trial and do not belong in the saved model.
    local = XGBClassifier(**{**settings, "eval_metric": XGBOOST_EVAL_METRIC[metric]})
    local.load_model(bytearray(model.get_booster().save_raw("ubj")))
    local.evals_result_ = model.evals_result()
    return local


def scores(model: Any, frame: dd.DataFrame, preprocessor: Preprocessor) -> dd.Series:
    """The predicted probability of the positive class for every row of a canonical Dask split, lazily.

    Each partition is scored where it lives by the same model object the pandas engine
    uses, so the scores equal the pandas engine's for the same rows and model.
    """
    # A model of hundreds of trees is megabytes: sent to each worker once, not in every partition's task.
    return frame.map_partitions(_scores, shared(model), shared(preprocessor), meta=pd.Series(dtype="float64"))


def _scores(partition: pd.DataFrame, model: Any, preprocessor: Preprocessor) -> pd.Series:
    if not len(partition):  # as in _transform
        return pd.Series(dtype="float64", index=partition.index)
    return pd.Series(model.predict_proba(preprocessor.transform(partition))[:, 1].astype("float64"),
                     index=partition.index)
