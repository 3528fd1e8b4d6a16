"""MLflow logging of one training run: params, metrics, tags, trials, artifacts and models."""

from __future__ import annotations

import math
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlencode, urlsplit

from .constants import VALIDATION, metric_name
from .endpoints import redact, scrub, without_credentials
from .errors import ModelTrainerError

if TYPE_CHECKING:  # the run table's steps import this module without needing pandas
    import pandas as pd

MODEL_ARTIFACT_PATH = "model"
PREPROCESSOR_ARTIFACT_PATH = "preprocessor"
SERVING_MODEL_NAME = "serving_model"
CANDIDATE_ALIAS = "candidate"
MLFLOW_PARAM_LIMIT = 6000
SERVING_DISTRIBUTIONS = ("sealtrain", "mlflow", "scikit-learn", "skops", "pandas", "numpy", "xgboost-cpu", "xgboost")

# A tracking server that is down should fail the step in seconds, not after minutes of retries.
# MLflow reads these per request; a value the user set wins.
FAIL_FAST_ENV = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_TIMEOUT": "30"}
# The error code of MLflow's REST API for an experiment that does not exist (yet).
MISSING_RESOURCE = "RESOURCE_DOES_NOT_EXIST"
# Stores MLflow keeps in a database through SQLAlchemy (`postgresql+psycopg2://` counts as postgresql).
DATABASE_SCHEMES = ("sqlite", "postgresql", "postgres", "mysql", "mssql")
# MLflow's own basic-auth variables: a tracking URI's credentials travel here, not in the URI.
USERNAME_ENV = "MLFLOW_TRACKING_USERNAME"
PASSWORD_ENV = "MLFLOW_TRACKING_PASSWORD"


class TrackingError(ModelTrainerError):
    """The MLflow tracking server could not be reached or refused a write."""


@dataclass
class RunLog:
    """Everything one training run logs to MLflow.

    Attributes:
        params: Flat parameters; values are stringified.
        metrics: Flat numeric metrics.
        tags: Flat tags.
        artifact_dirs: Directories to log, by artifact path (model, preprocessor).
        artifact_files: Single files to log at the root (manifest, reports, trials).
        trials: The tuning trials, logged as nested runs.
        tuning_metric: The validation objective the trials' values are of (`auc`, `log_loss`...).
        serving_example: A raw input row for the serving model's signature.
        register: Whether the model passed the validation gate and is registered.
        registration_note: Why it was or was not registered.
    """

    params: dict
    metrics: dict
    tags: dict
    artifact_dirs: dict[str, str]
    artifact_files: list[str]
    trials: pd.DataFrame
    tuning_metric: str
    serving_example: pd.DataFrame
    register: bool
    registration_note: str


def _artifact_root(tracking_uri: str) -> str | None:
    # A SQLite store keeps artifacts beside the database, not in the task's working directory.
    if tracking_uri.startswith("sqlite:///"):
        return (Path(tracking_uri.removeprefix("sqlite:///")).parent / "mlartifacts").resolve().as_uri()
    return None


@contextmanager
def _client(tracking_uri: str):
    """Points MLflow's client at a tracking URI for the calls inside; yields the URI to use.

    The URI's user and password move to MLFLOW_TRACKING_USERNAME/PASSWORD, so MLflow never
    sees (nor prints, in a run link or an error) a password; FAIL_FAST_ENV's defaults apply.
    The environment is restored afterwards.
    """
    bare, user, secret = without_credentials(tracking_uri)
    settings = {name: os.environ.get(name, value) for name, value in FAIL_FAST_ENV.items()}
    settings.update({name: value for name, value in ((USERNAME_ENV, user), (PASSWORD_ENV, secret)) if value})
    saved = {name: os.environ.get(name) for name in settings}
    os.environ.update(settings)
    try:
        yield bare
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _failure(tracking_uri: str, exc: Exception) -> TrackingError:
    return TrackingError(f"MLflow at {redact(tracking_uri)} failed: {scrub(str(exc), tracking_uri)}")


