"""The `sealtrain` command: run the pipeline locally, submit it to a cluster, compile it,
verify a compiled spec, build the runtime image, look at the results.

Each subcommand is an adapter: it parses flags, imports what it needs when it runs (so
`sealtrain --help` stays fast) and turns failures into one line and an exit code.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import uuid
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path

from sealtrain.pipelines import ui
from sealtrain.pipelines.contract import DEMO, UsageError, add_pipeline_flags, pipeline_arguments

TOKEN_ENV = "SEALTRAIN_KFP_TOKEN"
CACHE_DIR = ".kfp_cache"  # kfp.local's default cache_root under the pipeline root


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=f".{path.name}.", delete=False) as handle:
        handle.write(text)
    os.replace(handle.name, path)


class _Interrupted(Exception):
    """SIGINT or SIGTERM reached `sealtrain run`."""


def _interrupt(signum: int, frame) -> None:
    raise _Interrupted(signum)


def _run(args: argparse.Namespace) -> int:
    from sealtrain.components.core import endpoints

    # Store URLs may come from the environment, which, unlike flags, the process table does not show.
    for flag, env in (("mlflow_uri", endpoints.TRACKING_URI_ENV), ("db_url", endpoints.DB_URL_ENV),
                      ("optuna_storage", endpoints.OPTUNA_STORAGE_ENV)):
        setattr(args, flag, getattr(args, flag) or os.environ.get(env))
    out = Path(args.output).resolve()
    arguments = pipeline_arguments(args, out)
    from sealtrain.pipelines import local_runner
    from sealtrain.pipelines.summary import build_summary, render
    from sealtrain.pipelines.training_pipeline import training_pipeline

    run_id = arguments["training_run_id"] = str(uuid.uuid4())
    stores = {name: arguments.pop(name) for name in local_runner.STORE_ENV}
    log_path = _log_path(out, "run")
    pipeline_root = out / "pipeline_root"
    had_cache = any((pipeline_root / CACHE_DIR).glob("*.json"))
    print(f"sealtrain: run {run_id} on {arguments['data_uri']} (label {arguments['label_column']!r}"
          + (f", group {arguments['group_column']!r}" if arguments["group_column"] else "") + ")")
    print(f"sealtrain: output in {out}, full log in {log_path}")

    def failed(task: str | None, error: str) -> None:
        # kfp.local tells the exit task only that the run failed; the log says where and why.
        _record_failure(lambda recording: recording.fail_run(
            training_run_id=run_id, db_url=stores["run_db_url"], state="FAILED",
            error=f"{task}: {error}" if task else error, experiment_id=arguments["experiment_id"],
            algorithm=arguments["algorithm"], explain=True), stores.values())

    code, record, progress = _execute(
        training_pipeline, {"pipeline_root": str(pipeline_root), "enable_caching": args.cache, "arguments": arguments},
        stores, log_path, lambda sig, child, log, progress: _stopped(
            sig, child, log, run_id, arguments, stores, progress, log_path), run_id, failed)
    if code:
        return code
    if args.cache and not progress.cached:
        print("sealtrain: --cache reused nothing: " + (
            "no step matched a result stored by an earlier --cache run (other data, flags or code)" if had_cache else
            "kfp.local stores results only in --cache runs; the next --cache run reuses this one's"))
    summary = build_summary(record, str(pipeline_root), progress.cached)
    print()
    print(render(summary))
    if args.summary_json:
        _write_atomically(Path(args.summary_json), json.dumps(summary, indent=2))
        print(f"Summary written to {args.summary_json}")
    return 0


def _log_path(out: Path, name: str) -> Path:
    """A new log file's path in --output: `logs/<name>-<UTC time>.log`."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    path = out / "logs" / f"{name}-{stamp}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _execute(pipeline, config: dict, stores: dict, log_path: Path, stopped, run_id: str = "",
             failed=lambda task, error: None) -> tuple[int, dict | None, object]:
    """Runs a pipeline through the local runner, its stages' progress on the terminal.

    Args:
        pipeline: The pipeline (its spec names the stages the progress shows).
        config: The local runner's config, but for its result path.
        stores: The store URLs by pipeline parameter; never printed or logged.
        log_path: The full log.
        stopped: Called as `stopped(signal, child, log, progress)` when SIGINT or SIGTERM
            arrives; stops the run and returns the exit code.
        run_id: A training run's id, for its tasks' environment (`local_runner.spawn`).
        failed: Called with the failed task (or None) and its error, scrubbed, when the run fails.

    Returns:
        The exit code (0 when the run succeeded), the pipeline's result record (None unless
        it succeeded) and the progress reader.
    """
    from google.protobuf.json_format import MessageToDict

    from sealtrain.components.core import endpoints
    from sealtrain.pipelines.progress import Progress, stages

    secrets = stores.values()
    progress = Progress(*stages(MessageToDict(pipeline.pipeline_spec)),
                        emit=lambda line: print(endpoints.scrub(line, *secrets), flush=True))
    with tempfile.TemporaryDirectory() as scratch:
        config_path, result = Path(scratch) / "config.json", Path(scratch) / "result.json"
        config_path.write_text(json.dumps({**config, "result_path": str(result)}))
        returncode, interrupted = _supervise(config_path, stores, log_path, progress,
                                             lambda sig, child, log: stopped(sig, child, log, progress), run_id)
        if interrupted is not None:
            return interrupted, None, progress
        succeeded = returncode == 0 and result.exists()
        progress.finish(succeeded)
        if succeeded:
            return 0, json.loads(result.read_text()), progress
    task, error = progress.failure or (None, None)
    error = endpoints.scrub(error or "the pipeline failed", *secrets)
    failed(task, error)
    print(f"error{f' in {task}' if task else ''}: {error}", file=sys.stderr)
    print(f"full log: {log_path}", file=sys.stderr)
    return 1, None, progress


