"""The Dask engine on a generated table of tens of millions of rows, and the pandas engine on the same table.

Data (`generate`, seeded): a Parquet directory of `ROWS_PER_FILE`-row files of patient
visits, `VISITS_PER_PATIENT` visits per patient, patients numbered from 0 (`patient_id`,
int64, the group column). Per patient: `age` (uniform integer 18-90), `sex` (F/M), `site`
(one of `SITES` hospitals, uneven sizes) and a latent risk u ~ N(0, 1). Per visit: `visit`
(1..VISITS_PER_PATIENT), `LAB_COLUMNS` lab values, each N(patient mean, 1) where the patient
mean is N(0, 1), missing (NaN) with probability `MISSING_SHARE`, and `outcome` (0/1), drawn
from logistic(-2.2 + 0.03 (age - 50) + 0.4 [sex = M] + 0.5 lab_0 - 0.4 lab_1 + 0.3 lab_2 lab_3
+ 0.8 u) with the lab values before they go missing. About 20% of visits are positive; the
latent u makes a patient's visits correlated, so a split that let a patient into two splits
would overstate the test AUC. File k is drawn from the generator seeded with (seed, k), so a
table of any size is reproducible file by file.

What is measured, one engine after the other in one invocation, both through `sealtrain run`
on the same directory with the same flags (`--group patient_id`, `--trials`, `--seed`) and the
same one-point search space (`CANDIDATE`: xgboost, depth 6, learning rate 0.3), so that the
figures are the pipeline's at scale, not a search's, and both engines fit the same model:
- Dask: a LocalCluster started here with `--workers` single-threaded worker processes each
  limited to `--worker-memory` (they spill to disk under it and are restarted by their nanny
  above it), passed to the run as `--dask-scheduler`. Reported: wall time, rows per second,
  the time of each stage, the peak RSS of each worker (the kernel's high-water mark, VmHWM,
  read from /proc as each stage ends and then reset, so each stage's peak is exact and the
  run's is their maximum) and the bytes it spilled to disk, and the peak RSS of
  every sealtrain process (the tasks, which on Dask hold only statistics, models and scores).
- pandas: the default engine, every task loading its split into its own process. Reported:
  the same, or its failure (a task killed for memory is reported with its exit status).
- The test AUC of both runs.

Run: .venv/bin/python benchmarks/dask_scale.py [--rows 20000000] [--workers 2] [--worker-memory 4GB]
     [--trials 1] [--engines dask,pandas] [--workdir DIR] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

# Run as a script, this directory is on sys.path: the run watcher (its /proc sampler and stage lines) is
# the pipeline benchmark's.
from pipeline_benchmark import SEALTRAIN, _high_water_kb, machine, watch

SEED = 42
ROWS_PER_FILE = 1_000_000
VISITS_PER_PATIENT = 20
LAB_COLUMNS = 8
MISSING_SHARE = 0.05
SITES = 25
LABEL, GROUP = "outcome", "patient_id"
BOOTSTRAP_SAMPLES = 200
CANDIDATE = {"algorithm_name": "xgboost", "hyperparameter_space": {"max_depth": [6]},
             "default_hyperparameters": {"learning_rate": 0.3}}


def generate_file(index: int, rows: int, seed: int = SEED) -> pd.DataFrame:
    """File `index` of the table: `rows` visits (a multiple of VISITS_PER_PATIENT) of the next patients."""
    if rows % VISITS_PER_PATIENT:
        raise ValueError(f"rows per file must be a multiple of {VISITS_PER_PATIENT}, got {rows}")
    rng = np.random.default_rng([seed, index])
    patients = rows // VISITS_PER_PATIENT
    first = index * (ROWS_PER_FILE // VISITS_PER_PATIENT)
    age = rng.integers(18, 91, patients)
    male = rng.random(patients) < 0.5
    # The sites' sizes are the table's, not the file's.
    site = rng.choice(SITES, patients, p=np.random.default_rng(seed).dirichlet(np.full(SITES, 2.0)))
    risk = rng.standard_normal(patients)
    lab_means = rng.standard_normal((patients, LAB_COLUMNS))

    def per_visit(values: np.ndarray) -> np.ndarray:
        return np.repeat(values, VISITS_PER_PATIENT, axis=0)

    labs = per_visit(lab_means) + rng.standard_normal((rows, LAB_COLUMNS))
    logit = (-2.2 + 0.03 * (per_visit(age) - 50) + 0.4 * per_visit(male) + 0.5 * labs[:, 0] - 0.4 * labs[:, 1]
             + 0.3 * labs[:, 2] * labs[:, 3] + 0.8 * per_visit(risk))
    outcome = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype("int8")
    labs[rng.random(labs.shape) < MISSING_SHARE] = np.nan
    frame = pd.DataFrame({
        GROUP: per_visit(np.arange(first, first + patients, dtype="int64")),
        "visit": np.tile(np.arange(1, VISITS_PER_PATIENT + 1, dtype="int16"), patients),
        "age": per_visit(age).astype("int16"),
        "sex": np.where(per_visit(male), "M", "F"),
        "site": np.array([f"site_{s:02d}" for s in range(SITES)])[per_visit(site)],
    })
    for column in range(LAB_COLUMNS):
        frame[f"lab_{column}"] = labs[:, column].astype("float32")
    frame[LABEL] = outcome
    return frame


def generate(rows: int, directory: Path, seed: int = SEED) -> Path:
    """Writes the table as `part-NNNNN.parquet` files of ROWS_PER_FILE rows (the last may be shorter).

    An existing directory with the same rows and seed (its `_generated.json`) is reused.
    """
    stamp = {"rows": rows, "seed": seed, "rows_per_file": ROWS_PER_FILE}
    marker = directory / "_generated.json"
    if marker.exists() and json.loads(marker.read_text()) == stamp:
        return directory
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("part-*.parquet"):
        stale.unlink()
    for index, start in enumerate(range(0, rows, ROWS_PER_FILE)):
        frame = generate_file(index, min(ROWS_PER_FILE, rows - start), seed)
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), directory / f"part-{index:05d}.parquet")
        print(f"generated {start + len(frame):,} / {rows:,} rows", file=sys.stderr, flush=True)
    # Underscore files are skipped by Parquet dataset readers.
    marker.write_text(json.dumps(stamp))
    return directory


def run(engine: str, data: Path, rows: int, trials: int, workdir: Path, extra: list[str],
        on_stage_end: Callable[[str], None] | None = None) -> dict:
    """`sealtrain run` on the table; its wall time, stages, memory and test AUC, or how it failed."""
    out = Path(tempfile.mkdtemp(prefix=f"dask-scale-{engine}-", dir=workdir))
    summary_path, candidate = out / "summary.json", out / "candidate.json"
    candidate.write_text(json.dumps(CANDIDATE))
    command = [str(SEALTRAIN), "run", "--data", str(data), "--label", LABEL, "--group", GROUP,
               "--model-candidate", str(candidate), "--trials", str(trials), "--seed", str(SEED),
               "--bootstrap-samples", str(BOOTSTRAP_SAMPLES),
               "--engine", engine, *extra, "--output", str(out / "output"), "--summary-json", str(summary_path)]
    run = watch(command, echo=f"  [{engine}] ", on_stage_end=on_stage_end)
    result = {
        "engine": engine,
        "exit_status": run.exit_status,
        "wall_seconds": round(run.wall_seconds, 1),
        "rows_per_second": round(rows / run.wall_seconds),
        "stages": run.stages,
        "peak_rss_mb_by_process": run.peaks,
    }
    if result["exit_status"] != 0 or not summary_path.exists():
        result["failure"] = "".join(run.output[-15:])
        return result
    summary = json.loads(summary_path.read_text())
    result["test_auc"] = summary["metrics"]["test"]["auc"]
    result["test_auc_ci"] = summary["confidence_interval"]["auc"]
    return result


def _clear_high_water(pid: int) -> None:
    """Resets a process's VmHWM to its current RSS (Linux: 5 in /proc/PID/clear_refs)."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:  # the process has gone
        pass


