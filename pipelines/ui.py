"""`sealtrain ui`: the MLflow UI, and optionally the Optuna dashboard, on the stores of a local run.

`sealtrain run --output DIR` leaves MLflow's store in DIR (`mlflow.db`, artifacts in
`mlartifacts/`) and Optuna's in `optuna.journal` (`optuna.db` before). This serves them on
loopback as child processes, prints where the latest run and its registered model are, and
stops both on Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

DEFAULT_OUTPUT = "sealtrain-output"
DEFAULT_PORT = 5000
HOST = "127.0.0.1"
START_SECONDS = 180
STOP_SECONDS = 20
MLFLOW_STORE = "mlflow.db"
MLFLOW_ARTIFACTS = "mlartifacts"
# Optuna's store in an output folder -> optuna-dashboard's argument for it (an existing file's path means a
# journal): the journal file, else the SQLite file of runs made before it.
OPTUNA_STORES = {"optuna.journal": "{path}", "optuna.db": "sqlite:///{path}"}
# This MLflow's server otherwise starts a job runner that this machine cannot host.
MLFLOW_ENV = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}


class ServeError(Exception):
    """A server did not start."""


class NoRunError(ServeError):
    """The output folder holds no recorded run."""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Adds the `ui` subcommand to the `sealtrain` parser."""
    ui = subparsers.add_parser(
        "ui", help="open the MLflow UI on the results of a local `sealtrain run`",
        description="Serve the MLflow UI on the stores `sealtrain run --output DIR` wrote (DIR/mlflow.db, artifacts "
                    "in DIR/mlartifacts), print the links of the latest run and of its registered model, and keep "
                    "serving until Ctrl-C. Servers listen on 127.0.0.1 only.")
    ui.add_argument("--output", default=DEFAULT_OUTPUT, metavar="DIR",
                    help="the folder `sealtrain run --output` wrote (default: ./%(default)s)")
    ui.add_argument("--port", type=int, default=DEFAULT_PORT, metavar="N",
                    help="port of the MLflow UI (default: %(default)s)")
    ui.add_argument("--optuna", action="store_true",
                    help="also serve the Optuna dashboard on DIR/optuna.journal (or an older run's DIR/optuna.db), "
                         "on port N+1 (needs `pip install optuna-dashboard`) (default: off)")
    ui.set_defaults(handler=serve)


def serve(args: argparse.Namespace) -> int:
    """Runs the UIs until Ctrl-C (or SIGTERM); returns the exit code."""
    out = Path(args.output)
    store = out / MLFLOW_STORE
    if not store.is_file():
        return _error(f"{out} holds no run (no {MLFLOW_STORE}); run `sealtrain run --output {out}` first")
    ports = [args.port, args.port + 1] if args.optuna else [args.port]
    busy = [port for port in ports if not _port_free(port)]
    if busy:
        return _error(f"port {busy[0]} on {HOST} is in use; choose another with --port")
    logs = out / "logs"
    logs.mkdir(exist_ok=True)
    # Ctrl-C stops the servers even when started in the background (where SIGINT is inherited ignored); so does SIGTERM.
    previous = {signal.SIGINT: signal.signal(signal.SIGINT, signal.default_int_handler),
                signal.SIGTERM: signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))}
    children: list[subprocess.Popen] = []
    try:
        base = f"http://{HOST}:{args.port}"
        mlflow_log = logs / "ui-mlflow.log"
        children.append(_spawn([sys.executable, "-m", "mlflow", "server", "--host", HOST, "--port", str(args.port),
                                "--workers", "1", "--backend-store-uri", f"sqlite:///{store.resolve()}",
                                "--artifacts-destination", str((out / MLFLOW_ARTIFACTS).resolve())],
                               mlflow_log, MLFLOW_ENV))
        _wait(f"{base}/health", children[-1], mlflow_log)
        print(f"MLflow UI:         {base}/   (log {mlflow_log})", flush=True)
        _print_latest_run(base, out)
        if args.optuna:
            dashboard, store = _optuna_dashboard(), _optuna_store(out)
            if dashboard is None:
                print("Optuna dashboard:  not installed; install it with `pip install optuna-dashboard`", flush=True)
            elif store is None:
                print(f"Optuna dashboard:  {out} has no {' or '.join(OPTUNA_STORES)} (the run used another Optuna "
                      "storage)", flush=True)
            else:
                optuna_base, optuna_log = f"http://{HOST}:{args.port + 1}", logs / "ui-optuna.log"
                children.append(_spawn([dashboard, store, "--host", HOST, "--port", str(args.port + 1)], optuna_log,
                                       {}))
                _wait(f"{optuna_base}/", children[-1], optuna_log)
                print(f"Optuna dashboard:  {optuna_base}/   (log {optuna_log})", flush=True)
        print("Press Ctrl-C to stop.", flush=True)
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
        return _error(f"a server stopped unexpectedly; see the logs in {logs}", 1)
    except NoRunError as exc:
        return _error(str(exc))
    except ServeError as exc:
        return _error(str(exc), 1)
    except KeyboardInterrupt:
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the shutdown short
        _stop(children)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _error(message: str, code: int = 2) -> int:
    print(f"error: {message}", file=sys.stderr, flush=True)
    return code


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        # As the servers do: connections of an earlier server in TIME_WAIT do not make the port busy.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


