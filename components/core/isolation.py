"""The static verifier: who consumes each split artifact in a compiled pipeline spec.

It reads KFP's pipeline IR (the compiled YAML) as plain data, follows every split output of
`split_dataset` through nested DAGs (sub-pipelines, exit handlers, loops) to the tasks that
finally read it, and checks those readers against the split policy.
"""

from __future__ import annotations

from dataclasses import dataclass

from .constants import HOLDOUT, SPLITS, TEST, TRAIN, VALIDATION

# Which components may read each split, always through an input named after the split (so a
# swap, such as train wired into `validation`, is a breach too). Names are the functions' names.
POLICY = {
    TRAIN: ("fit_preprocessor", "tune_hyperparameters", "train_model"),
    VALIDATION: ("tune_hyperparameters", "train_model"),
    TEST: ("evaluate_model",),
    HOLDOUT: (),
}
# The test split is read once: by one task.
MAX_CONSUMERS = {TEST: 1}
ROOT = "root"


def component_ref(function_name: str) -> str:
    """The IR name KFP gives a component defined by a Python function."""
    return "comp-" + function_name.replace("_", "-")


@dataclass(frozen=True)
class Consumer:
    """A task that reads a split artifact.

    Attributes:
        split: The split it reads.
        task: The task's path through the DAGs, e.g. `root/exit-handler-1/evaluate-model`.
        component: The component the task runs.
        input: The input the split is bound to.
    """

    split: str
    task: str
    component: str
    input: str


def pipeline_document(documents: list) -> dict:
    """Picks the pipeline spec out of a (possibly multi-document) compiled YAML."""
    for doc in documents:
        if isinstance(doc, dict) and "root" in doc and "components" in doc:
            return doc
    raise ValueError("no KFP pipeline spec (a document with 'root' and 'components') found")


class _Graph:
    def __init__(self, spec: dict):
        self.components = spec.get("components", {})
        self.dags = {ROOT: spec["root"]["dag"]}
        for name, comp in self.components.items():
            if "dag" in comp:
                self.dags[name] = comp["dag"]
        # Where each DAG component is used: (parent dag, task name).
        self.uses: dict[str, list[tuple[str, str]]] = {}
        for dag_name, dag in self.dags.items():
            for task_name, task in dag.get("tasks", {}).items():
                ref = task.get("componentRef", {}).get("name")
                self.uses.setdefault(ref, []).append((dag_name, task_name))
        self.paths = {ROOT: ROOT}
        self._assign_paths(ROOT)

    def _assign_paths(self, dag_name: str) -> None:
        for task_name, task in self.dags[dag_name].get("tasks", {}).items():
            ref = task.get("componentRef", {}).get("name")
            if ref in self.dags and ref not in self.paths:
                self.paths[ref] = f"{self.paths[dag_name]}/{task_name}"
                self._assign_paths(ref)

    def splitters(self):
        for dag_name, dag in self.dags.items():
            for task_name, task in dag.get("tasks", {}).items():
                ref = task.get("componentRef", {}).get("name")
                outputs = self.components.get(ref, {}).get("outputDefinitions", {}).get("artifacts", {})
                if set(SPLITS) <= set(outputs):
                    yield dag_name, task_name

    def consumers_of_output(self, dag_name: str, producer: str, key: str, split: str, seen: set) -> list[Consumer]:
        if (dag_name, producer, key) in seen:
            return []
        seen.add((dag_name, producer, key))
        found = []
        dag = self.dags[dag_name]
        for task_name, task in dag.get("tasks", {}).items():
            for input_name, binding in task.get("inputs", {}).get("artifacts", {}).items():
                source = binding.get("taskOutputArtifact", {})
                if source.get("producerTask") == producer and source.get("outputArtifactKey") == key:
                    found += self._bind(dag_name, task_name, task, input_name, split, seen)
        for out_name, out in dag.get("outputs", {}).get("artifacts", {}).items():
            for selector in out.get("artifactSelectors", []):
                if selector.get("producerSubtask") == producer and selector.get("outputArtifactKey") == key:
                    for parent, task_name in self.uses.get(dag_name, []):
                        found += self.consumers_of_output(parent, task_name, out_name, split, seen)
        return found

    def consumers_of_input(self, dag_name: str, input_name: str, split: str, seen: set) -> list[Consumer]:
        if (dag_name, "<input>", input_name) in seen:
            return []
        seen.add((dag_name, "<input>", input_name))
        found = []
        for task_name, task in self.dags[dag_name].get("tasks", {}).items():
            names = {input_name}
            iterator = task.get("artifactIterator") or task.get("iterator", {}).get("artifactIterator")
            if iterator and iterator.get("items", {}).get("inputArtifact") == input_name:
                names.add(iterator.get("itemInput"))
            for bound, binding in task.get("inputs", {}).get("artifacts", {}).items():
                if binding.get("componentInputArtifact") in names:
                    found += self._bind(dag_name, task_name, task, bound, split, seen)
            if iterator and iterator.get("items", {}).get("inputArtifact") == input_name:
                ref = task.get("componentRef", {}).get("name")
                if ref in self.dags:
                    found += self.consumers_of_input(ref, iterator.get("itemInput"), split, seen)
        return found

    def _bind(self, dag_name: str, task_name: str, task: dict, input_name: str, split: str, seen: set) -> list[Consumer]:
        ref = task.get("componentRef", {}).get("name")
        if ref in self.dags:
            return self.consumers_of_input(ref, input_name, split, seen)
        return [Consumer(split, f"{self.paths.get(dag_name, dag_name)}/{task_name}", ref, input_name)]


def split_consumers(spec: dict) -> dict[str, list[Consumer]]:
    """Every task that reads each split, followed through nested DAGs.

    Args:
        spec: The pipeline spec (see `pipeline_document`).

    Returns:
        Consumers by split name; empty lists when the spec has no split_dataset-like task.
    """
    return _consumers(_Graph(spec))


def _consumers(graph: _Graph) -> dict[str, list[Consumer]]:
    found: dict[str, list[Consumer]] = {split: [] for split in SPLITS}
    for dag_name, task_name in graph.splitters():
        for split in SPLITS:
            found[split] += graph.consumers_of_output(dag_name, task_name, split, split, set())
    return found


def breaches(spec: dict) -> list[str]:
    """The violations of the split policy in a compiled pipeline, one sentence each."""
    graph = _Graph(spec)
    problems = []
    if not any(True for _ in graph.splitters()):
        problems.append("no task produces the four splits (train, validation, test, holdout)")
    for split, readers in _consumers(graph).items():
        allowed = {component_ref(name) for name in POLICY[split]}
        for reader in readers:
            if reader.component not in allowed or reader.input != split:
                rule = (f"only the {split!r} input of {', '.join(POLICY[split])} may read it"
                        if POLICY[split] else "no task may read it")
                problems.append(f"{split} split is read by {reader.task} ({reader.component}, input {reader.input!r}); {rule}")
        limit = MAX_CONSUMERS.get(split)
        if limit is not None and len(readers) > limit:
            problems.append(f"{split} split is read by {len(readers)} tasks; at most {limit} may read it")
    return problems