def _spilled_bytes(dask_worker) -> int:
    """Bytes a worker has written to disk under its memory limit (its SpillBuffer's total)."""
    spilled = getattr(dask_worker.data, "spilled_total", None)
    return int(spilled.disk) if spilled is not None else 0


def run_dask(data: Path, rows: int, trials: int, workdir: Path, workers: int, worker_memory: str) -> dict:
    """The Dask engine on a LocalCluster of memory-limited workers that outlives the run's tasks."""
    from distributed import Client, LocalCluster

    with (
        LocalCluster(n_workers=workers, threads_per_worker=1, memory_limit=worker_memory,
                     dashboard_address="127.0.0.1:0", local_directory=str(workdir / "dask-spill")) as cluster,
        Client(cluster) as client,
    ):
        pids = client.run(os.getpid)
        by_stage: dict[str, dict[str, float]] = {address: {} for address in pids}

        def stage_ended(stage: str) -> None:
            # Tasks run one after the other: a worker's peak since the last stage ended is this stage's.
            for address, pid in pids.items():
                by_stage[address][stage] = round((_high_water_kb(pid) or 0) / 1024, 1)
                _clear_high_water(pid)

        result = run("dask", data, rows, trials, workdir, ["--dask-scheduler", cluster.scheduler_address],
                     on_stage_end=stage_ended)
        # A worker killed and restarted by its nanny has a new pid: its predecessor's peak is lost,
        # so the restarts are counted apart.
        now = client.run(os.getpid)
        result["workers"] = {
            address: {"peak_rss_mb": max([round((_high_water_kb(pid) or 0) / 1024, 1), *by_stage[address].values()]),
                      "peak_rss_mb_by_stage": by_stage[address], "restarted": now.get(address) != pid}
            for address, pid in pids.items()
        }
        for address, spilled in client.run(_spilled_bytes).items():
            if address in result["workers"]:
                result["workers"][address]["spilled_mb"] = round(spilled / 2**20, 1)
        result["worker_memory_limit"] = worker_memory
    return result


