"""The static verifier, on the real compiled pipeline and on deliberately mis-wired or forged ones.

The mis-wired pipelines reuse the real components; the forged ones add components that
pose as sealtrain's. They are only compiled, never run.
"""

from pathlib import Path
from typing import NamedTuple

import pytest
import yaml
from kfp import compiler, dsl
from kfp.dsl import Artifact, Dataset, Input, Model, Output

import sealtrain.components as components
from sealtrain.components.core import isolation
from sealtrain.components.evaluate_holdout import evaluate_holdout as sealtrain_evaluate_holdout
from sealtrain.components.evaluate_model import evaluate_model as sealtrain_evaluate_model
from sealtrain.components.fit_preprocessor import fit_preprocessor
from sealtrain.components.holdout_gate import holdout_gate
from sealtrain.components.load_dataset import load_dataset
from sealtrain.components.rebuild_holdout import rebuild_holdout
from sealtrain.components.recall_best_config import recall_best_config
from sealtrain.components.runtime import DEFAULT_IMAGE
from sealtrain.components.select_best_trial import select_best_trial
from sealtrain.components.split_dataset import split_dataset as sealtrain_split_dataset
from sealtrain.components.train_model import train_model
from sealtrain.components.tune_hyperparameters import tune_hyperparameters
from sealtrain.pipelines import cli
from sealtrain.pipelines.compile import HOLDOUT_VALIDATION, compile_pipeline
from sealtrain.pipelines.reference import known_implementations

GOLDEN = Path(__file__).resolve().parents[1] / "pipelines" / "compiled" / "sealtrain-training.yaml"
OTHER_IMAGE = "registry.example/sealtrain:other"


@pytest.fixture(scope="module")
def known() -> dict:
    """Sealtrain's components as compiled for the default image."""
    return known_implementations(DEFAULT_IMAGE)


@pytest.fixture(autouse=True)
def _default_image(monkeypatch):
    monkeypatch.delenv("SEALTRAIN_IMAGE", raising=False)


@dsl.component(base_image="python:3.11", install_kfp_package=False)
def peek(data: Input[Dataset]):
    """Reads any dataset: stands for a component that must not see a split."""
    print(data.path)


@dsl.component(base_image=DEFAULT_IMAGE, install_kfp_package=False)
def evaluate_model(test: Input[Dataset], preprocessor: Input[Model], model: Input[Model],
                   evaluation: Output[Artifact]):
    """A pass-through posing as sealtrain's evaluation (same name, same image): hands the test rows on."""
    import shutil

    shutil.copy(test.path, evaluation.path)


@dsl.component(base_image=DEFAULT_IMAGE, install_kfp_package=False)
def split_dataset(dataset: Input[Dataset], train: Output[Dataset], validation: Output[Dataset], test: Output[Dataset],
                  holdout: Output[Dataset]):
    """A splitter posing as sealtrain's: writes the whole table to every split."""
    import shutil

    for split in (train, validation, test, holdout):
        shutil.copy(dataset.path, split.path)


@dsl.component(base_image=DEFAULT_IMAGE, install_kfp_package=False)
def open_manifest(split_manifest: Input[Artifact]):
    """Reads only the manifest, then opens the holdout by the URI inside it."""
    import json

    print(json.loads(open(split_manifest.path).read()))


@dsl.component(base_image=DEFAULT_IMAGE, install_kfp_package=False)
def fetch(uri: str, table: Output[Dataset]):
    """An importer in disguise: copies any table it is told to into a Dataset."""
    print(uri, table.path)


def _split(loaded=None):
    loaded = loaded or load_dataset(data_uri="x.csv", data_fingerprint="")
    return sealtrain_split_dataset(
        dataset=loaded.outputs["dataset"], qc_status="PASSED", label_column="y", positive_class="", group_column="",
        no_group=False,
        drop_columns=[], time_column="", split_ratios=[], split_salt="s", split_tolerance=0.02, stratify=False,
        max_duplicate_share=0.01, allow_features=[], experiment_id="e", run_db_url="", lock_fingerprint="",
    )