def _spawn(command: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen:
    # A session of its own: Ctrl-C reaches only sealtrain, which then stops each server's whole group.
    with log.open("w") as handle:
        return subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env={**os.environ, **env}, start_new_session=True)


def _wait(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServeError(f"{Path(process.args[0]).name} exited with {process.returncode}; see {log}")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(0.5)
    raise ServeError(f"{url} did not answer within {START_SECONDS}s; see {log}")


def _api(base: str, path: str, body: dict | None = None, query: dict | None = None) -> dict:
    """Calls MLflow's REST API: POST with a JSON body, or GET with a query."""
    url = f"{base}/api/2.0/mlflow/{path}" + (f"?{urllib.parse.urlencode(query)}" if query else "")
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def _print_latest_run(base: str, out: Path) -> None:
    """Prints the links of the newest recorded run (the parent of the trial runs) and its registered model."""
    experiments = {e["experiment_id"]: e["name"] for e in
                   _api(base, "experiments/search", {"max_results": 1000}).get("experiments", [])}
    runs = _api(base, "runs/search", {"experiment_ids": list(experiments), "filter": "tags.training_run_id LIKE '%'",
                                      "order_by": ["attributes.start_time DESC"], "max_results": 1}).get("runs", [])
    if not runs:
        raise NoRunError(f"{out} holds no recorded run in {MLFLOW_STORE}; run `sealtrain run --output {out}` first")
    info, tags = runs[0]["info"], {t["key"]: t["value"] for t in runs[0]["data"].get("tags", [])}
    print(f"Latest run:        {base}/#/experiments/{info['experiment_id']}/runs/{info['run_id']}   "
          f"(training run {tags['training_run_id']}, experiment {experiments[info['experiment_id']]})", flush=True)
    versions = _api(base, "model-versions/search", query={"filter": f"run_id='{info['run_id']}'"})
    for version in versions.get("model_versions", []):
        print(f"Registered model:  {base}/#/models/{urllib.parse.quote(version['name'])}/versions/{version['version']}",
              flush=True)
    if not versions.get("model_versions"):
        print(f"Registered model:  none ({tags.get('registration', 'not registered')})", flush=True)


def _optuna_dashboard() -> str | None:
    """The `optuna-dashboard` script beside this Python, else on PATH, else None."""
    return shutil.which("optuna-dashboard", path=os.pathsep.join([str(Path(sys.executable).parent),
                                                                    os.environ.get("PATH", "")]))


def _optuna_store(out: Path) -> str | None:
    """optuna-dashboard's storage argument for an output folder's Optuna store, or None without one."""
    for name, argument in OPTUNA_STORES.items():
        path = (out / name).resolve()
        if path.is_file():
            return argument.format(path=path)
    return None


def _stop(children: list[subprocess.Popen]) -> None:
    """Stops each server's process group: SIGTERM, then SIGKILL for what is left after STOP_SECONDS."""
    for child in children:
        _signal_group(child, signal.SIGTERM)
    for child in children:
        try:
            child.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            pass
        _signal_group(child, signal.SIGKILL)
        child.wait()


def _signal_group(child: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(child.pid, sig)
    except ProcessLookupError:
        pass


def main(argv: list[str] | None = None) -> int:
    """`python -m sealtrain.pipelines.ui [flags]`: the same as `sealtrain ui [flags]`."""
    parser = argparse.ArgumentParser(prog="sealtrain")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["ui", *(sys.argv[1:] if argv is None else argv)])
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