def check_reachable(tracking_uri: str, experiment_name: str) -> None:
    """Checks that MLflow answers, as the first step of a run does, without importing MLflow where it can.

    A tracking server is asked for the experiment over its REST API (with the URI's credentials,
    so a refused login fails here too); a database-backed store is opened; any other store goes
    through MLflow's client. Importing MLflow and opening its store take seconds that the run's
    last step, which logs everything, spends anyway.

    Raises:
        TrackingError: MLflow was unreachable or refused; the message names the URI without its password.
    """
    bare, user, secret = without_credentials(tracking_uri)
    scheme = urlsplit(bare).scheme
    try:
        if scheme in ("http", "https"):
            _ask_server(bare, user, secret, experiment_name)
        elif scheme.split("+")[0] in DATABASE_SCHEMES:
            _open_database(tracking_uri)
        else:
            ensure_experiment(tracking_uri, experiment_name)
    except TrackingError:
        raise
    except Exception as exc:  # HTTP, socket and database errors all mean "unusable"
        raise _failure(tracking_uri, exc) from exc


def _ask_server(url: str, user: str | None, secret: str | None, experiment_name: str) -> None:
    import base64
    import urllib.error
    import urllib.request

    query = urlencode({"experiment_name": experiment_name})
    request = urllib.request.Request(f"{url.rstrip('/')}/api/2.0/mlflow/experiments/get-by-name?{query}")
    if user:
        request.add_header("Authorization", "Basic " + base64.b64encode(f"{user}:{secret or ''}".encode()).decode())
    timeout = float(os.environ.get("MLFLOW_HTTP_REQUEST_TIMEOUT", FAIL_FAST_ENV["MLFLOW_HTTP_REQUEST_TIMEOUT"]))
    try:
        with urllib.request.urlopen(request, timeout=timeout):
            pass
    except urllib.error.HTTPError as exc:
        # MLflow's 404 for a missing experiment: it answered, and the run's last step creates the experiment.
        if exc.code != 404 or MISSING_RESOURCE not in exc.read().decode(errors="replace"):
            raise


def _open_database(tracking_uri: str) -> None:
    import sqlalchemy as sa

    from .endpoints import normalise_url

    url = normalise_url(tracking_uri)
    engine = sa.create_engine(url, connect_args={} if url.startswith("sqlite") else {"connect_timeout": 5})
    try:
        with engine.connect():
            pass
    finally:
        engine.dispose()


def ensure_experiment(tracking_uri: str, name: str) -> str:
    """Returns the id of an experiment, creating it when missing.

    Raises:
        TrackingError: MLflow was unreachable or refused; the message names the URI without its password.
    """
    import mlflow

    with _client(tracking_uri) as uri:
        try:
            return _experiment_id(mlflow.MlflowClient(uri), uri, name)
        except Exception as exc:  # MlflowException, requests and OS errors all mean "unusable"
            raise _failure(tracking_uri, exc) from exc


def _experiment_id(client, uri: str, name: str) -> str:
    """The id of an experiment, created when missing (its artifacts beside a SQLite store)."""
    experiment = client.get_experiment_by_name(name)
    if experiment:
        return experiment.experiment_id
    return client.create_experiment(name, artifact_location=_artifact_root(uri))


def serving_requirements() -> list[str]:
    """Pinned requirements of the serving model, from what is installed."""
    pins = []
    for name in SERVING_DISTRIBUTIONS:
        try:
            pins.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return pins


def _present(value) -> bool:
    """Whether a trials-table cell holds a value (pandas reads an empty cell as NaN)."""
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def _log_batch(client, run_id: str, *, params: dict | None = None, metrics: dict | None = None,
               tags: dict | None = None) -> None:
    """Logs params, metrics and tags of a run in one call (MLflow splits it into requests under its limits)."""
    from mlflow.entities import Metric, Param, RunTag

    now = int(time.time() * 1000)
    client.log_batch(run_id, metrics=[Metric(k, float(v), now, 0) for k, v in (metrics or {}).items()],
                     params=[Param(k, str(v)) for k, v in (params or {}).items()],
                     tags=[RunTag(k, str(v)) for k, v in (tags or {}).items()])