def _supervise(config: Path, stores: dict, log_path: Path, progress, stopped,
               run_id: str = "") -> tuple[int | None, int | None]:
    """Runs the local runner on a config: its output to the log (scrubbed) and to the progress reader.

    Args:
        config: The runner's config.
        stores: The store URLs by pipeline parameter, for the tasks' environment.
        log_path: The full log.
        progress: The progress reader fed with every line.
        stopped: Called as `stopped(signal, child, log)` when SIGINT or SIGTERM arrives; stops the
            run and returns the exit code.
        run_id: A training run's id, for its tasks' environment (`local_runner.spawn`).

    Returns:
        The runner's exit code and None, or None and `stopped`'s exit code after a signal.
    """
    from sealtrain.components.core import endpoints
    from sealtrain.pipelines import local_runner
    from sealtrain.pipelines.progress import ANSI

    handlers = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with log_path.open("w") as log, local_runner.spawn(config, stores, run_id) as child:
            try:
                for line in child.stdout:
                    log.write(endpoints.scrub(ANSI.sub("", line), *stores.values()))
                    progress.feed(line)
            except _Interrupted as stop:
                for sig in handlers:  # a second Ctrl-C must not cut the cleanup short
                    signal.signal(sig, signal.SIG_IGN)
                return None, stopped(signal.Signals(stop.args[0]), child, log)
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    return child.returncode, None


def _record_failure(write, secrets) -> None:
    """Runs `write(recording)`; a store that cannot be written is reported, not raised."""
    from sealtrain.components.core import endpoints, recording
    from sealtrain.components.core.errors import ModelTrainerError

    try:
        write(recording)
    except ModelTrainerError as exc:
        print(f"warning: the run's record could not be updated: {endpoints.scrub(str(exc), *secrets)}",
              file=sys.stderr)


