"""KFP component: what the experiment's records say before tuning: the test budget and procedural memory."""

from kfp import dsl

from sealtrain.components.runtime import DEFAULT_IMAGE


@dsl.component(base_image=DEFAULT_IMAGE, install_kfp_package=False)
def recall_best_config(enabled: bool, experiment_id: str, algorithm: str, test_fingerprint: str,
                       max_test_evaluations: int, run_db_url: str) -> str:
    """Checks the test budget, then looks up the hyperparameters of the experiment's latest
    completed run of an algorithm.

    It runs after the split and before tuning, uncached: a run whose test split has been
    evaluated by `max_test_evaluations` models already stops here, before any training.

    Args:
        enabled: Whether to warm-start tuning at all; when false no configuration is read.
        experiment_id: The experiment whose runs count.
        algorithm: The algorithm about to be tuned.
        test_fingerprint: The content fingerprint of this run's test split.
        max_test_evaluations: How many models may be evaluated on a test split; 0 for no limit.
        run_db_url: Run-table database URL, or empty to use SEALTRAIN_DB_URL.

    Returns:
        Those hyperparameters as JSON, or `null` when disabled or none is remembered. A
        parameter, not an artifact: an uncached step's artifact would change the cache key
        of every step downstream, its value does not.

    Raises:
        TestEvaluationLimitError: The test split's budget is spent (the message names
            --max-test-evaluations).
    """
    import json

    from sealtrain.components.core import recording

    earlier = recording.test_budget(db_url=run_db_url, experiment_id=experiment_id, test_fingerprint=test_fingerprint,
                                    max_evaluations=max_test_evaluations)
    limit = f" of at most {max_test_evaluations}" if max_test_evaluations else ""
    print(f"[sealtrain] test split {test_fingerprint[:12]}: {earlier} models of {experiment_id!r} evaluated on it "
          f"so far{limit}")
    remembered = None
    if enabled:
        remembered = recording.best_configuration(db_url=run_db_url, experiment_id=experiment_id, algorithm=algorithm)
        print(f"[sealtrain] procedural memory: {remembered or 'no completed run of ' + algorithm + ' yet'}")
    return json.dumps(remembered, sort_keys=True)