def report(rows: int, results: list[dict]) -> str:
    """The text table of the runs."""
    lines = [f"== {rows:,} rows"]
    for r in results:
        head = f"{r['engine']:<7}"
        if "failure" in r:
            lines.append(f"{head} FAILED (exit {r['exit_status']}) after {r['wall_seconds']:.0f} s:\n{r['failure']}")
            continue
        lines.append(f"{head} {r['wall_seconds']:8.1f} s, {r['rows_per_second']:,} rows/s, test AUC "
                     f"{r['test_auc']:.4f} [{r['test_auc_ci'][0]:.4f}, {r['test_auc_ci'][1]:.4f}]")
        lines.append("        stages: " + ", ".join(f"{k} {v:.0f}" for k, v in r["stages"].items()))
        for address, worker in r.get("workers", {}).items():
            lines.append(f"        worker {address}: peak {worker['peak_rss_mb']:.0f} MB of "
                         f"{r['worker_memory_limit']}, spilled {worker.get('spilled_mb', 0):.0f} MB"
                         + (", restarted" if worker["restarted"] else ""))
            highest = sorted(worker["peak_rss_mb_by_stage"].items(), key=lambda item: -item[1])[:3]
            lines.append("          highest in: " + ", ".join(f"{stage} {mb:.0f} MB" for stage, mb in highest))
        largest = max(r["peak_rss_mb_by_process"].items(), key=lambda item: item[1])
        lines.append(f"        largest sealtrain process: {largest[0]} {largest[1]:.0f} MB")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=20_000_000, help="rows of the table (default: %(default)s)")
    parser.add_argument("--workers", type=int, default=2, help="Dask workers (default: %(default)s)")
    parser.add_argument("--worker-memory", default="4GB", help="memory limit per Dask worker (default: %(default)s)")
    parser.add_argument("--trials", type=int, default=1, help="Optuna trials of each run (default: %(default)s)")
    parser.add_argument("--engines", default="dask,pandas", help="engines to run, in order (default: %(default)s)")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "sealtrain-dask-scale",
                        help="where the table and the runs' outputs go (default: %(default)s)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    data = generate(args.rows, args.workdir / f"table-{args.rows}")
    print(f"table ready ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    results = []
    for engine in args.engines.split(","):
        if engine == "dask":
            results.append(run_dask(data, args.rows, args.trials, args.workdir, args.workers, args.worker_memory))
        else:
            results.append(run(engine, data, args.rows, args.trials, args.workdir, []))
    print(report(args.rows, results))
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "rows": args.rows, "results": results}, indent=2))


if __name__ == "__main__":
    main()
