"""KFP component: procedural memory, the best configuration of the last successful run."""

from kfp import dsl

from sealtrain.components.runtime import DEFAULT_IMAGE


@dsl.component(base_image=DEFAULT_IMAGE, install_kfp_package=False)
def recall_best_config(enabled: bool, experiment_id: str, algorithm: str, run_db_url: str) -> str:
    """Looks up the hyperparameters of the experiment's latest completed run of an algorithm.

    Args:
        enabled: Whether to warm-start tuning at all; when false nothing is read.
        experiment_id: The experiment whose runs count.
        algorithm: The algorithm about to be tuned.
        run_db_url: Run-table database URL, or empty to use SEALTRAIN_DB_URL.

    Returns:
        Those hyperparameters as JSON, or `null` when disabled or none is remembered. A
        parameter, not an artifact: an uncached step's artifact would change the cache key
        of every step downstream, its value does not.
    """
    import json

    from sealtrain.components.core import recording

    remembered = None
    if enabled:
        remembered = recording.best_configuration(db_url=run_db_url, experiment_id=experiment_id, algorithm=algorithm)
        print(f"[sealtrain] procedural memory: {remembered or 'no completed run of ' + algorithm + ' yet'}")
    return json.dumps(remembered, sort_keys=True)