def _stopped(sig: signal.Signals, child, log, run_id: str, arguments: dict, stores: dict, progress,
             log_path: Path) -> int:
    """Stops the whole run after a signal, records it as interrupted and returns 128 + the signal."""
    from sealtrain.components.core import endpoints
    from sealtrain.pipelines import local_runner
    from sealtrain.pipelines.progress import ANSI

    print(f"sealtrain: {sig.name} received, stopping run {run_id}", file=sys.stderr, flush=True)
    local_runner.stop(child)
    log.write(endpoints.scrub(ANSI.sub("", child.stdout.read()), *stores.values()))
    _record_failure(lambda recording: recording.interrupt_run(
        training_run_id=run_id, experiment_id=arguments["experiment_id"], algorithm=arguments["algorithm"],
        signal_name=sig.name, tracking_uri=stores["mlflow_tracking_uri"], db_url=stores["run_db_url"],
        mlflow_run_started=local_runner.RECORD_TASK in progress.started), stores.values())
    print(f"sealtrain: run {run_id} recorded as failed (interrupted by {sig.name}); full log: {log_path}",
          file=sys.stderr)
    return 128 + sig


def _validate_holdout(args: argparse.Namespace) -> int:
    out = Path(args.output).resolve()
    arguments, stores = _holdout_arguments(args, out)
    from sealtrain.pipelines.compile import HOLDOUT_VALIDATION
    from sealtrain.pipelines.holdout_pipeline import holdout_pipeline

    log_path = _log_path(out, "validate-holdout")
    print(f"sealtrain: holdout validation of {arguments['model_uri']}" + (" (forced)" if args.force else ""))
    print(f"sealtrain: output in {out}, full log in {log_path}")
    # Nothing to mark on a failure: the ledger row is the validation's last write.
    code, record, _ = _execute(
        holdout_pipeline, {"pipeline": HOLDOUT_VALIDATION, "pipeline_root": str(out / "pipeline_root"),
                           "enable_caching": False, "arguments": arguments},
        stores, log_path, lambda sig, child, log, progress: _halted(sig, child, log, stores, log_path))
    if code:
        return code
    print()
    print(_render_validation(record))
    if args.summary_json:
        _write_atomically(Path(args.summary_json), json.dumps(record, indent=2))
        print(f"Validation record written to {args.summary_json}")
    return 0


def _holdout_arguments(args: argparse.Namespace, out: Path) -> tuple[dict, dict]:
    """The holdout pipeline's arguments and its store URLs, every flag checked before anything runs.

    The stores are those of `sealtrain run`: the flag, else the environment, else the SQLite
    files in --output, which must then exist (a validation needs a recorded training run).

    Raises:
        UsageError: A flag cannot be used, or a store is missing or does not answer.
    """
    from sealtrain.components.core import endpoints, holdout_validation, model_registry, tables
    from sealtrain.components.core.errors import InvalidInputError
    from sealtrain.pipelines import preflight

    try:
        model_registry.parse_reference(args.model)
    except InvalidInputError as exc:
        raise UsageError(f"--model: {exc}") from None
    try:
        holdout_validation.require_reason(args.force, args.reason or "")
    except InvalidInputError as exc:
        raise UsageError(str(exc)) from None
    if not 0 <= args.min_auc <= 1:
        raise UsageError(f"--min-auc must be between 0 and 1, got {args.min_auc}")
    data = ""
    if args.data:
        data = args.data if args.data.startswith(tables.GCS_SCHEME) else str(Path(args.data).resolve())
        if not data.startswith(tables.GCS_SCHEME) and not Path(data).exists():
            raise UsageError(f"--data {args.data}: no such file or directory")
    preflight.check_writable("--output", out)
    stores = {}
    for flag, key, env, embedded in (("--mlflow-uri", "mlflow_tracking_uri", endpoints.TRACKING_URI_ENV, "mlflow.db"),
                                     ("--db-url", "run_db_url", endpoints.DB_URL_ENV, "runs.db")):
        url = getattr(args, flag[2:].replace("-", "_")) or os.environ.get(env)
        if not url:
            if not (out / embedded).is_file():
                raise UsageError(f"--output {out}: no {embedded}, so no training run was recorded here; run "
                                 f"`sealtrain run --output {out}` first, or give {flag}")
            url = f"sqlite:///{out / embedded}"
        preflight.check_store(flag, url)
        stores[key] = url
    arguments = {"model_uri": args.model, "experiment_id": args.experiment or "", "data_uri": data,
                 "force": args.force, "reason": args.reason or "", "min_auc": args.min_auc}
    return arguments, stores