def _fit_tune_train(split, train_key="train", validation_key="validation"):
    pre = fit_preprocessor(train=split.outputs[train_key])
    memory = recall_best_config(enabled=False, experiment_id="e", algorithm="xgboost",
                                test_fingerprint="", max_test_evaluations=0,
                                run_db_url="").output
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


def _evaluate(split, pre, trained, test=None):
    return sealtrain_evaluate_model(test=test or split.outputs["test"], preprocessor=pre.outputs["preprocessor"],
                                    model=trained.outputs["model"], bootstrap_samples=10, seed=1,
                                    precision_at_k=[10], min_auc=0.0, experiment_id="e", model_version_id="",
                                    max_test_evaluations=0, run_db_url="")


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


@dsl.pipeline
def pass_through_named_evaluate_model():
    split = _split()
    pre, trained = _fit_tune_train(split)
    evaluate_model(test=split.outputs["test"], preprocessor=pre.outputs["preprocessor"], model=trained.outputs["model"])


@dsl.pipeline
def splitter_copying_the_whole_table():
    split = split_dataset(dataset=load_dataset(data_uri="x.csv", data_fingerprint="").outputs["dataset"])
    pre, trained = _fit_tune_train(split)
    _evaluate(split, pre, trained)


@dsl.pipeline
def reader_of_the_manifest():
    split = _split()
    pre, trained = _fit_tune_train(split)
    _evaluate(split, pre, trained)
    open_manifest(split_manifest=split.outputs["split_manifest"])


@dsl.pipeline
def importer_of_a_split():
    split = _split()
    pre, trained = _fit_tune_train(split)
    _evaluate(split, pre, trained)
    imported = dsl.importer(artifact_uri="gs://bucket/root/split-dataset/holdout", artifact_class=dsl.Dataset)
    peek(data=imported.output)


@dsl.pipeline
def importer_as_the_test_split():
    split = _split()
    pre, trained = _fit_tune_train(split)
    imported = dsl.importer(artifact_uri="gs://bucket/root/split-dataset/test", artifact_class=dsl.Dataset)
    _evaluate(split, pre, trained, test=imported.output)


@dsl.pipeline
def unsplit_dataset_into_preprocessor_fit():
    loaded = load_dataset(data_uri="x.csv", data_fingerprint="")
    split = _split(loaded)
    pre = fit_preprocessor(train=loaded.outputs["dataset"])
    _, trained = _fit_tune_train(split)
    _evaluate(split, pre, trained)


@dsl.pipeline
def fetched_table_as_train():
    split = _split()
    pre = fit_preprocessor(train=fetch(uri="gs://bucket/root/split-dataset/test").outputs["table"])
    _, trained = _fit_tune_train(split)
    _evaluate(split, pre, trained)


Splits = NamedTuple("Splits", train=Dataset, validation=Dataset, test=Dataset, holdout=Dataset,
                    split_manifest=Artifact)


@dsl.pipeline
def splitting() -> Splits:
    split = _split()
    return Splits(**{key: split.outputs[key] for key in Splits._fields})


@dsl.pipeline
def holdout_of_a_split_in_a_sub_pipeline():
    split = splitting()
    pre, trained = _fit_tune_train(split)
    _evaluate(split, pre, trained)
    peek(data=split.outputs["holdout"])


def _spec(pipeline, tmp_path) -> dict:
    path = tmp_path / "p.yaml"
    compiler.Compiler().compile(pipeline, str(path))
    return isolation.pipeline_document(list(yaml.safe_load_all(path.read_text())))


def test_the_real_pipeline_holds(tmp_path, known):
    path = compile_pipeline(tmp_path / "real.yaml")
    spec = isolation.pipeline_document(list(yaml.safe_load_all(path.read_text())))
    consumers = isolation.split_consumers(spec)
    assert [c.component for c in consumers["test"]] == ["comp-evaluate-model"]
    assert consumers["holdout"] == []
    fit_inputs = {c.split for cs in consumers.values() for c in cs if c.component == "comp-fit-preprocessor"}
    assert fit_inputs == {"train"}
    graph = isolation.SpecGraph(spec)
    assert {path: name for path, name in isolation.identify(graph, known).items()} == {
        task.path: isolation.function_name(task.component) for task in graph.leaf_tasks()}
    assert isolation.breaches(spec, known) == []


