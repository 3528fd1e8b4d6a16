"""xgboost's external-memory training on the Dask workers: a split's partitions are streamed, never held.

`xgboost.dask` (`DaskQuantileDMatrix`) hands each worker all of its partitions at once, so a
worker holds its share of the design matrix (float32, 4 bytes per feature and row) while it
sketches: 3.2 GB of a 4 GB worker at 20M rows, which bounds the table by the workers' total
memory. Here each worker builds an `ExtMemQuantileDMatrix` from an iterator that computes its
partitions one at a time on the cluster (read from the split's Parquet, transformed by the
preprocessor) and keeps only the quantised pages, in its local directory; the workers then
boost together over xgboost's collective, whose tracker runs beside the scheduler (where
xgboost.dask puts it: every worker can reach the scheduler). Rounds, early stopping and
callbacks are `xgboost.train`'s, so a fit is the one `XGBClassifier.fit` makes from the same
parameters, with the histogram bins sketched over batches instead of the whole split.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from typing import Any, Sequence

import cloudpickle
import dask.dataframe as dd
import numpy as np
import xgboost
from distributed import Client, MultiLock, get_worker, secede, wait, worker_client
from distributed.comm import get_address_host
from xgboost import DataIter, collective
from xgboost.tracker import RabitTracker

from ..constants import LABEL_COLUMN
from ..preprocessing import Preprocessor

# xgboost's name of the first evaluation set, as `XGBClassifier.fit` names it.
VALIDATION_SET = "validation_0"
# How often a fit waiting for its workers checks that they are still in the cluster.
WORKER_CHECK_SECONDS = 2


def _start_tracker(workers: int, host: str) -> dict:
    """Starts xgboost's collective tracker in this process (the scheduler's); the workers' arguments."""
    tracker = RabitTracker(n_workers=workers, host_ip=host, sortby="task")
    tracker.start()
    # Returns once every worker has left the collective.
    threading.Thread(target=tracker.wait_for, daemon=True).start()
    return tracker.worker_args()


def _partitions(frame: dd.DataFrame, shares: int) -> list[bytes]:
    """A split's partitions dealt round-robin into `shares` lists, each pickled.

    Pickled, because a Delayed passed to a task as such would be computed before the task
    starts, which is what streaming avoids.
    """
    parts = frame.to_delayed()
    return [cloudpickle.dumps(parts[rank::shares]) for rank in range(shares)]


class Batches(DataIter):
    """A worker's share of a split as xgboost batches: one partition computed and transformed at a time.

    A share without partitions (a split with fewer partitions than workers) is one empty batch,
    so that every worker of the collective has a matrix.
    """

    def __init__(self, parts: bytes, preprocessor: Preprocessor, cache: str) -> None:
        self._parts = cloudpickle.loads(parts) or [None]
        self._preprocessor, self._names = preprocessor, preprocessor.feature_names_out()
        self._next = 0
        super().__init__(cache_prefix=cache)

    def next(self, input_data) -> bool:
        """Hands xgboost the next partition's features and labels; False after the last."""
        if self._next == len(self._parts):
            return False
        part = self._parts[self._next]
        if part is None:
            features, labels = np.empty((0, len(self._names))), np.empty(0)
        else:
            with worker_client(separate_thread=False) as client:  # the task has seceded (_train_on_worker)
                partition = client.compute(part).result()
            features = self._preprocessor.transform(partition)
            labels = partition[LABEL_COLUMN].to_numpy()
        input_data(data=features.astype(np.float32), label=labels, feature_names=self._names)
        self._next += 1
        return True

    def reset(self) -> None:
        """Starts over (xgboost passes over the batches more than once)."""
        self._next = 0