def _halted(sig: signal.Signals, child, log, stores: dict, log_path: Path) -> int:
    """Stops a holdout validation after a signal; nothing was recorded unless its last task finished."""
    from sealtrain.components.core import endpoints
    from sealtrain.pipelines import local_runner
    from sealtrain.pipelines.progress import ANSI

    print(f"sealtrain: {sig.name} received, stopping the holdout validation", file=sys.stderr, flush=True)
    local_runner.stop(child)
    log.write(endpoints.scrub(ANSI.sub("", child.stdout.read()), *stores.values()))
    print(f"sealtrain: stopped; full log: {log_path}", file=sys.stderr)
    return 128 + sig


def _render_validation(record: dict) -> str:
    """The holdout validation's result as the terminal shows it."""
    tags, verdict = record["version_tags"], record["verdict"]
    lines = [
        f"Holdout validation of {record['model']} (training run {record['training_run_id']}, experiment "
        f"{record['experiment_id']!r})",
        f"  holdout:   {record['holdout']['rows']} rows, content {record['holdout']['fingerprint'][:12]}",
        f"  AUC:       {tags['holdout_auc']}",
        f"  verdict:   {'passed' if verdict['passed'] else 'FAILED'} ({verdict['reason']})",
    ]
    if record["forced"]:
        lines.append(f"  forced:    {record['reason']}")
    lines += [
        f"  MLflow:    holdout_* metrics and holdout_validation/ on run {record['mlflow']['run_id']} "
        f"({record['mlflow']['tracking_uri']}); tags {', '.join(sorted(tags))} on the version",
        f"  ledger:    recorded ({record['models_validated_on_this_holdout']} model(s) validated on this holdout)",
    ]
    return "\n".join(lines)


def _compile(args: argparse.Namespace) -> int:
    from sealtrain.pipelines.compile import compile_pipeline

    compile_pipeline(Path(args.output), args.image, args.pipeline)
    print(f"compiled pipeline ({args.pipeline}) written to {args.output}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    import yaml

    from sealtrain.components.core import isolation
    from sealtrain.components.runtime import runtime_image
    from sealtrain.pipelines.reference import known_implementations

    try:
        documents = list(yaml.safe_load_all(Path(args.pipeline).read_text()))
        spec = isolation.pipeline_document(documents)
    except (OSError, yaml.YAMLError, ValueError) as exc:
        raise UsageError(f"{args.pipeline}: not a readable compiled pipeline ({exc})") from None
    image = runtime_image(args.image)
    known = known_implementations(image)
    for used, paths in isolation.images(spec).items():
        print(f"{'image':<11} {used} ({len(paths)} task{'s' * (len(paths) != 1)})")
    print(f"{'policy':<11} " + (f"holdout validation ({isolation.HOLDOUT_PIPELINE_NAME}: holdout read once, after "
                                 "the production gate)" if isolation.is_holdout_pipeline(spec)
                                 else "training (holdout read by no task)"))
    graph = isolation.SpecGraph(spec)
    unknown = [path for path, name in isolation.identify(graph, known).items() if name is None]
    print(f"{'components':<11} checked against sealtrain {version('sealtrain')}'s, built for {image}; unknown: "
          + (", ".join(unknown) or "none"))
    for split, readers in isolation.split_consumers(spec).items():
        names = ", ".join(f"{r.task} [{r.input}]" for r in readers) or "no task"
        print(f"{split:<11} read by {names}")
    problems = isolation.breaches(spec, known)
    for problem in problems:
        print(f"BREACH: {problem}")
    print(f"{args.pipeline}: {'split isolation holds' if not problems else f'{len(problems)} breach(es)'}")
    return 1 if problems else 0


def _submit(args: argparse.Namespace) -> int:
    from sealtrain.components.core.tables import GCS_SCHEME

    if not args.data.startswith(GCS_SCHEME):
        raise UsageError("--data must be a gs:// URI: the cluster cannot read a path on this machine")
    from sealtrain.pipelines.submit import SubmitError, require_reachable_root, submit

    require_reachable_root(args.engine, args.pipeline_root)
    arguments = pipeline_arguments(args, None)
    try:
        result = submit(args.host, arguments, experiment=args.experiment, enable_caching=args.cache,
                        existing_token=os.environ.get(TOKEN_ENV), image=args.image, pipeline_root=args.pipeline_root)
    except SubmitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"submitted pipeline version {result.version_id}; run {result.run_id}"
          + ("" if args.cache else " (no cache)"))
    print(result.run_url)
    return 0