def test_an_environment_variable_slipped_into_a_sealtrain_task_makes_it_unknown(tmp_path, known):
    """Only the image a Dask task restates for its cluster is not the implementation: a store's URL is."""
    path = compile_pipeline(tmp_path / "real.yaml")
    spec = isolation.pipeline_document(list(yaml.safe_load_all(path.read_text())))
    container = spec["deploymentSpec"]["executors"]["exec-evaluate-model"]["container"]
    assert {"name": "SEALTRAIN_TASK_IMAGE", "value": container["image"]} in container["env"]
    container["env"].append({"name": "SEALTRAIN_DB_URL", "value": "sqlite:////tmp/elsewhere.db"})
    assert any("root/exit-handler-1/evaluate-model is an unknown component (not sealtrain's evaluate_model: other "
               "container settings)" in problem for problem in isolation.breaches(spec, known))


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
def test_mis_wired_pipelines_are_rejected(pipeline, expected, tmp_path, known):
    problems = isolation.breaches(_spec(pipeline, tmp_path), known)
    assert any(expected in p for p in problems), problems


UNKNOWN = "is an unknown component (no sealtrain component has its image and code)"


@pytest.mark.parametrize(
    ("pipeline", "expected"),
    [
        (pass_through_named_evaluate_model, [
            "test split is read by root/evaluate-model (comp-evaluate-model, input 'test'); only the 'test' input of "
            "sealtrain's evaluate_model may read it; root/evaluate-model is an unknown component "
            "(not sealtrain's evaluate_model: other code, other inputs or outputs)",
            "no task runs sealtrain's evaluate_model on the test split of sealtrain's split_dataset; "
            "exactly one evaluation must read the test split",
        ]),
        (splitter_copying_the_whole_table, [
            "root/split-dataset produces the four splits but is not sealtrain's split_dataset (not sealtrain's "
            "split_dataset: other code, other inputs or outputs); only sealtrain's split_dataset may "
            "split the data",
            "input 'train' of root/fit-preprocessor (sealtrain's fit_preprocessor) is not a split written by "
            "sealtrain's split_dataset; sealtrain's components read only the splits it wrote",
            "input 'test' of root/evaluate-model (sealtrain's evaluate_model) is not a split written by "
            "sealtrain's split_dataset",
            "no task runs sealtrain's fit_preprocessor on the train split of sealtrain's split_dataset; "
            "the preprocessor must be fitted on the train split",
        ]),
        (reader_of_the_manifest, [
            "the split manifest (it names every split's URI) is read by root/open-manifest (comp-open-manifest, input "
            "'split_manifest'); only the 'split_manifest' input of sealtrain's record_run may read it; "
            f"root/open-manifest {UNKNOWN}",
        ]),
        (importer_of_a_split, [
            "root/importer imports gs://bucket/root/split-dataset/holdout (dsl.importer); no importer may bring an "
            "artifact, such as a split, into the pipeline from outside its lineage",
        ]),
        (importer_as_the_test_split, [
            "root/importer imports gs://bucket/root/split-dataset/test (dsl.importer)",
            "input 'test' of root/evaluate-model (sealtrain's evaluate_model) is not a split written by sealtrain's "
            "split_dataset",
            "no task runs sealtrain's evaluate_model on the test split",
        ]),
        (unsplit_dataset_into_preprocessor_fit, [
            "the unsplit dataset (load_dataset's output) is read by root/fit-preprocessor (comp-fit-preprocessor, "
            "input 'train'); only the 'dataset' input of sealtrain's check_data_quality and split_dataset may read it",
            "input 'train' of root/fit-preprocessor (sealtrain's fit_preprocessor) is not a split written by "
            "sealtrain's split_dataset",
        ]),
        (fetched_table_as_train, [
            "input 'train' of root/fit-preprocessor (sealtrain's fit_preprocessor) is not a split written by "
            "sealtrain's split_dataset",
        ]),
    ],
)
def test_forged_pipelines_are_rejected(pipeline, expected, tmp_path, known):
    problems = isolation.breaches(_spec(pipeline, tmp_path), known)
    for sentence in expected:
        assert any(sentence in p for p in problems), (sentence, problems)


