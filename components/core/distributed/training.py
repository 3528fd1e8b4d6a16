"""Training and scoring on Dask: external-memory xgboost on the workers, one ordinary xgboost model back.

The estimator is the pandas engine's (`algorithms.REGISTRY`: the same fixed settings, early
stopping rounds and hyperparameters), its booster trained by `external_memory` over the
workers: each streams its partitions into an `ExtMemQuantileDMatrix`, so no worker holds its
share of the design matrix. What comes back is the booster, as the `XGBClassifier` the rest of
sealtrain saves, loads, serves and scores, with the fit's validation curve (`evals_result()`)
as a pandas fit has it.

Callbacks (a tuning trial's pruning) run on the workers, each on its own copy: xgboost
reduces every round's validation metric over all workers before they see it, so copies that
decide from the metric stop every worker at the same round, as its early stopping does.
"""

from __future__ import annotations

from typing import Any, Sequence

import dask.dataframe as dd
import pandas as pd
from distributed import Client

from ..algorithms import Algorithm, get_algorithm
from ..errors import InvalidInputError, TrainingFailedError
from ..preprocessing import Preprocessor
from ..training import XGBOOST_EVAL_METRIC
from . import external_memory
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

    algorithm = distributed_algorithm(algorithm_name)
    try:
        # Without the callbacks, which go to the workers: they hold an Optuna trial and do not belong in the model.
        settings = algorithm.build(params, seed).get_params()
        model = XGBClassifier(**{**settings, "eval_metric": XGBOOST_EVAL_METRIC[metric]})
        booster, history = external_memory.train(client, model.get_xgb_params(), model.get_num_boosting_rounds(),
                                                 model.early_stopping_rounds, train, validation, preprocessor,
                                                 callbacks)
    except Exception as exc:  # xgboost raises XGBoostError, ValueError; workers may raise anything
        raise TrainingFailedError(f"{algorithm_name} failed to fit on Dask with {params}: {exc}") from exc
    model.load_model(bytearray(booster))
    model.evals_result_ = history
    return model


def scores(model: Any, frame: dd.DataFrame, preprocessor: Preprocessor) -> dd.Series:
    """The predicted probability of the positive class for every row of a canonical Dask split, lazily.

    Each partition is scored where it lives by the same model object the pandas engine
    uses, so the scores equal the pandas engine's for the same rows and model.
    """
    # A model of hundreds of trees is megabytes: sent to each worker once, not in every partition's task.
    return frame.map_partitions(_scores, shared(model), shared(preprocessor), meta=pd.Series(dtype="float64"))


def _scores(partition: pd.DataFrame, model: Any, preprocessor: Preprocessor) -> pd.Series:
    return pd.Series(model.predict_proba(preprocessor.transform(partition))[:, 1].astype("float64"),
                     index=partition.index)
