"""The `sealtrain` command's fast parts: help texts, --version, usage errors, the progress
reader fed with recorded kfp.local log lines, the spec walker, the summary's wording."""

import argparse
import subprocess
import sys
from importlib.metadata import version

import pytest
from google.protobuf.json_format import MessageToDict

from sealtrain.components.core.isolation import SpecGraph
from sealtrain.pipelines import cli
from sealtrain.pipelines.progress import Progress, stages
from sealtrain.pipelines.summary import render
from sealtrain.pipelines.training_pipeline import training_pipeline

TASKS = {"start-run", "load-dataset", "check-data-quality", "qc-gate", "split-dataset", "fit-preprocessor",
         "recall-best-config", "plan-tuning", "tune-hyperparameters", "select-best-trial", "train-model",
         "evaluate-model", "record-run", "finalize-run"}


def _subcommands(parser: argparse.ArgumentParser, prefix=()):
    """Every (sub)command's parser, by its words: ("run",), ("image", "build")..."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*prefix, name), sub
                yield from _subcommands(sub, (*prefix, name))


def test_every_flag_has_help_showing_its_default_unless_required():
    commands = dict(_subcommands(cli._parser()))
    assert {"run", "validate-holdout", "submit", "compile", "verify", "image", "image build", "ui"} == {
        " ".join(c) for c in commands}
    for words, parser in commands.items():
        assert parser.description, words
        for action in parser._actions:
            if not action.option_strings or isinstance(action, argparse._HelpAction):
                continue
            assert action.help, (words, action.option_strings)
            if not action.required:
                assert "(default: " in action.help % vars(action), (words, action.option_strings)


def test_submit_requires_label_and_run_does_not(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli._parser().parse_args(["submit", "--host", "http://h", "--data", "gs://b/x.csv"])
    assert exit_.value.code == 2
    assert "the following arguments are required: --label" in capsys.readouterr().err
    assert cli._parser().parse_args(["run"]).label is None


def test_algorithm_help_shows_default_and_choices(capsys):
    with pytest.raises(SystemExit):
        cli.main(["run", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "model family to tune and train (default: xgboost; choices: hist_gradient_boosting, " in help_text


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out == f"sealtrain {version('sealtrain')}\n"


def test_help_imports_nothing_heavy():
    probe = ("import sys; from sealtrain.pipelines import cli; cli._parser().format_help(); "
             "print(sorted(m for m in ('kfp', 'pandas', 'yaml', 'google', 'sklearn', 'mlflow') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("5", "holds a JSON int, not an object with algorithm_name"),
        ('[{"algorithm_name": "xgboost"}]', "holds a JSON list, not an object"),
        ('{"algorithm_name": 5}', "algorithm_name must be a JSON string, got 5"),
        ('{"algorithm_name": "xgboost", "hyperparameter_space": [1]}', "hyperparameter_space must be a JSON object"),
        ('{"algorithm": "xgboost"}', "needs algorithm_name and may have model_version_id, hyperparameter_space, "
                                     "default_hyperparameters (unknown: algorithm)"),
        ("{not json", "Expecting property name"),
    ],
)
def test_bad_model_candidate_is_a_usage_error(tmp_path, capsys, content, message):
    candidate = tmp_path / "candidate.json"
    candidate.write_text(content)
    assert cli.main(["run", "--model-candidate", str(candidate), "--output", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: --model-candidate {candidate}: ") and message in err
    assert err.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_trials_below_one_is_refused_before_anything_runs(capsys, tmp_path):
    assert cli.main(["run", "--trials", "0", "--output", str(tmp_path / "out")]) == 2
    assert "--trials must be at least 1, got 0" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


# --- the spec walker -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def graph():
    return SpecGraph(MessageToDict(training_pipeline.pipeline_spec))


def test_walker_finds_every_container_task_by_path_with_its_executor(graph):
    leaves = {task.path: task for task in graph.leaf_tasks()}
    assert {task.name for task in leaves.values()} == TASKS and len(leaves) == len(TASKS)
    tune = leaves["root/exit-handler-1/for-loop-2/tune-hyperparameters"]
    assert tune.component == "comp-tune-hyperparameters" and tune.executor == "exec-tune-hyperparameters"
    assert tune.dag == "comp-for-loop-2"
    assert graph.tasks["root/exit-handler-1"].executor == ""  # a DAG task
    assert "root/finalize-run" in leaves


def test_walker_upstream_follows_dependencies_through_nested_dags(graph):
    path = {task.name: task.path for task in graph.leaf_tasks()}
    names = {p: n for n, p in path.items()}

    def upstream(name):
        return {names[p] for p in graph.upstream(path[name])}

    assert upstream("start-run") == set()
    assert {"split-dataset", "fit-preprocessor", "plan-tuning", "start-run"} <= upstream("tune-hyperparameters")
    assert "tune-hyperparameters" in upstream("select-best-trial")  # from outside the loop into it
    assert "evaluate-model" not in upstream("train-model")
    assert upstream("finalize-run") == TASKS - {"finalize-run"}  # the exit task waits for the whole handler


def _stages():
    return stages(MessageToDict(training_pipeline.pipeline_spec))


def test_stages_are_in_dependency_order():
    tasks, upstream = _stages()
    assert set(tasks) == TASKS
    for position, name in enumerate(tasks):
        assert upstream[name] <= set(tasks[:position]), name


# --- the progress reader on recorded kfp.local output ----------------------------------------

CACHED_RERUN = """\
22:24:11.695 - INFO - Executing task \x1b[96m'start-run'\x1b[0m
    [sealtrain] run 27318412 recorded as running
22:24:18.156 - INFO - Task \x1b[96m'start-run'\x1b[0m finished with status \x1b[92mSUCCESS\x1b[0m
22:24:18.158 - INFO - Executing task 'recall-best-config'
22:24:20.862 - INFO - Task 'recall-best-config' finished with status SUCCESS
22:24:20.868 - INFO - Executing task 'record-run'
    [sealtrain] recorded run 27318412: MLflow run 0d1e
22:24:23.407 - INFO - Task 'record-run' finished with status SUCCESS
22:24:23.408 - INFO - Executing task 'finalize-run'
    [sealtrain] run 27318412 finished: SUCCEEDED
22:24:26.198 - INFO - Task 'finalize-run' finished with status SUCCESS
"""

RETRY_THEN_FAILURE = """\
22:22:01.431 - INFO - Task 'plan-tuning' finished with status SUCCESS
22:22:01.435 - INFO - Executing task 'tune-hyperparameters'
22:22:01.437 - INFO - Executing task 'tune-hyperparameters'
            sqlalchemy.exc.OperationalError: (sqlite3.OperationalError) table trial_system_attributes already exists
22:22:09.298 - ERROR - Task 'tune-hyperparameters' finished with status FAILURE
    [sealtrain] tuning worker 1: trial 1/1, best validation auc 0.7659, 8.6s
22:22:19.300 - INFO - Executing task 'tune-hyperparameters'
22:23:10.734 - INFO - Task 'tune-hyperparameters' finished with status SUCCESS
22:23:21.133 - INFO - Executing task 'record-run'
            TypeError: record_run() got an unexpected keyword argument 'manifest_path'
22:23:22.952 - ERROR - Task 'record-run' finished with status FAILURE
22:23:22.953 - INFO - Executing task 'finalize-run'
    [sealtrain] run 58054259 finished: FAILED, recorded as failed
22:23:24.948 - INFO - Task 'finalize-run' finished with status SUCCESS
"""


def _replay(log: str, succeeded: bool) -> tuple[Progress, list[str]]:
    tasks, upstream = _stages()
    lines = []
    progress = Progress(tasks, upstream, emit=lines.append)
    for line in log.splitlines(keepends=True):
        progress.feed(line)
    progress.finish(succeeded)
    return progress, lines


def test_cached_stages_are_numbered_in_sequence():
    progress, lines = _replay(CACHED_RERUN, succeeded=True)
    assert set(progress.cached) == TASKS - {"start-run", "recall-best-config", "record-run", "finalize-run"}
    numbered = [line for line in lines if line.startswith("[")]
    assert [line.split("]")[0] for line in numbered] == [f"[{i}/14" for i in range(1, 15)]
    assert numbered[0] == "[1/14] start-run ..."
    assert numbered[-2:] == ["[13/14] record-run ...", "[14/14] finalize-run ..."]
    assert "[2/14] load-dataset: cached" in lines
    # Every cached stage is listed before the first stage that needed it.
    assert lines.index("[11/14] train-model: cached") < lines.index("[13/14] record-run ...")
    assert progress.failure is None


def test_the_cli_speaks_the_run_tables_vocabulary():
    _, lines = _replay(CACHED_RERUN, succeeded=True)
    text = "\n".join(lines)
    assert "SUCCE" not in text and "success" not in text
    assert "      start-run: completed (" in text
    assert "      run 27318412 finished: completed" in lines


def test_retries_and_loop_iterations_are_not_new_stages_and_a_retried_failure_is_not_the_error():
    progress, lines = _replay(RETRY_THEN_FAILURE, succeeded=False)
    assert lines.count("      tune-hyperparameters: started again (another loop iteration)") == 1
    assert "      tune-hyperparameters: retrying" in lines
    assert progress.failure == ("record-run", "TypeError: record_run() got an unexpected keyword argument "
                                              "'manifest_path'")
    assert "      run 58054259 finished: failed, recorded as failed" in lines
    assert [line for line in lines if line.startswith("[")][-1].endswith("finalize-run ...")


def test_tasks_skipped_after_a_failure_are_not_called_cached():
    log = """\
Executing task 'start-run'
Task 'start-run' finished with status SUCCESS
Executing task 'load-dataset'
    tables.InvalidInputError: /x.csv: no such file
Task 'load-dataset' finished with status FAILURE
Executing task 'finalize-run'
Task 'finalize-run' finished with status SUCCESS
"""
    progress, lines = _replay(log, succeeded=False)
    assert progress.cached == [] and not any("cached" in line for line in lines)
    assert progress.failure == ("load-dataset", "InvalidInputError: /x.csv: no such file")
    assert "[3/14] finalize-run ..." in lines


# --- the summary's wording ----------------------------------------------------------------------

def _summary(duplicates: int, test_evaluations: int = 1) -> dict:
    metrics = {"auc": 0.8}
    return {
        "training_run_id": "r1", "status": "completed",
        "qc": {"status": "PASSED", "overall_score": 1.0, "warnings": []},
        "splits": {name: {"rows": 10, "groups": 5, "positive_rate": 0.1}
                   for name in ("train", "validation", "test", "holdout")},
        "duplicate_rows_across_splits": duplicates,
        "holdout_lock": {"lock_size": 4, "locked_groups": 3, "new_groups": 2, "added": 2},
        "test_evaluations": test_evaluations,
        "best_hyperparameters": {"max_depth": 3}, "algorithm": "xgboost", "tuning_trials": 3,
        "trial_states": {"COMPLETE": 3}, "threshold": 0.5,
        "metrics": {"train": metrics, "validation": metrics, "test": metrics}, "confidence_interval": {},
        "acceptance": {"accepted": True, "reason": "none set"},
        "mlflow": {"run_id": "m1", "tracking_uri": "sqlite:///m.db", "registered_version": None},
        "artifacts": {"report": "report.html"}, "cached_tasks": [], "pipeline_root": "/p",
    }


@pytest.mark.parametrize(
    ("duplicates", "line"),
    [(1, "1 row shares all feature values with a row in another split"),
     (32, "32 rows share all feature values with a row in another split")],
)
def test_duplicates_across_splits_use_correct_plurals(duplicates, line):
    assert line in render(_summary(duplicates)).splitlines()
    assert "feature" not in render(_summary(0))


def test_the_summary_says_how_many_models_saw_the_test_split_and_warns_past_one():
    one, two = render(_summary(0)).splitlines(), render(_summary(0, test_evaluations=2)).splitlines()
    assert "holdout: 3 groups locked by earlier runs of the experiment, 2 new; the lock now holds 6 groups" in one
    assert "Test split evaluated by 1 model of the experiment, this one included" in one
    assert not any(line.startswith("warning:") for line in one)
    assert "Test split evaluated by 2 models of the experiment, this one included" in two
    assert ("warning: 2 models of this experiment have been evaluated on this test split: repeated test evaluation "
            "overfits the test split (the choice among models adapts to it), so its metrics overstate performance on "
            "new patients; confirm on the holdout or new data") in two


def test_ctrl_c_before_the_run_starts_is_one_line_and_exit_130(monkeypatch, capsys, tmp_path):
    def interrupted(*_):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "pipeline_arguments", interrupted)
    assert cli.main(["run", "--output", str(tmp_path / "out")]) == 130
    assert capsys.readouterr().err == "interrupted\n"


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--model", "hold@production"], "--model: model reference 'hold@production' is neither "
                                         "models:/NAME@ALIAS or models:/NAME/VERSION"),
        (["--model", "models:/hold@production", "--force"], "--force needs --reason TEXT"),
        (["--model", "models:/hold/1", "--reason", "because"], "--reason goes with --force"),
        (["--model", "models:/hold/1", "--min-auc", "1.5"], "--min-auc must be between 0 and 1, got 1.5"),
        (["--model", "models:/hold/1", "--data", "/nonexistent/table.csv"], "--data /nonexistent/table.csv: no such "
                                                                             "file"),
        (["--model", "models:/hold/1"], "no mlflow.db, so no training run was recorded here; run `sealtrain run "
                                        "--output"),
    ],
)
def test_validate_holdout_refuses_unusable_flags_before_anything_runs(tmp_path, capsys, flags, message):
    assert cli.main(["validate-holdout", *flags, "--output", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1, err
    assert not (tmp_path / "out").exists()