def _log_trials(client, parent, trials: pd.DataFrame, metric: str) -> None:
    """Logs every trial as a run nested in `parent`, its value under the tuning metric's name (`val_<metric>`).

    Each trial takes three calls (create, batch, end) on the task's client; it carries the
    parent's user and source tags as MLflow's own nested runs do.
    """
    from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID, MLFLOW_USER

    context = {k: v for k, v in parent.data.tags.items() if k == MLFLOW_USER or k.startswith("mlflow.source.")}
    for row in trials.to_dict("records"):
        trial = client.create_run(parent.info.experiment_id, run_name=f"trial-{row['number']}",
                                  tags={**context, MLFLOW_PARENT_RUN_ID: parent.info.run_id})
        value = row.get("value")
        _log_batch(client, trial.info.run_id,
                   params={k.removeprefix("param_"): v for k, v in row.items()
                           if k.startswith("param_") and _present(v)},
                   metrics={metric_name(VALIDATION, metric): value} if _present(value) else None,
                   tags={"state": row["state"]})
        client.set_terminated(trial.info.run_id)


def log_training_run(tracking_uri: str, experiment_name: str, run_name: str, log: RunLog) -> dict:
    """Logs one run to MLflow, with its trials as nested runs, and registers the model if asked.

    Returns:
        `run_id`, `experiment_id`, `artifact_uri`, the URI of each logged directory,
        `serving_model_uri`, and `registered_model`/`registered_version` when registered.

    Raises:
        TrackingError: MLflow was unreachable or refused; the message names the URI without its password.
    """
    import mlflow

    from .serving import log_serving_model

    with _client(tracking_uri) as uri:
        try:
            # One client for the whole task; the fluent run is kept only for log_model and
            # register_model, which attach to the active run.
            mlflow.set_tracking_uri(uri)
            client = mlflow.MlflowClient(uri)
            experiment_id = _experiment_id(client, uri, experiment_name)
            with mlflow.start_run(experiment_id=experiment_id, run_name=run_name) as run:
                _log_batch(client, run.info.run_id,
                           params={k: str(v)[:MLFLOW_PARAM_LIMIT] for k, v in log.params.items()},
                           metrics={k: v for k, v in log.metrics.items() if v is not None},
                           tags={**log.tags, "registration": log.registration_note})
                for path, directory in log.artifact_dirs.items():
                    client.log_artifacts(run.info.run_id, directory, artifact_path=path)
                for file in log.artifact_files:
                    client.log_artifact(run.info.run_id, file)
                _log_trials(client, run, log.trials, log.tuning_metric)
                info = log_serving_model(SERVING_MODEL_NAME, log.artifact_dirs[PREPROCESSOR_ARTIFACT_PATH],
                                         log.artifact_dirs[MODEL_ARTIFACT_PATH], log.serving_example,
                                         serving_requirements())
                base = run.info.artifact_uri
                result = {
                    "run_id": run.info.run_id,
                    "experiment_id": experiment_id,
                    "artifact_uri": base,
                    "serving_model_uri": info.model_uri,
                    **{f"{path}_uri": f"{base}/{path}" for path in log.artifact_dirs},
                }
                if log.register:
                    version = mlflow.register_model(info.model_uri, experiment_name)
                    client.set_registered_model_alias(experiment_name, CANDIDATE_ALIAS, version.version)
                    client.set_tag(run.info.run_id, "registered_model_version", version.version)
                    result.update(registered_model=experiment_name, registered_version=str(version.version))
                return result
        except TrackingError:
            raise
        except Exception as exc:  # MlflowException, requests and OS errors all mean "unusable"
            raise _failure(tracking_uri, exc) from exc


def kill_runs(tracking_uri: str, experiment_name: str, run_name: str) -> int:
    """Ends as KILLED the runs named `run_name` (and their nested trial runs) still RUNNING.

    For an interrupted training run: the task that logged it was stopped before it could end it.

    Returns:
        How many runs were ended.

    Raises:
        TrackingError: MLflow was unreachable or refused; the message names the URI without its password.
    """
    import mlflow

    with _client(tracking_uri) as uri:
        try:
            client = mlflow.MlflowClient(uri)
            experiment = client.get_experiment_by_name(experiment_name)
            if experiment is None:
                return 0
            running = "attributes.status = 'RUNNING'"
            runs = client.search_runs([experiment.experiment_id], f"attributes.run_name = '{run_name}' and {running}")
            runs += [trial for run in runs for trial in client.search_runs(
                [experiment.experiment_id], f"tags.mlflow.parentRunId = '{run.info.run_id}' and {running}")]
            for run in runs:
                client.set_terminated(run.info.run_id, "KILLED")
            return len(runs)
        except Exception as exc:  # MlflowException, requests and OS errors all mean "unusable"
            raise _failure(tracking_uri, exc) from exc