def test_splits_passed_on_by_a_sub_pipeline_are_followed_once(tmp_path, known):
    spec = _spec(holdout_of_a_split_in_a_sub_pipeline, tmp_path)
    assert [c.task for c in isolation.split_consumers(spec)["test"]] == ["root/evaluate-model"]
    assert isolation.breaches(spec, known) == [
        f"holdout split is read by root/peek (comp-peek, input 'data'); no task may read it; root/peek {UNKNOWN}"]


def test_the_real_pipeline_built_for_another_image_is_unknown(tmp_path, known):
    path = compile_pipeline(tmp_path / "other.yaml", OTHER_IMAGE)
    problems = isolation.breaches(isolation.pipeline_document(list(yaml.safe_load_all(path.read_text()))), known)
    assert ("root/exit-handler-1/split-dataset produces the four splits but is not sealtrain's split_dataset (not "
            f"sealtrain's split_dataset: image {OTHER_IMAGE!r}, not {DEFAULT_IMAGE!r})") in problems[0]
    assert any("root/exit-handler-1/evaluate-model is an unknown component (not sealtrain's evaluate_model: "
               f"image {OTHER_IMAGE!r}, not {DEFAULT_IMAGE!r})" in p for p in problems), problems


def test_cli_verify_exit_codes(tmp_path, capsys):
    good = compile_pipeline(tmp_path / "good.yaml")
    assert cli.main(["verify", str(good)]) == 0
    out = capsys.readouterr().out
    assert f"image       {DEFAULT_IMAGE} (14 tasks)" in out
    assert f"built for {DEFAULT_IMAGE}; unknown: none" in out
    assert "test        read by root/exit-handler-1/evaluate-model [test]" in out
    assert "root/exit-handler-1/for-loop-2/tune-hyperparameters [validation]" in out
    bad = tmp_path / "bad.yaml"
    compiler.Compiler().compile(wire_test_twice, str(bad))
    assert cli.main(["verify", str(bad)]) == 1
    assert "BREACH: test split is read by 2 tasks" in capsys.readouterr().out
    (tmp_path / "junk.yaml").write_text("just: text\n")
    assert cli.main(["verify", str(tmp_path / "junk.yaml")]) == 2


def test_cli_verify_checks_the_image_given(tmp_path, capsys, monkeypatch):
    other = compile_pipeline(tmp_path / "other.yaml", OTHER_IMAGE)
    assert cli.main(["verify", str(other)]) == 1
    out = capsys.readouterr().out
    assert f"image       {OTHER_IMAGE} (14 tasks)" in out
    assert "unknown: root/exit-handler-1/check-data-quality, " in out
    assert cli.main(["verify", "--image", OTHER_IMAGE, str(other)]) == 0
    assert "split isolation holds" in capsys.readouterr().out
    monkeypatch.setenv("SEALTRAIN_IMAGE", OTHER_IMAGE)
    assert cli.main(["verify", str(other)]) == 0
    assert cli.main(["verify", "--image", DEFAULT_IMAGE, str(other)]) == 1


def test_cli_verifies_the_reviewed_compiled_pipeline(capsys):
    assert cli.main(["verify", str(GOLDEN)]) == 0, capsys.readouterr().out


def test_cli_rejects_a_forged_pipeline(tmp_path, capsys):
    forged = tmp_path / "forged.yaml"
    compiler.Compiler().compile(pass_through_named_evaluate_model, str(forged))
    assert cli.main(["verify", str(forged)]) == 1
    out = capsys.readouterr().out
    assert "unknown: root/evaluate-model\n" in out
    assert "BREACH: test split is read by root/evaluate-model" in out


def test_multi_document_yaml_is_understood(tmp_path):
    path = compile_pipeline(tmp_path / "real.yaml")
    doubled = tmp_path / "two.yaml"
    doubled.write_text(path.read_text() + "\n---\nplatforms:\n  kubernetes: {}\n")
    assert cli.main(["verify", str(doubled)]) == 0


def test_no_splitter_is_a_breach():
    assert isolation.breaches({"root": {"dag": {"tasks": {}}}, "components": {}}, {})[0] == (
        "no task produces the four splits (train, validation, test, holdout)"
    )