def _train_on_worker(collective_args: dict, train: bytes, validation: bytes, preprocessor: Preprocessor,
                     params: dict, rounds: int, early_stopping_rounds: int | None,
                     callbacks: Sequence[Any]) -> tuple[bytes, dict]:
    """One worker's part of the fit: its batches' quantised pages, then boosting with the others."""
    # Out of the worker's thread pool for the whole fit: while this task waits for the other workers
    # (in the collective's allreduce), its worker must still compute the partitions they stream.
    secede()
    worker = get_worker()
    threads = params.get("n_jobs") or worker.state.nthreads
    cache = tempfile.mkdtemp(prefix="xgboost-pages-", dir=worker.local_directory)
    try:
        with collective.CommunicatorContext(dmlc_task_id=worker.address, **collective_args):
            dtrain = xgboost.ExtMemQuantileDMatrix(Batches(train, preprocessor, os.path.join(cache, "train")),
                                                  max_bin=params.get("max_bin"), nthread=threads)
            dvalidation = xgboost.ExtMemQuantileDMatrix(
                Batches(validation, preprocessor, os.path.join(cache, "validation")), ref=dtrain, nthread=threads)
            history: dict = {}
            booster = xgboost.train({**params, "nthread": threads}, dtrain, rounds,
                                    evals=[(dvalidation, VALIDATION_SET)], early_stopping_rounds=early_stopping_rounds,
                                    evals_result=history, verbose_eval=False, callbacks=list(callbacks) or None)
            return bytes(booster.save_raw("ubj")), history
    finally:
        shutil.rmtree(cache, ignore_errors=True)


def _wait_while_present(client: Client, futures: list, workers: list[str]) -> None:
    """Waits for every worker's part of a fit, or fails it when one of its workers leaves the cluster.

    Each part is pinned to its worker, and a worker that leaves (restarted by its nanny over
    its memory limit, or lost) comes back under another address: the scheduler would wait for
    the old one forever. The parts still running are then cancelled.

    Raises:
        RuntimeError: A worker of the fit left the cluster.
    """
    while True:
        try:
            wait(futures, timeout=WORKER_CHECK_SECONDS)
            return
        except TimeoutError:
            gone = sorted(set(workers) - set(client.scheduler_info()["workers"]))
            if gone:
                client.cancel(futures)
                raise RuntimeError(f"worker {', '.join(gone)} left the cluster during the fit (a worker's nanny "
                                   "restarts it when it exceeds its memory limit; see the workers' logs)") from None


def train(client: Client, params: dict, rounds: int, early_stopping_rounds: int | None, train: dd.DataFrame,
          validation: dd.DataFrame, preprocessor: Preprocessor, callbacks: Sequence[Any] = ()) -> tuple[bytes, dict]:
    """Boosts on a Dask train split, stopping early on the validation split, with external-memory matrices.

    Args:
        client: The cluster's client.
        params: The booster's parameters (`XGBModel.get_xgb_params`).
        rounds: The most boosting rounds.
        early_stopping_rounds: Rounds without improvement of the validation metric that stop boosting.
        train: The canonical train split.
        validation: The canonical validation split.
        preprocessor: The preprocessor fitted on train.
        callbacks: xgboost callbacks, pickled to every worker.

    Returns:
        The booster (UBJSON) and its evaluation history, as `XGBClassifier.evals_result()`.
    """
    # A worker without a partition of train would have nothing to sketch: only as many as there are partitions train.
    workers = sorted(client.scheduler_info()["workers"])[:train.npartitions]
    collective_args = client.run_on_scheduler(_start_tracker, len(workers), get_address_host(client.scheduler.address))
    train_parts, validation_parts = _partitions(train, len(workers)), _partitions(validation, len(workers))
    # Concurrent fits on one cluster (parallel tuning workers) take the workers in turn, as xgboost.dask's do.
    with MultiLock(names=workers, client=client):
        futures = [client.submit(_train_on_worker, collective_args, train_parts[rank], validation_parts[rank],
                                 preprocessor, params, rounds, early_stopping_rounds, callbacks,
                                 workers=[worker], allow_other_workers=False, pure=False)
                   for rank, worker in enumerate(workers)]
        _wait_while_present(client, futures, workers)
    failed = [future for future in futures if future.status == "error"]
    # A worker whose own batches fail leaves the collective and the others then fail inside it: which
    # failure arrives first is a race, so the cause (an error that is not xgboost's) is the one raised.
    for future in sorted(failed, key=lambda f: isinstance(f.exception(), xgboost.core.XGBoostError)):
        future.result()
    # Every worker ends with the same booster.
    return futures[0].result()
