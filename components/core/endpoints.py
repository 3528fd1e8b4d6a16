"""Where the run's stores are: MLflow, the run table and Optuna's storage.

A task gets each endpoint as a parameter (local runs) or, when the parameter is empty, from an
environment variable that a cluster fills from a ConfigMap or Secret. Kept free of heavy
imports: tuning workers need the storage URL and nothing else of the records.
"""

from __future__ import annotations

import os

from .errors import InvalidInputError

TRACKING_URI_ENV = "MLFLOW_TRACKING_URI"
DB_URL_ENV = "SEALTRAIN_DB_URL"
OPTUNA_STORAGE_ENV = "OPTUNA_STORAGE_URL"


def resolve(value: str, env: str, parameter: str) -> str:
    """A parameter's value, else its environment variable (set from a Secret on a cluster).

    Raises:
        InvalidInputError: Neither is set; the message names both.
    """
    resolved = value or os.environ.get(env, "")
    if not resolved:
        raise InvalidInputError(f"{parameter} is empty and {env} is not set")
    return resolved


def normalise_url(url: str) -> str:
    """Points a plain `postgresql://` URL at the psycopg2 driver."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg2://" + url.split("://", 1)[1]
    return url


def optuna_storage(value: str) -> str:
    """The Optuna storage URL: the parameter, else OPTUNA_STORAGE_URL, for psycopg2 on Postgres."""
    return normalise_url(resolve(value, OPTUNA_STORAGE_ENV, "optuna_storage_url"))