def test_policy_names_real_components(known):
    package = Path(components.__file__).parent
    assert set(known) == {path.parent.name for path in package.glob("*/component.py")}
    named = [*isolation.POLICY.values(), *isolation.READERS.values(),
             (isolation.LOADER, isolation.SPLITTER, isolation.FIT, isolation.EVALUATOR)]
    for names in named:
        for name in names:
            assert name in known, name


# --- the holdout validation pipeline ---------------------------------------------------------

HOLDOUT_GOLDEN = GOLDEN.with_name("sealtrain-holdout-validation.yaml")


def _gate():
    return holdout_gate(model_uri="models:/m@production", experiment_id="", data_uri="", force=False, reason="",
                        mlflow_tracking_uri="", run_db_url="")


def _rebuild(gate, manifest=None):
    loaded = load_dataset(data_uri=gate.outputs["data_uri"], data_fingerprint=gate.outputs["data_fingerprint"])
    return rebuild_holdout(dataset=loaded.outputs["dataset"], split_manifest=manifest or gate.outputs["split_manifest"],
                           run_db_url="")


def _evaluate_holdout(gate, rebuilt):
    return sealtrain_evaluate_holdout(holdout=rebuilt.outputs["holdout"], preprocessor=gate.outputs["preprocessor"],
                                      model=gate.outputs["model"])


@dsl.component(base_image=DEFAULT_IMAGE, install_kfp_package=False)
def manifest_of(run_id: str, split_manifest: Output[Artifact]):
    """Writes any run's split manifest, as the gate would, without asking the registry or the ledger."""
    print(run_id, split_manifest.path)


@dsl.pipeline(name=isolation.HOLDOUT_PIPELINE_NAME)
def holdout_read_twice():
    gate = _gate()
    rebuilt = _rebuild(gate)
    _evaluate_holdout(gate, rebuilt)
    _evaluate_holdout(gate, rebuilt)


@dsl.pipeline(name=isolation.HOLDOUT_PIPELINE_NAME)
def holdout_peeked_at():
    gate = _gate()
    rebuilt = _rebuild(gate)
    _evaluate_holdout(gate, rebuilt)
    peek(data=rebuilt.outputs["holdout"])


@dsl.pipeline(name=isolation.HOLDOUT_PIPELINE_NAME)
def gate_bypassed():
    gate = _gate()
    rebuilt = _rebuild(gate, manifest=manifest_of(run_id="any").outputs["split_manifest"])
    _evaluate_holdout(gate, rebuilt)


@dsl.component(base_image=DEFAULT_IMAGE, install_kfp_package=False)
def evaluate_holdout(holdout: Input[Dataset], preprocessor: Input[Model], model: Input[Model],
                     evaluation: Output[Artifact]):
    """A pass-through posing as sealtrain's holdout evaluation: hands the holdout rows on."""
    import shutil

    shutil.copy(holdout.path, evaluation.path)


@dsl.pipeline(name=isolation.HOLDOUT_PIPELINE_NAME)
def holdout_read_by_an_impostor():
    gate = _gate()
    rebuilt = _rebuild(gate)
    evaluate_holdout(holdout=rebuilt.outputs["holdout"], preprocessor=gate.outputs["preprocessor"],
                     model=gate.outputs["model"])


@dsl.pipeline(name=isolation.HOLDOUT_PIPELINE_NAME)
def training_named_as_holdout_validation():
    split = _split()
    pre, trained = _fit_tune_train(split)
    _evaluate(split, pre, trained)
    peek(data=split.outputs["holdout"])


@dsl.pipeline
def training_that_validates_on_its_holdout():
    split = _split()
    pre, trained = _fit_tune_train(split)
    _evaluate(split, pre, trained)
    gate = _gate()
    _evaluate_holdout(gate, _rebuild(gate))


def _holdout_spec(tmp_path) -> dict:
    path = compile_pipeline(tmp_path / "holdout.yaml", pipeline=HOLDOUT_VALIDATION)
    return isolation.pipeline_document(list(yaml.safe_load_all(path.read_text())))


