"""The MLflow side of holdout validation: which model version a reference names, the training
run behind it, its logged artifacts, and where a holdout result is written (the version's run
and the version itself)."""

from __future__ import annotations

import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .endpoints import redact
from .errors import HoldoutAccessError, InvalidInputError
from .tracking import TrackingError, _client, _failure, _log_batch

# The alias a person sets in the MLflow registry when a version goes to production.
PRODUCTION_ALIAS = "production"
REFERENCE_FORMS = "models:/NAME@ALIAS or models:/NAME/VERSION"
_REFERENCE = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/@]+)|/(?P<version>[0-9]+))$")
# The run tag through which a logged MLflow run names its sealtrain training run (run_log.tags).
TRAINING_RUN_TAG = "training_run_id"


@dataclass(frozen=True)
class ModelReference:
    """A registered model reference: a name with an alias or a version number."""

    name: str
    alias: str = ""
    version: str = ""

    def __str__(self) -> str:
        return f"models:/{self.name}@{self.alias}" if self.alias else f"models:/{self.name}/{self.version}"


def parse_reference(text: str) -> ModelReference:
    """Reads `models:/NAME@ALIAS` or `models:/NAME/VERSION`.

    Raises:
        InvalidInputError: Any other form; the message names both accepted ones.
    """
    match = _REFERENCE.match(text.strip())
    if not match:
        raise InvalidInputError(f"model reference {text!r} is neither {REFERENCE_FORMS}")
    return ModelReference(match["name"], match["alias"] or "", match["version"] or "")


@dataclass(frozen=True)
class RegisteredVersion:
    """A registered model version and the training run that logged it.

    Attributes:
        name: The registered model.
        version: Its version number.
        aliases: Every alias the version carries now.
        run_id: The MLflow run that logged it.
        experiment: The name of that run's MLflow experiment (sealtrain's experiment id).
        training_run_id: The sealtrain run id the MLflow run is tagged with; empty if none.
        run_params: The MLflow run's parameters (seed, bootstrap samples, ...).
    """

    name: str
    version: str
    aliases: tuple[str, ...]
    run_id: str
    experiment: str
    training_run_id: str
    run_params: dict = field(default_factory=dict, compare=False)

    def __str__(self) -> str:
        return f"model {self.name!r} version {self.version}"


def resolve_version(tracking_uri: str, reference: ModelReference) -> RegisteredVersion:
    """The version a reference names, as the registry holds it now.

    Raises:
        InvalidInputError: No such registered model or version.
        HoldoutAccessError: No version carries the reference's alias.
        TrackingError: MLflow was unreachable or refused; the message names the URI without its password.
    """
    import mlflow
    from mlflow.exceptions import MlflowException

    with _client(tracking_uri) as uri:
        client = mlflow.MlflowClient(uri, registry_uri=uri)
        try:
            try:
                registered = client.get_registered_model(reference.name)
            except MlflowException as exc:
                if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
                    raise
                raise InvalidInputError(f"MLflow at {redact(tracking_uri)} has no registered model "
                                        f"{reference.name!r} ({reference})") from None
            number = reference.version or registered.aliases.get(reference.alias)
            if not number:
                held = ", ".join(f"{alias} -> version {v}" for alias, v in sorted(registered.aliases.items()))
                raise HoldoutAccessError(f"no version of registered model {reference.name!r} carries the alias "
                                         f"{reference.alias!r} (aliases: {held or 'none'})")
            try:
                version = client.get_model_version(reference.name, str(number))
            except MlflowException as exc:
                if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
                    raise
                raise InvalidInputError(f"registered model {reference.name!r} has no version {number}") from None
            run = client.get_run(version.run_id)
            experiment = client.get_experiment(run.info.experiment_id).name
        except (InvalidInputError, HoldoutAccessError):
            raise
        except Exception as exc:  # MlflowException, requests and OS errors all mean "unusable"
            raise _failure(tracking_uri, exc) from exc
    return RegisteredVersion(reference.name, str(version.version), tuple(version.aliases or ()), version.run_id,
                             experiment, run.data.tags.get(TRAINING_RUN_TAG, ""), dict(run.data.params))


def download_artifacts(tracking_uri: str, run_id: str, destinations: dict[str, str]) -> None:
    """Copies artifacts of a run (files or directories, by artifact path) to local paths.

    Raises:
        TrackingError: MLflow was unreachable, or the run has no such artifact.
    """
    import mlflow

    with _client(tracking_uri) as uri, tempfile.TemporaryDirectory() as scratch:
        client = mlflow.MlflowClient(uri)
        for artifact_path, destination in destinations.items():
            try:
                local = Path(client.download_artifacts(run_id, artifact_path, scratch))
            except Exception as exc:  # MlflowException, requests and OS errors all mean "unusable"
                raise TrackingError(f"MLflow at {redact(tracking_uri)}: run {run_id} has no usable artifact "
                                    f"{artifact_path!r} ({exc})") from exc
            Path(destination).parent.mkdir(parents=True, exist_ok=True)
            if local.is_dir():
                shutil.copytree(local, destination, dirs_exist_ok=True)
            else:
                shutil.copyfile(local, destination)


def log_result(tracking_uri: str, version: RegisteredVersion, *, metrics: dict[str, float], run_tags: dict,
               version_tags: dict, files: list[str], artifact_path: str) -> None:
    """Writes a holdout result: metrics, tags and files on the version's run, tags on the version.

    Raises:
        TrackingError: MLflow was unreachable or refused; the message names the URI without its password.
    """
    import mlflow

    with _client(tracking_uri) as uri:
        try:
            client = mlflow.MlflowClient(uri, registry_uri=uri)
            _log_batch(client, version.run_id, metrics=metrics, tags=run_tags)
            for file in files:
                client.log_artifact(version.run_id, file, artifact_path=artifact_path)
            for key, value in version_tags.items():
                client.set_model_version_tag(version.name, version.version, key, str(value))
        except Exception as exc:  # MlflowException, requests and OS errors all mean "unusable"
            raise _failure(tracking_uri, exc) from exc
