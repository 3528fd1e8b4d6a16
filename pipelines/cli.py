"""The `sealtrain` command: run the pipeline locally, submit it to a cluster, compile it,
verify a compiled spec, build the runtime image."""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

DEMO = {
    "data": Path(__file__).parent / "demo" / "covid_testing.csv.gz",
    "label": "result",
    "positive_class": "positive",
    "group": "subject_id",
}
ANSI = re.compile(r"\x1b\[[0-9;]*m")
TASK_START = re.compile(r"Executing task '([\w-]+)'")
TASK_END = re.compile(r"Task '([\w-]+)' finished with status (\w+)")
ERROR_LINE = re.compile(r"^\s*(?:[\w]+\.)*(\w*(?:Error|Exception)): (.*)$")
PROGRESS_PREFIX = "[sealtrain] "
TOKEN_ENV = "SEALTRAIN_KFP_TOKEN"


class UsageError(Exception):
    """A flag or file the user gave cannot be used."""


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=f".{path.name}.", delete=False) as handle:
        handle.write(text)
    os.replace(handle.name, path)


def _candidate(args: argparse.Namespace) -> dict:
    """The model candidate's pipeline arguments, from --model-candidate or --algorithm."""
    from sealtrain.components.core import tuning
    from sealtrain.components.core.errors import ModelTrainerError

    if args.model_candidate:
        try:
            candidate = json.loads(Path(args.model_candidate).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise UsageError(f"--model-candidate {args.model_candidate}: {exc}") from None
        unknown = set(candidate) - {"model_version_id", "algorithm_name", "hyperparameter_space", "default_hyperparameters"}
        if not isinstance(candidate, dict) or "algorithm_name" not in candidate or unknown:
            raise UsageError(f"--model-candidate {args.model_candidate}: needs algorithm_name and may have "
                             f"model_version_id, hyperparameter_space, default_hyperparameters (unknown: {sorted(unknown)})")
        chosen = {
            "algorithm": candidate["algorithm_name"],
            "model_version_id": candidate.get("model_version_id", ""),
            "hyperparameter_space": json.dumps(candidate["hyperparameter_space"]) if candidate.get("hyperparameter_space") else "",
            "default_hyperparameters": json.dumps(candidate.get("default_hyperparameters") or {}),
        }
    else:
        chosen = {"algorithm": args.algorithm, "model_version_id": "", "hyperparameter_space": "",
                  "default_hyperparameters": ""}
    try:
        tuning.plan(chosen["algorithm"], chosen["hyperparameter_space"], chosen["default_hyperparameters"], args.trials,
                    args.tuning_workers, args.tuning_metric)
    except ModelTrainerError as exc:
        raise UsageError(f"{type(exc).__name__}: {exc}") from None
    return chosen


def _pipeline_arguments(args: argparse.Namespace, out: Path | None) -> dict:
    """The pipeline's parameters; without `out` (a cluster run) the store URLs are left empty,
    so the tasks read them, credentials included, from the cluster's ConfigMap and Secret."""
    from sealtrain.components.core import quality, splitting, tables
    from sealtrain.components.core.constants import SPLITS
    from sealtrain.components.core.errors import InvalidInputError

    if args.data is None:
        data, label = DEMO["data"], args.label or DEMO["label"]
        positive = args.positive_class if args.positive_class is not None else DEMO["positive_class"]
        group = args.group if args.group is not None else DEMO["group"]
    elif not args.label:
        raise UsageError("--label is required with --data")
    else:
        data, label, positive, group = args.data, args.label, args.positive_class or "", args.group or ""
    data = str(data) if str(data).startswith(tables.GCS_SCHEME) else str(Path(data).resolve())
    try:
        splitting.check_ratios(dict(zip(SPLITS, args.split_ratios)), args.split_tolerance)
        fingerprint = tables.source_fingerprint(data)
        upstream = ""
        if args.qc_report:
            upstream = Path(args.qc_report).read_text()
            quality.parse_report(upstream, f"--qc-report {args.qc_report}")
    except InvalidInputError as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise UsageError(f"--qc-report {args.qc_report}: {exc.strerror}") from None
    return {
        "data_uri": data,
        "label_column": label,
        "positive_class": positive,
        "group_column": group,
        "drop_columns": list(args.drop),
        "time_column": args.time_column or "",
        "split_ratios": list(args.split_ratios),
        "split_salt": args.split_salt,
        "split_tolerance": args.split_tolerance,
        "stratify": args.stratify,
        "fail_on_duplicates": args.fail_on_duplicates,
        "data_fingerprint": fingerprint,
        "upstream_qc_report": upstream,
        **_candidate(args),
        "n_trials": args.trials,
        "tuning_workers": args.tuning_workers,
        "tuning_metric": args.tuning_metric,
        "tuning_timeout": args.tuning_timeout,
        "warm_start": args.warm_start,
        "optuna_storage_url": (args.optuna_storage or f"sqlite:///{out / 'optuna.db'}") if out else "",
        "seed": args.seed,
        "bootstrap_samples": args.bootstrap_samples,
        "min_auc": args.min_auc,
        "experiment_id": args.experiment,
        "mlflow_tracking_uri": (args.mlflow_uri or f"sqlite:///{out / 'mlflow.db'}") if out else "",
        "run_db_url": (args.db_url or f"sqlite:///{out / 'runs.db'}") if out else "",
    }


def leaf_tasks(spec) -> list[str]:
    """The names of the container tasks of a pipeline spec, through nested DAGs, sorted."""
    names, pending = [], [spec.root.dag]
    while pending:
        for name, task in pending.pop().tasks.items():
            component = spec.components[task.component_ref.name]
            if component.HasField("dag"):
                pending.append(component.dag)
            else:
                names.append(name)
    return sorted(names)


class Progress:
    """Turns kfp.local's log stream into one line per stage, and remembers failures."""

    def __init__(self, tasks: list[str]):
        self.tasks, self.done, self.started = tasks, 0, {}
        self.failed: str | None = None
        self.error: str | None = None
        self._last_error: str | None = None

    def feed(self, line: str) -> None:
        """Consumes one line of the child's output."""
        if match := TASK_START.search(line):
            self.started[match.group(1)] = time.monotonic()
            self._last_error = None
            print(f"[{self.done + 1}/{len(self.tasks)}] {match.group(1)} ...", flush=True)
        elif match := TASK_END.search(line):
            name, status = match.groups()
            self.done += 1
            took = time.monotonic() - self.started.get(name, time.monotonic())
            print(f"      {name}: {status.lower()} ({took:.1f}s)", flush=True)
            if status != "SUCCESS" and self.failed is None:
                self.failed, self.error = name, self._last_error
        elif PROGRESS_PREFIX in line:
            print("      " + line.split(PROGRESS_PREFIX, 1)[1], flush=True)
        elif match := ERROR_LINE.match(line):
            self._last_error = f"{match.group(1)}: {match.group(2)}"


def _run(args: argparse.Namespace) -> int:
    out = Path(args.output).resolve()
    arguments = _pipeline_arguments(args, out)
    from sealtrain.pipelines.summary import build_summary, render
    from sealtrain.pipelines.training_pipeline import training_pipeline

    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    log_path = out / "logs" / f"run-{stamp}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    pipeline_root = out / "pipeline_root"
    tasks = leaf_tasks(training_pipeline.pipeline_spec)
    print(f"sealtrain: training on {arguments['data_uri']} (label {arguments['label_column']!r}"
          + (f", group {arguments['group_column']!r}" if arguments["group_column"] else "") + ")")
    print(f"sealtrain: output in {out}, full log in {log_path}")
    with tempfile.TemporaryDirectory() as scratch:
        config = Path(scratch) / "config.json"
        result = Path(scratch) / "result.json"
        config.write_text(json.dumps({
            "pipeline_root": str(pipeline_root), "enable_caching": args.cache,
            "arguments": arguments, "result_path": str(result),
        }))
        progress = Progress(tasks)
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with log_path.open("w") as log, subprocess.Popen(
            [sys.executable, "-m", "sealtrain.pipelines.local_runner", str(config)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
        ) as child:
            for raw in child.stdout:
                line = ANSI.sub("", raw)
                log.write(line)
                progress.feed(line.rstrip("\n"))
        if child.returncode != 0 or not result.exists():
            where = f" in {progress.failed}" if progress.failed else ""
            print(f"error{where}: {progress.error or 'the pipeline failed'}", file=sys.stderr)
            print(f"full log: {log_path}", file=sys.stderr)
            return 1
        record = json.loads(result.read_text())
    # kfp.local says nothing about a cache hit; a task that never started came from the cache.
    cached = [t for t in tasks if t not in progress.started]
    summary = build_summary(record, str(pipeline_root), cached)
    print()
    print(render(summary))
    if args.summary_json:
        _write_atomically(Path(args.summary_json), json.dumps(summary, indent=2))
        print(f"Summary written to {args.summary_json}")
    return 0


def _compile(args: argparse.Namespace) -> int:
    if args.image:
        os.environ["SEALTRAIN_IMAGE"] = args.image
    from sealtrain.pipelines.compile import compile_pipeline

    compile_pipeline(Path(args.output))
    print(f"compiled pipeline written to {args.output}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    import yaml

    from sealtrain.components.core import isolation

    try:
        documents = list(yaml.safe_load_all(Path(args.pipeline).read_text()))
        spec = isolation.pipeline_document(documents)
    except (OSError, yaml.YAMLError, ValueError) as exc:
        raise UsageError(f"{args.pipeline}: not a readable compiled pipeline ({exc})") from None
    for split, readers in isolation.split_consumers(spec).items():
        names = ", ".join(f"{r.task} [{r.input}]" for r in readers) or "no task"
        print(f"{split:<11} read by {names}")
    problems = isolation.breaches(spec)
    for problem in problems:
        print(f"BREACH: {problem}")
    print(f"{args.pipeline}: {'split isolation holds' if not problems else f'{len(problems)} breach(es)'}")
    return 1 if problems else 0


def _add_pipeline_flags(parser: argparse.ArgumentParser) -> None:
    """The pipeline parameters that `run` and `submit` share."""
    from sealtrain.components.core.algorithms import REGISTRY
    from sealtrain.components.core.constants import (
        DEFAULT_ALGORITHM,
        DEFAULT_BOOTSTRAP_SAMPLES,
        DEFAULT_N_TRIALS,
        DEFAULT_RATIOS,
        DEFAULT_SPLIT_SALT,
        DEFAULT_TOLERANCE,
        SPLITS,
    )

    parser.add_argument("--label", help="binary label column (required with --data)")
    parser.add_argument("--positive-class", help="label value that counts as positive (inferred for 0/1, true/false)")
    parser.add_argument("--group", help="patient/group id column: no id ever appears in two splits")
    parser.add_argument("--drop", nargs="+", action="extend", default=[], metavar="COL", help="columns that are not features")
    parser.add_argument("--time-column", metavar="COL", help="date/number column: later periods go to test and holdout")
    parser.add_argument("--split-ratios", nargs=4, type=float, default=[DEFAULT_RATIOS[s] for s in SPLITS],
                        metavar=("TRAIN", "VAL", "TEST", "HOLDOUT"), help="shares of rows (default 0.60 0.20 0.15 0.05)")
    parser.add_argument("--split-tolerance", type=float, default=DEFAULT_TOLERANCE,
                        help="allowed deviation of each split's share (default %(default)s)")
    parser.add_argument("--split-salt", default=DEFAULT_SPLIT_SALT,
                        help="salt of the patient hash; keep it to keep every patient's split (default %(default)s)")
    parser.add_argument("--stratify", action="store_true", help="give every split its share of positive patients")
    parser.add_argument("--fail-on-duplicates", action="store_true",
                        help="fail when identical feature rows land in two splits (default: report the count)")
    model = parser.add_mutually_exclusive_group()
    model.add_argument("--algorithm", default=DEFAULT_ALGORITHM, choices=sorted(REGISTRY))
    model.add_argument("--model-candidate", metavar="FILE",
                       help="JSON model candidate: algorithm_name, hyperparameter_space, default_hyperparameters, "
                            "model_version_id")
    parser.add_argument("--trials", type=int, default=DEFAULT_N_TRIALS, help="Optuna trials (default %(default)s)")
    parser.add_argument("--tuning-workers", type=int, default=1,
                        help="parallel tuning tasks sharing one Optuna study (default %(default)s)")
    parser.add_argument("--tuning-metric", default="auc", choices=("auc", "pr_auc", "log_loss"),
                        help="validation objective of tuning (default %(default)s)")
    parser.add_argument("--tuning-timeout", type=float, default=0.0, metavar="SECONDS",
                        help="wall-clock limit of each tuning worker (default: none)")
    parser.add_argument("--warm-start", action="store_true",
                        help="try the best configuration of the last completed run of the algorithm first")
    parser.add_argument("--seed", type=int, default=42, help="seed of tuning, training and bootstrap (default %(default)s)")
    parser.add_argument("--bootstrap-samples", type=int, default=DEFAULT_BOOTSTRAP_SAMPLES,
                        help="bootstrap resamples for the test intervals (default %(default)s)")
    parser.add_argument("--min-auc", type=float, default=0.0,
                        help="register the model only if the lower 95%% bound of its test AUC reaches this")
    parser.add_argument("--qc-report", metavar="FILE", help="QC report (JSON) from an upstream data-quality step")
    parser.add_argument("--experiment", default="sealtrain",
                        help="MLflow experiment, experiment id and KFP experiment (default %(default)s)")


def _submit(args: argparse.Namespace) -> int:
    from sealtrain.components.core.tables import GCS_SCHEME

    if not args.data.startswith(GCS_SCHEME):
        raise UsageError("--data must be a gs:// URI: the cluster cannot read a path on this machine")
    if args.image:
        os.environ["SEALTRAIN_IMAGE"] = args.image
    from sealtrain.pipelines.submit import SubmitError, submit

    arguments = _pipeline_arguments(args, None)
    try:
        result = submit(args.host, arguments, experiment=args.experiment, enable_caching=args.cache,
                        existing_token=os.environ.get(TOKEN_ENV))
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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sealtrain", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run the training pipeline locally with kfp.local",
                              description="Run the whole pipeline locally. Without --data it trains on the bundled "
                                          "covid_testing demo (label 'result', group 'subject_id').")
    run.add_argument("--data", help="input table: CSV, TSV (optionally .gz) or Parquet, a path or gs:// URI; "
                                    "default: the bundled demo")
    _add_pipeline_flags(run)
    run.add_argument("--output", default="sealtrain-output", metavar="DIR",
                     help="artifacts, logs and the embedded stores (default ./%(default)s)")
    run.add_argument("--summary-json", metavar="FILE", help="write the run summary as JSON")
    run.add_argument("--mlflow-uri", metavar="URI", help="MLflow tracking URI (default: SQLite in --output)")
    run.add_argument("--db-url", metavar="URL", help="run-table database, e.g. postgresql://... (default: SQLite in --output)")
    run.add_argument("--optuna-storage", metavar="URL", help="Optuna RDB storage (default: SQLite in --output)")
    run.add_argument("--cache", action="store_true", help="reuse results of unchanged steps from earlier runs")
    run.set_defaults(handler=_run)

    sub = commands.add_parser(
        "submit", help="upload the pipeline to a KFP cluster and start a run",
        description="Compile the pipeline, upload it as a new version of sealtrain-training and start a run, with "
                    "caching on unless --no-cache. MLflow, the run table and Optuna's storage are the cluster's "
                    f"(ConfigMap sealtrain-endpoints, Secret sealtrain-db). A bearer token, if needed, comes from {TOKEN_ENV}.")
    sub.add_argument("--host", required=True, metavar="URL", help="KFP API/UI base URL, e.g. http://localhost:8080")
    sub.add_argument("--data", required=True, metavar="gs://BUCKET/OBJECT", help="input table in Cloud Storage")
    _add_pipeline_flags(sub)
    sub.add_argument("--no-cache", dest="cache", action="store_false", help="run every step afresh")
    sub.add_argument("--image", help="runtime image of every component (default sealtrain:<version>)")
    sub.set_defaults(handler=_submit)

    comp = commands.add_parser("compile", help="compile the pipeline to KFP YAML")
    comp.add_argument("-o", "--output", required=True, metavar="FILE", help="where to write the YAML")
    comp.add_argument("--image", help="runtime image of every component (default sealtrain:<version>)")
    comp.set_defaults(handler=_compile)

    verify = commands.add_parser("verify", help="check split isolation in a compiled pipeline YAML",
                                 description="List every task that reads each split and exit 1 on any breach: test is "
                                             "read only by evaluate_model, holdout by no task, validation only by tuning "
                                             "and final training, train only by preprocessing, tuning and training.")
    verify.add_argument("pipeline", metavar="PIPELINE.yaml")
    verify.set_defaults(handler=_verify)

    image = commands.add_parser("image", help="the runtime image").add_subparsers(dest="image_command", required=True)
    build = image.add_parser("build", help="build images/Dockerfile with the Docker SDK (DOCKER_HOST selects the engine)")
    build.add_argument("--tag", help="image reference (default sealtrain:<version>)")
    build.add_argument("--push", action="store_true", help="push the tag after building (it must name a registry)")
    build.add_argument("--context", metavar="DIR", help="the sealtrain checkout (default: the current directory)")
    build.add_argument("--base-image", help="override the digest-pinned base image")
    build.set_defaults(handler=_image_build)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `sealtrain` console script."""
    args = _parser().parse_args(argv)
    if getattr(args, "trials", 1) < 1:
        print("error: --trials must be at least 1", file=sys.stderr)
        return 2
    try:
        return args.handler(args)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