def test_the_real_holdout_pipeline_holds(tmp_path, known):
    spec = _holdout_spec(tmp_path)
    consumers = isolation.split_consumers(spec)
    assert [(c.task, c.input) for c in consumers["holdout"]] == [("root/evaluate-holdout", "holdout")]
    assert consumers["train"] == consumers["validation"] == consumers["test"] == []
    graph = isolation.SpecGraph(spec)
    assert set(isolation.identify(graph, known).values()) == set(isolation.HOLDOUT_PIPELINE_COMPONENTS)
    assert "root/holdout-gate" in graph.upstream("root/rebuild-holdout")
    gate = graph.tasks["root/holdout-gate"]
    assert [(r.task, r.input) for r in isolation._readers(graph, gate, "split_manifest")] == [
        ("root/rebuild-holdout", "split_manifest")]
    assert isolation.breaches(spec, known) == []


def test_load_dataset_is_one_component_in_both_pipelines(tmp_path, known):
    training = isolation.SpecGraph(isolation.pipeline_document(list(yaml.safe_load_all(
        compile_pipeline(tmp_path / "t.yaml").read_text()))))
    holdout = isolation.SpecGraph(_holdout_spec(tmp_path))
    implementations = [graph.implementation(next(t for t in graph.leaf_tasks() if t.name == "load-dataset"))
                       for graph in (training, holdout)]
    assert implementations[0] == implementations[1] == known["load_dataset"]


@pytest.mark.parametrize(
    ("pipeline", "expected"),
    [
        (holdout_read_twice, ["holdout is read by 2 tasks; exactly one may read it"]),
        (holdout_peeked_at, [
            "holdout is read by root/peek (comp-peek, input 'data'); only the 'holdout' input of sealtrain's "
            f"evaluate_holdout may read it; root/peek {UNKNOWN}",
            "holdout is read by 2 tasks; exactly one may read it",
        ]),
        (gate_bypassed, [
            f"root/manifest-of {UNKNOWN}; the holdout validation pipeline runs only sealtrain's",
            "root/rebuild-holdout (sealtrain's rebuild_holdout) does not take its split manifest from sealtrain's "
            "holdout_gate: the holdout is read only for a production model's first (or forced) validation, which the "
            "gate decides",
        ]),
        (holdout_read_by_an_impostor, [
            "holdout is read by root/evaluate-holdout (comp-evaluate-holdout, input 'holdout'); only the 'holdout' "
            "input of sealtrain's evaluate_holdout may read it; root/evaluate-holdout is an unknown component (not "
            "sealtrain's evaluate_holdout: other code, other inputs or outputs)",
            "no task runs sealtrain's evaluate_holdout on the holdout of sealtrain's rebuild_holdout",
        ]),
        (training_named_as_holdout_validation, [
            "root/split-dataset runs sealtrain's split_dataset, which has no place in the holdout validation pipeline",
            "root/split-dataset writes a train split; the holdout validation pipeline has no train, validation or "
            "test split",
            "root/split-dataset writes a holdout but is not sealtrain's rebuild_holdout",
            "holdout is read by root/peek (comp-peek, input 'data')",
        ]),
        (training_that_validates_on_its_holdout, [
            "root/rebuild-holdout runs sealtrain's rebuild_holdout, which belongs to the holdout validation pipeline "
            "(sealtrain-holdout-validation) only; in training no task reads the holdout",
            "root/evaluate-holdout runs sealtrain's evaluate_holdout, which belongs to the holdout validation pipeline",
        ]),
    ],
)
def test_forged_holdout_pipelines_are_rejected(pipeline, expected, tmp_path, known):
    problems = isolation.breaches(_spec(pipeline, tmp_path), known)
    for sentence in expected:
        assert any(sentence in p for p in problems), (sentence, problems)


def test_cli_verifies_the_reviewed_holdout_pipeline(capsys, tmp_path):
    assert cli.main(["verify", str(HOLDOUT_GOLDEN)]) == 0, capsys.readouterr().out
    out = capsys.readouterr().out
    assert "policy      holdout validation (sealtrain-holdout-validation" in out
    assert "holdout     read by root/evaluate-holdout [holdout]" in out
    assert "test        read by no task" in out
    forged = tmp_path / "forged.yaml"
    compiler.Compiler().compile(holdout_read_twice, str(forged))
    assert cli.main(["verify", str(forged)]) == 1
    assert "BREACH: holdout is read by 2 tasks; exactly one may read it" in capsys.readouterr().out
