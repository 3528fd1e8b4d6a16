"""Submitting the training pipeline to a Kubeflow Pipelines cluster.

`submit` uploads exactly what `sealtrain compile` writes as a new version of the
`sealtrain-training` pipeline (or as the pipeline itself the first time) and starts a run
of that version in an experiment, under the pipeline root it is given (else the cluster's
default). Every failure to talk to the KFP API becomes a `SubmitError` that names the host;
a Dask run whose workers could not reach the run's artifacts is refused before any request
(`require_reachable_root`).
"""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
import warnings
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path

from sealtrain.pipelines.contract import UsageError

HEALTHZ_PATH = "/apis/v2beta1/healthz"
# Connect and read timeouts of the reachability probe, in seconds.
PROBE_TIMEOUT = (10.0, 30.0)


class SubmitError(Exception):
    """The KFP API could not be reached or refused a request."""


@dataclass(frozen=True)
class SubmitResult:
    """What a submission created on the cluster.

    Attributes:
        pipeline_id: ID of the `sealtrain-training` pipeline.
        version_id: ID of the pipeline version uploaded by this submission.
        run_id: ID of the started run.
        run_url: Link to the run in the KFP UI.
    """

    pipeline_id: str
    version_id: str
    run_id: str
    run_url: str


def require_reachable_root(engine: str, pipeline_root: str) -> None:
    """Refuses a Dask run on a cluster whose workers could not reach the run's artifacts.

    A task keeps its artifacts as files in its own pod, copied from and to the pipeline
    root; the Dask workers run in other pods and read and write the loaded dataset and the
    splits at the artifacts' URIs instead (`locations.table_location`), which they reach only
    in Cloud Storage, with their own Google credentials.

    Args:
        engine: The run's engine ("pandas" or "dask").
        pipeline_root: The run's pipeline root, or empty for the cluster's default.

    Raises:
        UsageError: engine dask without a `gs://` pipeline root.
    """
    from sealtrain.components.core.locations import GCS_SCHEME

    if engine == "dask" and not pipeline_root.startswith(GCS_SCHEME):
        given = f"--pipeline-root {pipeline_root}" if pipeline_root else "the cluster's default pipeline root"
        raise UsageError(
            f"--engine dask on a cluster needs --pipeline-root gs://BUCKET/PREFIX, not {given}: the Dask workers run "
            "in their own pods and cannot reach artifacts kept in a task's pod or in KFP's MinIO. Run locally with "
            "`sealtrain run --engine dask`, or give a gs:// pipeline root that the workers can read and write with "
            "their own Google credentials")


def submit(
    host: str,
    arguments: dict,
    experiment: str = "sealtrain",
    enable_caching: bool = True,
    existing_token: str | None = None,
    image: str | None = None,
    pipeline_root: str = "",
) -> SubmitResult:
    """Uploads the compiled pipeline to a KFP cluster and starts a run of it.

    The pipeline is compiled exactly as `sealtrain compile` writes it and uploaded as a new
    version named `<package version>-<UTC timestamp>` of the pipeline `sealtrain-training`,
    or, when no pipeline of that name exists yet, as that pipeline (whose first version
    the server creates). The run is started in `experiment`, created if missing.

    The KFP v2beta1 API has no per-run caching switch: a run of a stored version uses the
    caching options compiled into it, and `kfp.Client.run_pipeline` silently ignores
    `enable_caching` for such runs. So with caching the run references the uploaded
    version (compute steps cached; start_run, recall_best_config, record_run and
    finalize_run never are), and without caching the run carries the same spec inline
    with caching turned off for every task of every DAG. The version is uploaded in both
    cases.

    Args:
        host: Base URL of the KFP API and UI, e.g. `http://localhost:8080`; `https://` is
            assumed when the scheme is missing.
        arguments: The pipeline parameters, e.g. `{"data_uri": ..., "label_column": ...}`.
        experiment: KFP experiment of the run.
        enable_caching: False runs every task afresh.
        existing_token: Bearer token sent with every request, if the API needs one.
        image: Runtime image of every task; None takes SEALTRAIN_IMAGE or the default.
        pipeline_root: Where the run's artifacts go (`gs://BUCKET/PREFIX`, ...); empty takes
            the cluster's default (KFP's MinIO in a standalone install).

    Returns:
        The IDs of the pipeline, the uploaded version and the run, and the run's URL.

    Raises:
        UsageError: A Dask run without a gs:// pipeline root (`require_reachable_root`),
            before any request.
        SubmitError: The host cannot be reached, or the KFP API answered with an error.
    """
    import kfp
    import kfp_server_api
    import urllib3

    from sealtrain.pipelines.compile import compile_pipeline
    from sealtrain.pipelines.training_pipeline import PIPELINE_NAME

    require_reachable_root(arguments.get("engine", "pandas"), pipeline_root)
    host = host.rstrip("/")
    if not host.startswith(("http://", "https://")):
        host = f"https://{host}"
    _probe(host, existing_token)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    version_name = f"{version('sealtrain')}-{stamp}"
    job_name = f"{PIPELINE_NAME}-{version_name}"
    step = "connecting"
    try:
        with tempfile.TemporaryDirectory(prefix="sealtrain-submit-") as scratch, \
                warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            # kfp.Client raises a FutureWarning ("only works with Kubeflow Pipeline
            # v2.0.0-beta.2 and later") on every construction and prints a "details" link
            # after each call; the caller reports the run URL instead.
            warnings.simplefilter("ignore", FutureWarning)
            package = compile_pipeline(Path(scratch) / f"{PIPELINE_NAME}.yaml", image)
            client = kfp.Client(host=host, existing_token=existing_token)
            step = "looking up the pipeline"
            pipeline_id = client.get_pipeline_id(PIPELINE_NAME)
            if pipeline_id:
                step = "uploading the pipeline version"
                version_id = client.upload_pipeline_version(
                    str(package), version_name, pipeline_id=pipeline_id).pipeline_version_id
            else:
                step = "uploading the pipeline"
                pipeline_id = client.upload_pipeline(str(package), pipeline_name=PIPELINE_NAME).pipeline_id
                step = "finding the pipeline's first version"
                versions = client.list_pipeline_versions(pipeline_id, page_size=1, sort_by="created_at desc")
                if not versions.pipeline_versions:
                    raise SubmitError(f"KFP at {host} created pipeline {pipeline_id} without a version")
                version_id = versions.pipeline_versions[0].pipeline_version_id
            step = f"getting or creating the experiment {experiment!r}"
            experiment_id = client.create_experiment(experiment).experiment_id
            step = "starting the run"
            if enable_caching:
                run = client.run_pipeline(experiment_id=experiment_id, job_name=job_name, pipeline_id=pipeline_id,
                                          version_id=version_id, params=arguments, pipeline_root=pipeline_root or None)
            else:
                run = client.run_pipeline(experiment_id=experiment_id, job_name=job_name,
                                          pipeline_package_path=str(_without_caching(package)), params=arguments,
                                          pipeline_root=pipeline_root or None)
    except kfp_server_api.ApiException as exc:
        raise SubmitError(f"KFP at {host} failed {step}: {_describe(exc)}") from None
    except urllib3.exceptions.HTTPError as exc:
        raise SubmitError(f"cannot reach KFP at {host} ({step}): {_reason(exc)}") from None
    except TimeoutError as exc:  # kfp.Client gave up on the healthz endpoint
        raise SubmitError(f"KFP at {host} ({step}): {exc}") from None
    except ValueError as exc:  # kfp's own checks, e.g. two pipelines with the same name
        raise SubmitError(f"KFP at {host} ({step}): {exc}") from None
    return SubmitResult(pipeline_id, version_id, run.run_id, f"{host}/#/runs/details/{run.run_id}")


