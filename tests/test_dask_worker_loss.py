"""A worker that leaves the cluster during a Dask fit fails the fit instead of leaving it waiting.

Found at 40M rows on 1 GB workers: both workers were restarted by their nannies over the
memory limit while fitting, and the fit's parts, pinned to the old workers, waited for them
forever. Here real worker processes (with nannies, as `LocalCluster` starts them) and one
that exits in the middle of boosting.
"""

from __future__ import annotations

import concurrent.futures

import dask.dataframe as dd
import pytest
from conftest import KOSTECKI_SPEC

from sealtrain.components.core import preprocessing, schema, splitting
from sealtrain.components.core.constants import TRAIN, VALIDATION
from sealtrain.components.core.distributed import cluster
from sealtrain.components.core.distributed import training as dask_training
from sealtrain.components.core.errors import TrainingFailedError

# Generous: the fit fails within a few seconds (WORKER_CHECK_SECONDS); without the check it never returns.
FAIL_WITHIN_SECONDS = 60


def test_a_worker_exiting_during_the_fit_fails_it_by_name(kostecki):
    import xgboost

    class ExitOnSecondWorker(xgboost.callback.TrainingCallback):
        """Ends the process of rank 1 at round 3, as the kernel or a nanny ends a worker over its memory."""

        def after_iteration(self, model, epoch, evals_log):
            import os

            if epoch == 3 and xgboost.collective.get_rank() == 1:
                os._exit(1)
            return False

    reference = splitting.split_table(schema.prepare(kostecki, KOSTECKI_SPEC, "KosteckiDillon"))
    pre = preprocessing.fit_preprocessor(reference.tables[TRAIN], "fp")
    train, validation = (dd.from_pandas(reference.tables[s], npartitions=2) for s in (TRAIN, VALIDATION))
    with cluster.dask_client(workers=2, threads_per_worker=1, processes=True) as client:
        workers = sorted(client.scheduler_info()["workers"])
        pool = concurrent.futures.ThreadPoolExecutor(1)
        try:
            fit = pool.submit(dask_training.fit, client, "xgboost", {"learning_rate": 0.1, "max_depth": 4}, 7,
                              train, validation, pre, callbacks=[ExitOnSecondWorker()])
            with pytest.raises(TrainingFailedError, match=rf"worker {workers[1]} left the cluster during the fit"):
                fit.result(timeout=FAIL_WITHIN_SECONDS)
        finally:
            # A fit that never returns must not hold the test: closing the cluster ends its wait.
            pool.shutdown(wait=False)