def _image_build(args: argparse.Namespace) -> int:
    from sealtrain.pipelines.image import ImageBuildError, build_image

    try:
        reference = build_image(args.tag, args.push, args.context, base_image=args.base_image)
    except ImageBuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(reference)
    return 0


def _add_run(commands) -> None:
    run = commands.add_parser(
        "run", help="run the training pipeline locally with kfp.local",
        description=f"Run the whole pipeline locally. Without --data it trains on the bundled covid_testing demo "
                    f"(label {DEMO['label']!r}, positive class {DEMO['positive_class']!r}, group {DEMO['group']!r}).")
    run.add_argument("--data", metavar="PATH_OR_URI",
                     help="input table: CSV, TSV (optionally .gz) or Parquet, a path or gs:// URI; or a Parquet "
                          "dataset, a directory or gs://BUCKET/PREFIX/ of Parquet files (default: the bundled demo)")
    run.add_argument("--label", metavar="COL",
                     help=f"binary label column, required with --data (default: {DEMO['label']}, the demo's)")
    add_pipeline_flags(run)
    run.add_argument("--output", default="sealtrain-output", metavar="DIR",
                     help="artifacts, logs and the embedded stores (default: ./%(default)s)")
    run.add_argument("--summary-json", metavar="FILE", help="write the run summary as JSON (default: not written)")
    # A URL with a password is better given through the environment: the process table shows flags.
    run.add_argument("--mlflow-uri", metavar="URI",
                     help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, else SQLite in --output)")
    run.add_argument("--db-url", metavar="URL",
                     help="run-table database, e.g. postgresql://... (default: $SEALTRAIN_DB_URL, else SQLite in "
                          "--output)")
    run.add_argument("--optuna-storage", metavar="URL",
                     help="Optuna storage: a database URL or journal:///ABS/PATH (default: $OPTUNA_STORAGE_URL, else "
                          "the journal file optuna.journal in --output)")
    run.add_argument("--cache", action="store_true",
                     help="reuse results of unchanged steps from earlier --cache runs (default: off)")
    run.set_defaults(handler=_run)


def _add_submit(commands) -> None:
    sub = commands.add_parser(
        "submit", help="upload the pipeline to a KFP cluster and start a run",
        description="Compile the pipeline, upload it as a new version of sealtrain-training and start a run, with "
                    "caching on unless --no-cache. MLflow, the run table and Optuna's storage are the cluster's "
                    "(ConfigMap sealtrain-endpoints, Secret sealtrain-db). A bearer token, if needed, comes from "
                    f"{TOKEN_ENV}. Reading the gs:// object's fingerprint needs Google Cloud credentials here "
                    "(Application Default Credentials or GOOGLE_APPLICATION_CREDENTIALS) unless --data-fingerprint "
                    "gives it.")
    sub.add_argument("--host", required=True, metavar="URL", help="KFP API/UI base URL, e.g. http://localhost:8080")
    sub.add_argument("--data", required=True, metavar="gs://BUCKET/OBJECT",
                     help="input table in Cloud Storage, or a gs://BUCKET/PREFIX/ of Parquet files")
    sub.add_argument("--label", required=True, metavar="COL", help="binary label column")
    add_pipeline_flags(sub)
    sub.add_argument("--no-cache", dest="cache", action="store_false",
                     help="run every step afresh (default: cached results are reused)")
    sub.add_argument("--image", help="runtime image of every component (default: sealtrain:<version>)")
    sub.add_argument("--pipeline-root", default="", metavar="gs://BUCKET/PREFIX",
                     help="where the run's artifacts go; required with --engine dask, whose workers read and write "
                          "the data there with their own Google credentials (default: the cluster's, e.g. KFP's MinIO)")
    sub.set_defaults(handler=_submit)


