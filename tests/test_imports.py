"""Light tasks stay light: each is a fresh process whose start-up is its imports, so the run
table's steps, plan-tuning and the CLI's plan check must not load the libraries they never use.

Each case runs a task's real work in a fresh interpreter and lists which heavy libraries it
loaded."""

import json
import subprocess
import sys

import pytest

HEAVY = ("sklearn", "skops", "xgboost", "matplotlib", "mlflow", "pandas", "optuna")
RUN_TABLE = "from sealtrain.components.core import recording\nDB = 'sqlite:///runs.db'\n"
CASES = {
    # Every step that touches only the run table: neither MLflow nor the modelling libraries.
    "finalize-run": (RUN_TABLE + "recording.fail_run(training_run_id='r', db_url=DB, state='FAILED', error='e', "
                     "experiment_id='x', algorithm='xgboost')", HEAVY),
    "recall-best-config": (RUN_TABLE + "recording.test_budget(db_url=DB, experiment_id='x', test_fingerprint='t', "
                           "max_evaluations=2)\nrecording.best_configuration(db_url=DB, experiment_id='x', "
                           "algorithm='xgboost')", HEAVY),
    # start-run asks MLflow's store whether it answers without importing MLflow (record-run does).
    "start-run": (RUN_TABLE + "recording.start_run(training_run_id='r', experiment_id='x', model_version_id='', "
                  "algorithm='xgboost', hyperparameter_space='', split_salt='s', group_column='id', "
                  "tracking_uri='sqlite:///mlflow.db', db_url=DB)", HEAVY),
    "plan-tuning": ("from sealtrain.components.core import tuning_plan\n"
                    "tuning_plan.plan('xgboost', '', '{}', 3, 1, 'auc')", HEAVY),
    "cli candidate": ("import argparse\nfrom sealtrain.pipelines import contract\n"
                      "contract.candidate(argparse.Namespace(model_candidate=None, algorithm='random_forest', "
                      "trials=3, tuning_workers=1, tuning_metric='auc'))", HEAVY),
    # select-best-trial reads the study (Optuna, pandas); it draws its history only when it
    # writes it, and never touches MLflow, model files or the libraries that fit and score.
    "select-best-trial": ("import sealtrain.components.core.stages.select_best_trial",
                          ("sklearn", "skops", "xgboost", "matplotlib", "mlflow")),
}


@pytest.mark.parametrize("task", sorted(CASES))
def test_a_light_task_loads_no_library_it_does_not_use(task, tmp_path):
    work, forbidden = CASES[task]
    code = f"import json, sys\n{work}\nprint(json.dumps(sorted(m for m in {forbidden!r} if m in sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
