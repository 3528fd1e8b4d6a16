"""The pipeline's parameters as `sealtrain run` and `sealtrain submit` take them: the flags
both commands share and how they become the pipeline's arguments."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

DEMO = {
    "data": Path(__file__).parent / "demo" / "covid_testing.csv.gz",
    "label": "result",
    "positive_class": "positive",
    "group": "subject_id",
}
CANDIDATE_KEYS = ("algorithm_name", "model_version_id", "hyperparameter_space", "default_hyperparameters")
# The flag of each store URL among the pipeline's arguments; a local run checks that each answers.
STORE_FLAGS = (("--db-url", "run_db_url"), ("--mlflow-uri", "mlflow_tracking_uri"),
               ("--optuna-storage", "optuna_storage_url"))
CREDENTIALS_HELP = ("set up Application Default Credentials (gcloud auth application-default login) or point "
                    "GOOGLE_APPLICATION_CREDENTIALS at a service-account key file, or pass --data-fingerprint")


class UsageError(Exception):
    """A flag or file the user gave cannot be used."""


def add_pipeline_flags(parser: argparse.ArgumentParser) -> None:
    """Adds the pipeline parameters that `run` and `submit` share (every help shows its default)."""
    from sealtrain.components.core.algorithms import REGISTRY
    from sealtrain.components.core.constants import (
        DEFAULT_ALGORITHM,
        DEFAULT_BOOTSTRAP_SAMPLES,
        DEFAULT_MAX_DUPLICATE_SHARE,
        DEFAULT_N_TRIALS,
        DEFAULT_RATIOS,
        DEFAULT_SPLIT_SALT,
        DEFAULT_TOLERANCE,
        SPLITS,
    )

    add = parser.add_argument
    add("--positive-class", metavar="VALUE",
        help="label value that counts as positive (default: inferred for 0/1 and true/false)")
    add("--group", metavar="COL", help="patient/group id column: no id ever appears in two splits (default: none, "
                                       "rows are keyed by content)")
    add("--no-group", action="store_true",
        help="state that rows are independent (no patient has two rows), so a column that looks like a patient id "
             "does not block a run without --group (default: off)")
    add("--drop", nargs="+", action="extend", default=[], metavar="COL", help="columns that are not features "
                                                                              "(default: none)")
    add("--time-column", metavar="COL", help="date/number column: later periods go to test and holdout "
                                             "(default: none, hashed split)")
    add("--split-ratios", nargs=4, type=float, default=[DEFAULT_RATIOS[s] for s in SPLITS],
        metavar=("TRAIN", "VAL", "TEST", "HOLDOUT"),
        help="shares of rows (default: " + " ".join(f"{DEFAULT_RATIOS[s]:.2f}" for s in SPLITS) + ")")
    add("--split-tolerance", type=float, default=DEFAULT_TOLERANCE, metavar="SHARE",
        help="allowed deviation of each split's share (default: %(default)s)")
    add("--split-salt", default=DEFAULT_SPLIT_SALT, metavar="SALT",
        help="salt of the patient hash; keep it to keep every patient's split (default: %(default)s)")
    add("--stratify", action="store_true", help="give every split its share of positive patients (default: off)")
    add("--max-duplicate-share", type=float, default=DEFAULT_MAX_DUPLICATE_SHARE, metavar="SHARE",
        help="largest share of test or holdout rows that may repeat a train patient's feature values; above it the "
             "run fails (default: %(default)s)")
    add("--allow-feature", dest="allow_features", nargs="+", action="extend", default=[], metavar="COL",
        help="features kept although they alone separate the label on train; recorded in the split manifest "
             "(default: none)")
    add("--data-fingerprint", metavar="FINGERPRINT",
        help="the data's fingerprint, to skip reading the data here: a file's SHA-256, or gcs:GENERATION:MD5 for a "
             "gs:// object (`gcloud storage objects describe`); of a Parquet dataset, dir: + the SHA-256 of one JSON "
             'line ["NAME", "SHA256"] per file of a directory, or gcs-prefix: + the SHA-256 of one JSON line '
             '["NAME", GENERATION, "MD5"] per object of a gs:// prefix, lines sorted by the name relative to the '
             "dataset, items separated by ', ', each line ending in a newline, names starting with . or _ left out. "
             "A gs:// table's columns are then checked by the pipeline rather than before it; the load-dataset task "
             "still checks the fingerprint (default: computed from the data, without loading it)")
    model = parser.add_mutually_exclusive_group()
    model.add_argument("--algorithm", default=DEFAULT_ALGORITHM, choices=sorted(REGISTRY), metavar="NAME",
                       help="model family to tune and train (default: %(default)s; choices: %(choices)s)")
    model.add_argument("--model-candidate", metavar="FILE",
                       help="JSON object with algorithm_name and optionally hyperparameter_space, "
                            "default_hyperparameters, model_version_id (default: --algorithm with its built-in space)")
    add("--trials", type=int, default=DEFAULT_N_TRIALS, metavar="N",
        help="Optuna trials (default: %(default)s)")
    add("--tuning-workers", type=int, default=1, metavar="N",
        help="parallel tuning tasks sharing one Optuna study (default: %(default)s)")
    add("--tuning-metric", default="auc", choices=("auc", "pr_auc", "log_loss"), metavar="METRIC",
        help="validation objective of tuning: auc, pr_auc or log_loss (default: %(default)s)")
    add("--tuning-timeout", type=float, default=0.0, metavar="SECONDS",
        help="wall-clock limit of each tuning worker, 0 for none (default: %(default)s)")
    add("--warm-start", action="store_true",
        help="try the best configuration of the last completed run of the algorithm first (default: off)")
    add("--seed", type=int, default=42, metavar="N",
        help="seed of tuning, training and bootstrap (default: %(default)s)")
    add("--bootstrap-samples", type=int, default=DEFAULT_BOOTSTRAP_SAMPLES, metavar="N",
        help="bootstrap resamples for the test intervals (default: %(default)s)")
    add("--min-auc", type=float, default=0.0, metavar="AUC",
        help="register the model only if the lower 95%% bound of its test AUC reaches this (default: %(default)s)")
    add("--max-test-evaluations", type=int, default=0, metavar="N",
        help="how many models of the experiment may be evaluated on one test split; a run beyond it stops before "
             "tuning, as every look at the test split tunes the model choice to it (default: %(default)s, no limit)")
    add("--qc-report", metavar="FILE", help="QC report (JSON) from an upstream data-quality step (default: none)")
    add("--engine", default="pandas", choices=("pandas", "dask"), metavar="ENGINE",
        help="where the compute steps run: pandas (each task in its own process) or dask (load, QC, split, "
             "preprocessing, tuning, training and evaluation on a Dask cluster; xgboost only, with --group or "
             "--no-group) (default: %(default)s)")
    add("--dask-scheduler", default="", metavar="ADDRESS",
        help="with --engine dask, a running Dask scheduler (tcp://HOST:8786) (default: a cluster per task: on "
             "Kubernetes a DaskCluster through the dask-kubernetes operator, else a LocalCluster sized to the machine)")
    add("--dask-workers", type=int, default=0, metavar="N",
        help="with --engine dask and no --dask-scheduler, the workers of each task's cluster; 0 sizes a "
             "LocalCluster to the machine and gives a DaskCluster 2 (default: %(default)s)")
    add("--experiment", default="sealtrain", metavar="NAME",
        help="MLflow experiment, experiment id and KFP experiment (default: %(default)s)")


def candidate(args: argparse.Namespace) -> dict:
    """The model candidate's pipeline arguments, from --model-candidate or --algorithm.

    Raises:
        UsageError: The candidate file is unreadable or malformed, or its tuning plan is invalid.
    """
    from sealtrain.components.core import tuning_plan
    from sealtrain.components.core.errors import ModelTrainerError

    if args.model_candidate:
        where = f"--model-candidate {args.model_candidate}"
        try:
            given = json.loads(Path(args.model_candidate).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise UsageError(f"{where}: {exc}") from None
        if not isinstance(given, dict):
            raise UsageError(f"{where}: holds a JSON {type(given).__name__}, not an object with "
                             f"{', '.join(CANDIDATE_KEYS)}")
        unknown = sorted(set(given) - set(CANDIDATE_KEYS))
        if "algorithm_name" not in given or unknown:
            raise UsageError(f"{where}: needs algorithm_name and may have {', '.join(CANDIDATE_KEYS[1:])}"
                             + (f" (unknown: {', '.join(unknown)})" if unknown else ""))
        for key, kind in (("algorithm_name", str), ("model_version_id", str), ("hyperparameter_space", dict),
                          ("default_hyperparameters", dict)):
            if given.get(key) is not None and not isinstance(given[key], kind):
                raise UsageError(f"{where}: {key} must be a JSON {'string' if kind is str else 'object'}, "
                                 f"got {json.dumps(given[key])}")
        chosen = {
            "algorithm": given["algorithm_name"],
            "model_version_id": given.get("model_version_id") or "",
            "hyperparameter_space": json.dumps(given["hyperparameter_space"]) if given.get("hyperparameter_space")
            else "",
            "default_hyperparameters": json.dumps(given.get("default_hyperparameters") or {}),
        }
    else:
        chosen = {"algorithm": args.algorithm, "model_version_id": "", "hyperparameter_space": "",
                  "default_hyperparameters": ""}
    try:
        tuning_plan.plan(chosen["algorithm"], chosen["hyperparameter_space"], chosen["default_hyperparameters"],
                         args.trials, args.tuning_workers, args.tuning_metric)
    except ModelTrainerError as exc:
        raise UsageError(f"{type(exc).__name__}: {exc}") from None
    return chosen


def _fingerprint(data: str) -> str:
    """The data's fingerprint, with missing Cloud credentials turned into a usage error."""
    from google.auth.exceptions import DefaultCredentialsError

    from sealtrain.components.core import tables

    try:
        return tables.source_fingerprint(data)
    except DefaultCredentialsError:
        raise UsageError(f"--data {data}: no Google Cloud credentials to read it with; {CREDENTIALS_HELP}") from None


