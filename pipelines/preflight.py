"""The checks `sealtrain run` and `sealtrain submit` make before anything runs.

Each mistake a user can make in a flag, the table's columns or a store's address is found
here in seconds, with one line naming the flag, column, file or URL, instead of minutes into
the pipeline. Nothing is written: the output directory is looked at, not created.
"""

from __future__ import annotations

import argparse
import math
import os
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from sealtrain.pipelines.contract import UsageError

# How long a store may take to answer before the run is refused; three stores stay under 20 s.
STORE_TIMEOUT_SECONDS = 5
# Largest seed every consumer takes (NumPy's generators, scikit-learn and XGBoost).
MAX_SEED = 2**31 - 1
# The valid range (low, high; None for no bound) of each numeric flag, by its argparse dest.
RANGES = {
    "trials": (1, None),
    "tuning_workers": (1, None),
    "tuning_timeout": (0, None),
    "seed": (0, MAX_SEED),
    "bootstrap_samples": (1, None),
    "min_auc": (0, 1),
    "max_duplicate_share": (0, 1),
    "max_test_evaluations": (0, None),
    "dask_workers": (0, None),
}
# Seconds a Dask scheduler may take to answer before the run is refused.
SCHEDULER_TIMEOUT_SECONDS = 5
# An HTTP answer that proves a tracking server is there although it refuses anonymous requests.
AUTH_STATUSES = (401, 403)


def check_numbers(args: argparse.Namespace) -> None:
    """Checks every numeric flag against its range, and the split ratios with their tolerance.

    Raises:
        UsageError: A value is out of range; the message names the flag.
    """
    from sealtrain.components.core import splitting
    from sealtrain.components.core.constants import SPLITS
    from sealtrain.components.core.errors import InvalidInputError

    for dest, (low, high) in RANGES.items():
        value, flag = getattr(args, dest), "--" + dest.replace("_", "-")
        if not math.isfinite(value):
            raise UsageError(f"{flag} must be a finite number, got {value}")
        if high is None and value < low:
            raise UsageError(f"{flag} must be at least {low}, got {value}")
        if high is not None and not low <= value <= high:
            raise UsageError(f"{flag} must be between {low} and {high}, got {value}")
    try:
        splitting.check_ratios(dict(zip(SPLITS, args.split_ratios)), args.split_tolerance)
    except InvalidInputError as exc:
        raise UsageError(f"--split-ratios/--split-tolerance: {exc}") from None


def qc_report(path: str) -> str:
    """The text of an upstream QC report, checked against the report's schema.

    Raises:
        UsageError: The file is unreadable, not JSON, or has a missing or unknown key.
    """
    from sealtrain.components.core import quality
    from sealtrain.components.core.errors import InvalidInputError

    where = f"--qc-report {path}"
    try:
        text = Path(path).read_text()
        quality.parse_report(text, where)
    except OSError as exc:
        raise UsageError(f"{where}: {exc.strerror}") from None
    except InvalidInputError as exc:
        raise UsageError(str(exc)) from None
    return text


