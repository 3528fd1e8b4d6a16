"""The static verifier, on the real compiled pipeline and on deliberately mis-wired ones.

The mis-wired pipelines reuse the real components; they are only compiled, never run.
"""

from pathlib import Path

import pytest
import yaml
from kfp import compiler, dsl
from kfp.dsl import Dataset, Input

from sealtrain.components.core import isolation
from sealtrain.components.evaluate_model import evaluate_model
from sealtrain.components.fit_preprocessor import fit_preprocessor
from sealtrain.components.load_dataset import load_dataset
from sealtrain.components.recall_best_config import recall_best_config
from sealtrain.components.select_best_trial import select_best_trial
from sealtrain.components.split_dataset import split_dataset
from sealtrain.components.train_model import train_model
from sealtrain.components.tune_hyperparameters import tune_hyperparameters
from sealtrain.pipelines import cli
from sealtrain.pipelines.compile import compile_pipeline


@dsl.component(base_image="python:3.11", install_kfp_package=False)
def peek(data: Input[Dataset]):
    """Reads any dataset: stands for a component that must not see a split."""
    print(data.path)


def _split():
    loaded = load_dataset(data_uri="x.csv", data_fingerprint="")
    return split_dataset(
        dataset=loaded.outputs["dataset"], qc_status="PASSED", label_column="y", positive_class="", group_column="",
        no_group=False,
        drop_columns=[], time_column="", split_ratios=[], split_salt="s", split_tolerance=0.02, stratify=False,
        max_duplicate_share=0.01, allow_features=[],
    )


def _fit_tune_train(split, train_key="train", validation_key="validation"):
    pre = fit_preprocessor(train=split.outputs[train_key])
    memory = recall_best_config(enabled=False, experiment_id="e", algorithm="xgboost", run_db_url="").output
    study = dict(algorithm="xgboost", hyperparameter_space="", default_hyperparameters="", n_trials=1,
                 tuning_metric="auc")
    tune = tune_hyperparameters(
        train=split.outputs[train_key], validation=split.outputs[validation_key],
        preprocessor=pre.outputs["preprocessor"], **study, tuning_workers=1, worker=0, seed=1, tuning_timeout=0.0,
        warm_start=memory, optuna_storage_url="",
    )
    select = select_best_trial(preprocessor=pre.outputs["preprocessor"], **study, seed=1, warm_start=memory,
                               optuna_storage_url="", worker_trials=[]).after(tune)
    trained = train_model(
        train=split.outputs[train_key], validation=split.outputs[validation_key],
        preprocessor=pre.outputs["preprocessor"], best_hyperparameters=select.outputs["best_hyperparameters"],
        seed=1, threshold_method="f1",
    )
    return pre, trained


def _evaluate(split, pre, trained):
    return evaluate_model(test=split.outputs["test"], preprocessor=pre.outputs["preprocessor"],
                          model=trained.outputs["model"], bootstrap_samples=10, seed=1, precision_at_k=[10],
                          min_auc=0.0)


@dsl.pipeline
def wire_test_into_validation():
    split = _split()
    pre, trained = _fit_tune_train(split, validation_key="test")
    _evaluate(split, pre, trained)


@dsl.pipeline
def validation_into_preprocessor_fit():
    split = _split()
    pre = fit_preprocessor(train=split.outputs["validation"])
    _, trained = _fit_tune_train(split)
    _evaluate(split, pre, trained)


@dsl.pipeline
def wire_test_twice():
    split = _split()
    pre, trained = _fit_tune_train(split)
    _evaluate(split, pre, trained)
    _evaluate(split, pre, trained)


@dsl.pipeline
def peek_at(data: Input[Dataset]):
    peek(data=data)


@dsl.pipeline
def holdout_in_nested_pipeline():
    split = _split()
    pre, trained = _fit_tune_train(split)
    _evaluate(split, pre, trained)
    peek_at(data=split.outputs["holdout"])