def pipeline_arguments(args: argparse.Namespace, out: Path | None) -> dict:
    """The pipeline's parameters from the parsed flags, every one checked before anything runs.

    Args:
        args: The flags of `run` or `submit`.
        out: The local output directory; None for a cluster run, whose store URLs are left
            empty so the tasks read them, credentials included, from the cluster's ConfigMap
            and Secret.

    Raises:
        UsageError: A flag, a column or a file cannot be used, or a store of a local run does
            not answer (see `preflight`).
    """
    from sealtrain.components.core import tables
    from sealtrain.components.core.errors import InvalidInputError
    from sealtrain.pipelines import preflight

    if args.data is None:
        data, label = DEMO["data"], args.label or DEMO["label"]
        positive = args.positive_class if args.positive_class is not None else DEMO["positive_class"]
        group = args.group if args.group is not None else DEMO["group"]
    elif not args.label:
        raise UsageError("--label is required with --data")
    else:
        data, label, positive, group = args.data, args.label, args.positive_class or "", args.group or ""
    data = str(data) if str(data).startswith(tables.GCS_SCHEME) else str(Path(data).resolve())
    preflight.check_numbers(args)
    upstream = preflight.qc_report(args.qc_report) if args.qc_report else ""
    chosen = candidate(args)
    if out:
        preflight.check_writable("--output", out)
    try:
        fingerprint = args.data_fingerprint or _fingerprint(data)
    except InvalidInputError as exc:
        raise UsageError(str(exc)) from None
    arguments = {
        "data_uri": data,
        "label_column": label,
        "positive_class": positive,
        "group_column": group,
        "no_group": args.no_group,
        "drop_columns": list(args.drop),
        "time_column": args.time_column or "",
        "split_ratios": list(args.split_ratios),
        "split_salt": args.split_salt,
        "split_tolerance": args.split_tolerance,
        "stratify": args.stratify,
        "max_duplicate_share": args.max_duplicate_share,
        "allow_features": list(args.allow_features),
        "data_fingerprint": fingerprint,
        "upstream_qc_report": upstream,
        **chosen,
        "n_trials": args.trials,
        "tuning_workers": args.tuning_workers,
        "tuning_metric": args.tuning_metric,
        "tuning_timeout": args.tuning_timeout,
        "warm_start": args.warm_start,
        "optuna_storage_url": (args.optuna_storage or f"journal://{out / 'optuna.journal'}") if out else "",
        "seed": args.seed,
        "bootstrap_samples": args.bootstrap_samples,
        "min_auc": args.min_auc,
        "max_test_evaluations": args.max_test_evaluations,
        "experiment_id": args.experiment,
        "mlflow_tracking_uri": (args.mlflow_uri or f"sqlite:///{out / 'mlflow.db'}") if out else "",
        "run_db_url": (args.db_url or f"sqlite:///{out / 'runs.db'}") if out else "",
        "engine": args.engine,
        "dask_scheduler": args.dask_scheduler,
        "dask_workers": args.dask_workers,
    }
    preflight.check_engine(arguments, local=out is not None)
    if not (args.data_fingerprint and data.startswith(tables.GCS_SCHEME)):
        preflight.check_table(arguments)
    if out:
        for flag, key in STORE_FLAGS:
            preflight.check_store(flag, arguments[key])
    return arguments