def _add_validate_holdout(commands) -> None:
    from sealtrain.components.core.model_registry import PRODUCTION_ALIAS

    val = commands.add_parser(
        "validate-holdout", help="validate a production model once on its training run's holdout",
        description=f"Run the holdout validation pipeline locally with kfp.local: the model version must carry the "
                    f"alias {PRODUCTION_ALIAS!r} (set by a person in the MLflow registry); its training run's holdout "
                    "is rebuilt from the run's data and locked groups (refused if the data changed) and read by one "
                    "evaluation, with the test evaluation's metrics, intervals and report. The result goes to the "
                    "version's MLflow run (holdout_* metrics), the version's tags and the split ledger. Once per "
                    "model: a second validation needs --force --reason. The stores are those of `sealtrain run`.")
    val.add_argument("--model", required=True, metavar="REF",
                     help=f"registered model version: models:/NAME@{PRODUCTION_ALIAS} or models:/NAME/VERSION")
    val.add_argument("--experiment", metavar="NAME",
                     help="the experiment the version must come from (default: its training run's)")
    val.add_argument("--data", metavar="PATH_OR_URI",
                     help="where the training data is now; it must be the very data the run was trained on "
                          "(default: the source its split manifest recorded)")
    val.add_argument("--force", action="store_true",
                     help="validate a model that was validated before; needs --reason (default: off)")
    val.add_argument("--reason", metavar="TEXT",
                     help="why a forced validation is needed; recorded in the ledger and on the version "
                          "(default: none)")
    val.add_argument("--min-auc", type=float, default=0.0, metavar="AUC",
                     help="the model passes only if the lower 95%% bound of its holdout AUC reaches this "
                          "(default: %(default)s, no criterion)")
    val.add_argument("--output", default="sealtrain-output", metavar="DIR",
                     help="the training run's output folder: logs, artifacts and the embedded stores "
                          "(default: ./%(default)s)")
    val.add_argument("--summary-json", metavar="FILE", help="write the validation record as JSON "
                                                            "(default: not written)")
    val.add_argument("--mlflow-uri", metavar="URI",
                     help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, else SQLite in --output)")
    val.add_argument("--db-url", metavar="URL",
                     help="run-store database (default: $SEALTRAIN_DB_URL, else SQLite in --output)")
    val.set_defaults(handler=_validate_holdout)


def _add_compile(commands) -> None:
    from sealtrain.pipelines.compile import PIPELINES, TRAINING

    comp = commands.add_parser(
        "compile", help="compile a pipeline to KFP YAML",
        description="Compile the training pipeline (or the holdout validation pipeline) to KFP v2 YAML (pipeline "
                    "spec and Kubernetes platform spec), the file to review, verify (sealtrain verify) and upload "
                    "to a cluster.")
    comp.add_argument("-o", "--output", required=True, metavar="FILE", help="where to write the YAML")
    comp.add_argument("--pipeline", choices=PIPELINES, default=TRAINING,
                      help="which pipeline (default: %(default)s; choices: %(choices)s)")
    comp.add_argument("--image", help="runtime image of every component (default: sealtrain:<version>)")
    comp.set_defaults(handler=_compile)