def check_writable(flag: str, path: Path) -> None:
    """Checks that a directory is writable, or could be created, without creating it.

    Raises:
        UsageError: The nearest existing ancestor is a file or not writable.
    """
    existing = path
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise UsageError(f"{flag} {path}: {existing} is a file, not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UsageError(f"{flag} {path}: {existing} is not writable")


def check_table(arguments: dict) -> None:
    """Reads the table's header and label column and checks the column roles against them.

    The label, group, time and drop columns must exist, the label must have two values and
    the positive class must be one of them. Only the header and the label column are parsed.

    Raises:
        UsageError: A column is missing, the label is not binary, the positive class does not
            occur, or the table cannot be read; the message names the column or the file.
    """
    import pandas as pd

    from sealtrain.components.core import schema, tables
    from sealtrain.components.core.errors import InvalidInputError

    data = arguments["data_uri"]
    spec = schema.DatasetSpec(
        label=arguments["label_column"], positive_class=arguments["positive_class"],
        group=arguments["group_column"], drop=tuple(arguments["drop_columns"]), time=arguments["time_column"],
        no_group=arguments["no_group"],
    )
    try:
        header, frame = tables.read_columns(data, [spec.label])
        schema.require_columns(pd.DataFrame(columns=header), spec, f"--data {data}")
        schema.positive_label(frame[spec.label], spec)
    except InvalidInputError as exc:
        raise UsageError(str(exc)) from None


def _refused(flag: str, url: str, cause: object) -> UsageError:
    """The one-line error of an unusable store: its URL and the cause, both without the password."""
    from sealtrain.components.core.endpoints import redact, scrub

    line = next((part.strip() for part in str(cause).splitlines() if part.strip()), type(cause).__name__)
    return UsageError(f"{flag} {redact(url)}: {scrub(line, url)}")


def _check_database(flag: str, url: str) -> None:
    """Connects to a database server, waiting at most STORE_TIMEOUT_SECONDS."""
    import sqlalchemy as sa

    from sealtrain.components.core.endpoints import normalise_url

    try:
        engine = sa.create_engine(normalise_url(url), connect_args={"connect_timeout": STORE_TIMEOUT_SECONDS})
    except (sa.exc.ArgumentError, ImportError) as exc:
        raise _refused(flag, url, f"not a usable database URL ({exc})") from None
    try:
        with engine.connect():
            pass
    except sa.exc.DBAPIError as exc:
        raise _refused(flag, url, exc.orig) from None
    finally:
        engine.dispose()


def _check_sqlite(flag: str, url: str) -> None:
    """Checks that a SQLite file can be written or created, without creating it."""
    import sqlalchemy as sa

    database = sa.engine.make_url(url).database
    if database and database != ":memory:":
        _check_file(flag, url, Path(database))


def _check_file(flag: str, url: str, path: Path) -> None:
    """Checks that a store's file (SQLite, Optuna journal) can be written or created, without creating it."""
    path = path.resolve()
    if path.exists() and not (path.is_file() and os.access(path, os.R_OK | os.W_OK)):
        raise UsageError(f"{flag} {url}: {path} is not a writable file")
    check_writable(flag, path.parent)


def _check_tracking_server(flag: str, url: str) -> None:
    """Asks an MLflow server's health endpoint, waiting at most STORE_TIMEOUT_SECONDS."""
    from sealtrain.components.core.endpoints import without_credentials

    # The health endpoint needs no credentials, and urllib cannot send those of the URL.
    parts = urlsplit(without_credentials(url)[0])
    health = urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/") + "/health", "", ""))
    try:
        with urllib.request.urlopen(health, timeout=STORE_TIMEOUT_SECONDS):
            pass
    except urllib.error.HTTPError as exc:
        if exc.code not in AUTH_STATUSES:
            raise _refused(flag, url, f"{health} answered HTTP {exc.code}; is it an MLflow tracking server?") from None
    except (urllib.error.URLError, OSError) as exc:
        raise _refused(flag, url, getattr(exc, "reason", exc)) from None


def check_store(flag: str, url: str) -> None:
    """Checks that a store answers now: a database server (run table, Optuna, MLflow's
    backend), an MLflow tracking server, or a SQLite file, Optuna journal file (`journal://PATH`)
    or MLflow directory that can be written.

    Other schemes (such as `databricks`) are left to the tasks.

    Raises:
        UsageError: The store is unreachable or unwritable; the message names the flag, the URL
            without its password and the cause.
    """
    from sealtrain.components.core.endpoints import journal_path

    scheme, journal = urlsplit(url).scheme, journal_path(url)
    if journal is not None:
        _check_file(flag, url, Path(journal))
    elif scheme == "sqlite":
        _check_sqlite(flag, url)
    elif scheme in ("http", "https"):
        _check_tracking_server(flag, url)
    elif scheme.startswith(("postgres", "mysql")):
        _check_database(flag, url)
    elif scheme in ("", "file"):
        check_writable(flag, Path(urlsplit(url).path if scheme else url))


def check_engine(arguments: dict, local: bool) -> None:
    """Refuses what the Dask engine cannot run, and a scheduler that does not answer, before anything runs.

    Args:
        arguments: The pipeline's arguments.
        local: The run is local (`sealtrain run`): its scheduler must answer from here. A
            submitted run's scheduler is an address inside the cluster, which this machine
            need not reach, so it is left to the tasks.

    Raises:
        UsageError: --engine dask with an algorithm that has no distributed
            implementation, with --dask-workers and --dask-scheduler together, or (locally)
            with a scheduler that does not answer; --dask-* flags without --engine dask.
    """
    engine, scheduler = arguments["engine"], arguments["dask_scheduler"]
    if engine != "dask":
        if scheduler or arguments["dask_workers"]:
            raise UsageError("--dask-scheduler and --dask-workers apply to --engine dask only")
        return
    from sealtrain.components.core.distributed.training import DISTRIBUTED_ALGORITHMS

    if arguments["algorithm"] not in DISTRIBUTED_ALGORITHMS:
        raise UsageError(f"--engine dask with algorithm {arguments['algorithm']!r}: it has no distributed "
                         f"implementation (dask trains {', '.join(DISTRIBUTED_ALGORITHMS)}); use --engine pandas")
    if scheduler and arguments["dask_workers"]:
        raise UsageError(f"--dask-workers sizes the cluster each task starts, not the scheduler at {scheduler}: size "
                         "its workers where they are started")
    if not (scheduler and local):
        # Without a scheduler each task starts its own cluster: a LocalCluster, or on Kubernetes a DaskCluster.
        return
    from distributed import Client

    try:
        with Client(scheduler, timeout=SCHEDULER_TIMEOUT_SECONDS):
            pass
    except (OSError, TimeoutError, ValueError) as exc:
        raise UsageError(f"--dask-scheduler {scheduler}: no Dask scheduler answered within "
                         f"{SCHEDULER_TIMEOUT_SECONDS} s ({exc})") from None
