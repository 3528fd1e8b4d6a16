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


@dataclass(frozen=True)
class Task:
    """One task of a compiled pipeline, at one place in its DAGs.

    Attributes:
        path: The task's path through the DAGs, e.g. `root/exit-handler-1/evaluate-model`.
        name: The task's name in its DAG.
        dag: The DAG that holds it: `root` or the name of a DAG component.
        component: The component the task runs.
        executor: The component's executor label; empty for a DAG (sub-pipeline, loop, exit handler).
        spec: The task's own IR.
    """

    path: str
    name: str
    dag: str
    component: str
    executor: str
    spec: dict


class SpecGraph:
    """The tasks of a compiled pipeline spec (its IR as plain data), through nested DAGs.

    Attributes:
        components: The spec's components by name.
        dags: The DAGs by name: `root` and every DAG component.
        tasks: Every task by path, DAG tasks included, parents before their children.
    """

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
                self.uses.setdefault(_ref(task), []).append((dag_name, task_name))
        self.tasks: dict[str, Task] = {}
        self.paths = {ROOT: ROOT}  # each DAG's path where it is first used
        self._walk(ROOT, ROOT)

    def _walk(self, dag_name: str, path: str) -> None:
        for task_name, task in self.dags[dag_name].get("tasks", {}).items():
            ref = _ref(task)
            executor = "" if ref in self.dags else self.components.get(ref, {}).get("executorLabel", "")
            here = f"{path}/{task_name}"
            self.tasks[here] = Task(here, task_name, dag_name, ref, executor, task)
            if ref in self.dags:
                self.paths.setdefault(ref, here)
                self._walk(ref, here)

    def leaf_tasks(self) -> list[Task]:
        """The tasks that run a container (an executor), in walking order."""
        return [task for task in self.tasks.values() if task.executor]

    def upstream(self, path: str) -> set[str]:
        """The paths of the container tasks that must finish before the task at `path` starts.

        Follows `dependentTasks` and the producers of the task's inputs, in its own DAG and in
        every enclosing one; a DAG it depends on contributes all its container tasks.
        """
        found: set[str] = set()
        parent = path.rpartition("/")[0]
        for sibling in _dependencies(self.tasks[path].spec):
            sibling_path = f"{parent}/{sibling}"
            found |= {p for p, task in self.tasks.items()
                      if task.executor and (p == sibling_path or p.startswith(f"{sibling_path}/"))}
            found |= self.upstream(sibling_path)
        if parent != ROOT:
            found |= self.upstream(parent)
        return found


def _ref(task: dict) -> str:
    return task.get("componentRef", {}).get("name")


def _dependencies(task: dict) -> set[str]:
    """The sibling tasks a task waits for: its dependencies and the producers of its inputs."""
    inputs = task.get("inputs", {})
    producers = {
        binding.get(kind, {}).get("producerTask")
        for bindings in (inputs.get("artifacts", {}), inputs.get("parameters", {}))
        for binding in bindings.values()
        for kind in ("taskOutputArtifact", "taskOutputParameter")
    }
    return (set(task.get("dependentTasks", [])) | producers) - {None}


def _splitters(graph: SpecGraph):
    for dag_name, dag in graph.dags.items():
        for task_name, task in dag.get("tasks", {}).items():
            outputs = graph.components.get(_ref(task), {}).get("outputDefinitions", {}).get("artifacts", {})
            if set(SPLITS) <= set(outputs):
                yield dag_name, task_name


def _consumers_of_output(graph: SpecGraph, dag_name: str, producer: str, key: str, split: str,
                         seen: set) -> list[Consumer]:
    if (dag_name, producer, key) in seen:
        return []
    seen.add((dag_name, producer, key))
    found = []
    dag = graph.dags[dag_name]
    for task_name, task in dag.get("tasks", {}).items():
        for input_name, binding in task.get("inputs", {}).get("artifacts", {}).items():
            source = binding.get("taskOutputArtifact", {})
            if source.get("producerTask") == producer and source.get("outputArtifactKey") == key:
                found += _bind(graph, dag_name, task_name, task, input_name, split, seen)
    for out_name, out in dag.get("outputs", {}).get("artifacts", {}).items():
        for selector in out.get("artifactSelectors", []):
            if selector.get("producerSubtask") == producer and selector.get("outputArtifactKey") == key:
                for parent, task_name in graph.uses.get(dag_name, []):
                    found += _consumers_of_output(graph, parent, task_name, out_name, split, seen)
    return found


def _consumers_of_input(graph: SpecGraph, dag_name: str, input_name: str, split: str, seen: set) -> list[Consumer]:
    if (dag_name, "<input>", input_name) in seen:
        return []
    seen.add((dag_name, "<input>", input_name))
    found = []
    for task_name, task in graph.dags[dag_name].get("tasks", {}).items():
        names = {input_name}
        iterator = task.get("artifactIterator") or task.get("iterator", {}).get("artifactIterator")
        if iterator and iterator.get("items", {}).get("inputArtifact") == input_name:
            names.add(iterator.get("itemInput"))
        for bound, binding in task.get("inputs", {}).get("artifacts", {}).items():
            if binding.get("componentInputArtifact") in names:
                found += _bind(graph, dag_name, task_name, task, bound, split, seen)
        if iterator and iterator.get("items", {}).get("inputArtifact") == input_name:
            ref = _ref(task)
            if ref in graph.dags:
                found += _consumers_of_input(graph, ref, iterator.get("itemInput"), split, seen)
    return found


def _bind(graph: SpecGraph, dag_name: str, task_name: str, task: dict, input_name: str, split: str,
          seen: set) -> list[Consumer]:
    ref = _ref(task)
    if ref in graph.dags:
        return _consumers_of_input(graph, ref, input_name, split, seen)
    return [Consumer(split, f"{graph.paths.get(dag_name, dag_name)}/{task_name}", ref, input_name)]


def split_consumers(spec: dict) -> dict[str, list[Consumer]]:
    """Every task that reads each split, followed through nested DAGs.

    Args:
        spec: The pipeline spec (see `pipeline_document`).

    Returns:
        Consumers by split name; empty lists when the spec has no split_dataset-like task.
    """
    return _consumers(SpecGraph(spec))


def _consumers(graph: SpecGraph) -> dict[str, list[Consumer]]:
    found: dict[str, list[Consumer]] = {split: [] for split in SPLITS}
    for dag_name, task_name in _splitters(graph):
        for split in SPLITS:
            found[split] += _consumers_of_output(graph, dag_name, task_name, split, split, set())
    return found


def breaches(spec: dict) -> list[str]:
    """The violations of the split policy in a compiled pipeline, one sentence each."""
    graph = SpecGraph(spec)
    problems = []
    if not any(True for _ in _splitters(graph)):
        problems.append("no task produces the four splits (train, validation, test, holdout)")
    for split, readers in _consumers(graph).items():
        allowed = {component_ref(name) for name in POLICY[split]}
        for reader in readers:
            if reader.component not in allowed or reader.input != split:
                rule = (f"only the {split!r} input of {', '.join(POLICY[split])} may read it"
                        if POLICY[split] else "no task may read it")
                problems.append(f"{split} split is read by {reader.task} ({reader.component}, "
                                f"input {reader.input!r}); {rule}")
        limit = MAX_CONSUMERS.get(split)
        if limit is not None and len(readers) > limit:
            problems.append(f"{split} split is read by {len(readers)} tasks; at most {limit} may read it")
    return problems