def _add_verify(commands) -> None:
    verify = commands.add_parser(
        "verify", help="check split isolation in a compiled pipeline YAML",
        description="Identify every task by its compiled implementation (image, code, arguments, interface) against "
                    "this sealtrain's own components built for the expected image, so a task named like a sealtrain "
                    "component but running other code or another image is an unknown component. List the images "
                    "the pipeline runs and every task that reads each split, and exit 1 on any breach: test is read "
                    "only by sealtrain's evaluate_model (exactly once), holdout by no task, validation only by "
                    "tuning and final training, train only by preprocessing, tuning and training, each split "
                    "through the input named after it; the preprocessor is fitted on train; only sealtrain's "
                    "split_dataset writes the splits, and sealtrain's components read splits only from it; the "
                    "unsplit dataset is read only by check_data_quality and split_dataset, the split manifest only "
                    "by record_run; no unknown component reads a split, the dataset or the manifest; no "
                    "dsl.importer. Sub-pipelines, exit handlers and loops are followed. A spec named "
                    "sealtrain-holdout-validation is held to the holdout validation policy instead: the holdout is "
                    "read by exactly one task, sealtrain's evaluate_holdout, from sealtrain's rebuild_holdout, which "
                    "runs after sealtrain's holdout_gate (the production alias check); no train, validation or test "
                    "split; nothing but that pipeline's sealtrain components. The training policy refuses those "
                    "components.")
    verify.add_argument("pipeline", metavar="PIPELINE.yaml", help="a compiled pipeline, e.g. from sealtrain compile")
    verify.add_argument("--image", help="the runtime image the pipeline must run "
                                        "(default: $SEALTRAIN_IMAGE, else sealtrain:<version>)")
    verify.set_defaults(handler=_verify)


def _add_image(commands) -> None:
    image = commands.add_parser("image", help="the runtime image", description="Build the runtime image.")
    build = image.add_subparsers(dest="image_command", required=True).add_parser(
        "build", help="build images/Dockerfile with the Docker SDK (DOCKER_HOST selects the engine)",
        description="Build images/Dockerfile from a sealtrain checkout with the Docker SDK; DOCKER_HOST selects the "
                    "engine (Docker or Podman's Docker-compatible socket). Prints the image reference.")
    build.add_argument("--tag", help="image reference (default: sealtrain:<version>)")
    build.add_argument("--push", action="store_true",
                       help="push the tag after building; it must name a registry (default: off)")
    build.add_argument("--context", metavar="DIR", help="the sealtrain checkout (default: the current directory)")
    build.add_argument("--base-image", help="base image instead of the Dockerfile's (default: its digest-pinned one)")
    build.set_defaults(handler=_image_build)


# One function per subcommand, each adding its parser to the subparsers action.
SUBCOMMANDS = (_add_run, _add_validate_holdout, _add_submit, _add_compile, _add_verify, _add_image, ui.add_parser)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sealtrain", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=f"%(prog)s {version('sealtrain')}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in SUBCOMMANDS:
        add(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `sealtrain` console script."""
    args = _parser().parse_args(argv)
    try:
        return args.handler(args)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        # Ctrl-C before a run started (while checking arguments or reading the data): nothing to stop or record.
        print("interrupted", file=sys.stderr)
        return 128 + signal.SIGINT


def console() -> None:
    """The `sealtrain` command: `main`, then an exit that skips the native libraries' teardown.

    Once a Parquet file has been read, Arrow's threads can abort the interpreter's own exit
    ("terminate called without an active exception", apache/arrow#34314): here 10 in 100
    `sealtrain run`s refused by a check before the run, and 14 in 240 bare `pd.read_parquet`
    scripts, with or without Arrow's thread pools. Everything sealtrain writes is closed by
    the time `main` returns, so the streams and logging are flushed and the process ends with
    `os._exit`, keeping the exit code the user and the tests read.
    """
    import logging

    try:
        code = main()
    except SystemExit as exc:  # argparse: --help, a bad flag
        if isinstance(exc.code, str):
            print(exc.code, file=sys.stderr)
        code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    console()