@dsl.component(base_image="python:3.11", install_kfp_package=False)
def notify(status: dsl.PipelineTaskFinalStatus):
    """An exit task."""
    print(status.state)


@dsl.pipeline
def wire_test_in_exit_handler():
    with dsl.ExitHandler(notify()):
        split = _split()
        pre, trained = _fit_tune_train(split)
        _evaluate(split, pre, trained)
        peek(data=split.outputs["test"])


@dsl.pipeline
def holdout_in_loop():
    split = _split()
    pre, trained = _fit_tune_train(split)
    _evaluate(split, pre, trained)
    with dsl.ParallelFor([1, 2]):
        peek(data=split.outputs["holdout"])


def _spec(pipeline, tmp_path) -> dict:
    path = tmp_path / "p.yaml"
    compiler.Compiler().compile(pipeline, str(path))
    return isolation.pipeline_document(list(yaml.safe_load_all(path.read_text())))


def test_the_real_pipeline_holds(tmp_path):
    path = compile_pipeline(tmp_path / "real.yaml")
    spec = isolation.pipeline_document(list(yaml.safe_load_all(path.read_text())))
    consumers = isolation.split_consumers(spec)
    assert [c.component for c in consumers["test"]] == ["comp-evaluate-model"]
    assert consumers["holdout"] == []
    fit_inputs = {c.split for cs in consumers.values() for c in cs if c.component == "comp-fit-preprocessor"}
    assert fit_inputs == {"train"}
    assert isolation.breaches(spec) == []


@pytest.mark.parametrize(
    ("pipeline", "expected"),
    [
        (wire_test_into_validation, "test split is read by root/train-model (comp-train-model, input 'validation')"),
        (validation_into_preprocessor_fit, "validation split is read by root/fit-preprocessor"),
        (wire_test_twice, "test split is read by 2 tasks; at most 1 may read it"),
        (holdout_in_nested_pipeline,
         "holdout split is read by root/peek-at/peek (comp-peek, input 'data'); no task may read it"),
        (wire_test_in_exit_handler, "test split is read by root/exit-handler-1/peek (comp-peek, input 'data')"),
        (holdout_in_loop, "holdout split is read by root/for-loop-2/peek"),
    ],
)
def test_mis_wired_pipelines_are_rejected(pipeline, expected, tmp_path):
    problems = isolation.breaches(_spec(pipeline, tmp_path))
    assert any(expected in p for p in problems), problems


def test_cli_verify_exit_codes(tmp_path, capsys):
    good = compile_pipeline(tmp_path / "good.yaml")
    assert cli.main(["verify", str(good)]) == 0
    out = capsys.readouterr().out
    assert "test        read by root/exit-handler-1/evaluate-model [test]" in out
    assert "root/exit-handler-1/for-loop-2/tune-hyperparameters [validation]" in out
    bad = tmp_path / "bad.yaml"
    compiler.Compiler().compile(wire_test_twice, str(bad))
    assert cli.main(["verify", str(bad)]) == 1
    assert "BREACH: test split is read by 2 tasks" in capsys.readouterr().out
    (tmp_path / "junk.yaml").write_text("just: text\n")
    assert cli.main(["verify", str(tmp_path / "junk.yaml")]) == 2


def test_multi_document_yaml_is_understood(tmp_path):
    path = compile_pipeline(tmp_path / "real.yaml")
    doubled = tmp_path / "two.yaml"
    doubled.write_text(path.read_text() + "\n---\nplatforms:\n  kubernetes: {}\n")
    assert cli.main(["verify", str(doubled)]) == 0


def test_no_splitter_is_a_breach():
    assert isolation.breaches({"root": {"dag": {"tasks": {}}}, "components": {}}) == [
        "no task produces the four splits (train, validation, test, holdout)"
    ]


def test_policy_names_real_components():
    import sealtrain.components as components

    package = Path(components.__file__).parent
    for names in isolation.POLICY.values():
        for name in names:
            assert (package / name / "component.py").exists(), name
