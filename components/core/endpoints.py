"""Where the run's stores are: MLflow, the run table and Optuna's storage.

A task gets each endpoint as a parameter (local runs) or, when the parameter is empty, from an
environment variable that a cluster fills from a ConfigMap or Secret. Kept free of heavy
imports: tuning workers need the storage URL and nothing else of the records.
"""

from __future__ import annotations

import os
from urllib.parse import unquote, urlsplit, urlunsplit

from .errors import InvalidInputError

TRACKING_URI_ENV = "MLFLOW_TRACKING_URI"
DB_URL_ENV = "SEALTRAIN_DB_URL"
OPTUNA_STORAGE_ENV = "OPTUNA_STORAGE_URL"
# An Optuna journal file (file-locked, so local workers share it) rather than a database.
JOURNAL_PREFIX = "journal://"
HIDDEN = "***"


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
    """The Optuna storage URL: the parameter, else OPTUNA_STORAGE_URL, for psycopg2 on Postgres.

    Either a database URL (RDB storage: Postgres on a cluster) or `journal://PATH`, Optuna's
    journal file at PATH (`journal:///abs/optuna.journal`), which local runs use.
    """
    return normalise_url(resolve(value, OPTUNA_STORAGE_ENV, "optuna_storage_url"))


def journal_path(url: str) -> str | None:
    """The file of a `journal://PATH` Optuna storage URL; None for a database URL."""
    return url[len(JOURNAL_PREFIX):] if url.startswith(JOURNAL_PREFIX) else None


def password(url: str) -> str | None:
    """The password a URL carries in its user info, or None."""
    return urlsplit(url).password


def without_credentials(url: str) -> tuple[str, str | None, str | None]:
    """A URL with its user info taken out, and that user and password, decoded (None when absent)."""
    parts = urlsplit(url)
    if parts.username is None:
        return url, None, None
    bare = urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
    return bare, unquote(parts.username), None if parts.password is None else unquote(parts.password)


def redact(url: str) -> str:
    """A URL fit to print: its password, if any, replaced by ***."""
    secret = password(url)
    if not secret:
        return url
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{parts.username}:{HIDDEN}@{parts.netloc.rsplit('@', 1)[1]}"))


def scrub(text: str, *urls: str) -> str:
    """A message fit to print: every password of `urls`, as written or decoded, replaced by ***."""
    secrets = {form for url in urls if (secret := password(url)) for form in (secret, unquote(secret))}
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, HIDDEN)
    return text