def _probe(host: str, token: str | None) -> None:
    """Fails fast on a host that is down or refuses us.

    kfp.Client's constructor asks the healthz endpoint five times, five seconds apart,
    logging a traceback each time, and waits without a timeout on an unresponsive host.
    """
    import certifi
    import urllib3

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    pool = urllib3.PoolManager(cert_reqs="CERT_REQUIRED", ca_certs=certifi.where(),
                               timeout=urllib3.Timeout(connect=PROBE_TIMEOUT[0], read=PROBE_TIMEOUT[1]))
    try:
        response = pool.request("GET", host + HEALTHZ_PATH, headers=headers, retries=False, redirect=False)
    except urllib3.exceptions.HTTPError as exc:
        raise SubmitError(f"cannot reach KFP at {host}: {_reason(exc)}") from None
    finally:
        pool.clear()
    if response.status != 200:
        needs_login = response.status in (301, 302, 303, 307, 401, 403)
        hint = " (authentication needed? pass a bearer token)" if needs_login else ""
        raise SubmitError(f"KFP at {host} answered HTTP {response.status} to GET {HEALTHZ_PATH}{hint}")


def _without_caching(package: Path) -> Path:
    """A copy of the compiled spec with caching off for every task of every DAG."""
    import yaml

    documents = list(yaml.safe_load_all(package.read_text()))
    spec = documents[0]
    dags = [spec["root"]["dag"], *(c["dag"] for c in spec["components"].values() if "dag" in c)]
    for dag in dags:
        for task in dag["tasks"].values():
            task.setdefault("cachingOptions", {})["enableCache"] = False
    target = package.with_name(f"{package.stem}-no-cache.yaml")
    target.write_text(yaml.safe_dump_all(documents, sort_keys=True))
    return target


def _describe(exc) -> str:
    """`HTTP 404 Not Found: <the server's message>` from a kfp_server_api.ApiException."""
    if not exc.status:  # raised before any answer, e.g. a TLS failure
        return " ".join(str(exc.reason).split())
    text = f"HTTP {exc.status} {exc.reason or ''}".rstrip()
    body = exc.body.decode(errors="replace") if isinstance(exc.body, bytes) else exc.body
    try:
        payload = json.loads(body)
        message = payload.get("message") or payload.get("error") if isinstance(payload, dict) else None
    except (TypeError, ValueError):
        message = body
    message = " ".join(str(message or "").split())[:300]
    return f"{text}: {message}" if message else text


def _reason(exc: Exception) -> str:
    """The innermost reason of a urllib3 error, without the connection object's repr."""
    while getattr(exc, "reason", None) is not None and isinstance(exc.reason, Exception):
        exc = exc.reason
    text = str(exc)
    return text.split("): ", 1)[-1] if "): " in text else text
