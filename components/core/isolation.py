"""The static verifier: which code reads each split, in a compiled pipeline spec.

It reads KFP's pipeline IR (the compiled YAML) as plain data. Every container task is
identified by its implementation (image, command with the embedded source, arguments,
interface) against sealtrain's own components, given as plain data by the caller: a task
whose name matches but whose code or image differs is an unknown component. The verifier
follows every split, the unsplit dataset and the split manifest through nested DAGs
(sub-pipelines, exit handlers, loops) to the tasks that finally read them, and checks
those readers against the policy below.
"""

from __future__ import annotations

from dataclasses import dataclass

from .constants import HOLDOUT, SPLITS, TEST, TRAIN, VALIDATION
from .engines import TASK_IMAGE_ENV

# The second pipeline, whose spec names it so: the post-deployment holdout validation. It has a
# policy of its own (`_HoldoutCheck`); every other spec is held to the training policy.
HOLDOUT_PIPELINE_NAME = "sealtrain-holdout-validation"
# Which of sealtrain's components may read each split, always through an input named after the
# split (so a swap, such as train wired into `validation`, is a breach too).
POLICY = {
    TRAIN: ("fit_preprocessor", "tune_hyperparameters", "train_model"),
    VALIDATION: ("tune_hyperparameters", "train_model"),
    TEST: ("evaluate_model",),
    HOLDOUT: (),
}
# The test split is read once: by one task.
MAX_CONSUMERS = {TEST: 1}
ROOT = "root"
LOADER, SPLITTER, FIT, EVALUATOR = "load_dataset", "split_dataset", "fit_preprocessor", "evaluate_model"
# The loader's output holds every row, the splitter's manifest every split's URI: like a split,
# each is read only by the named components of sealtrain, through an input of the same name.
DATASET = "dataset"
MANIFEST = "split_manifest"
READERS = {DATASET: ("check_data_quality", SPLITTER), MANIFEST: ("record_run",)}
WHAT = {DATASET: f"the unsplit dataset ({LOADER}'s output)",
        MANIFEST: "the split manifest (it names every split's URI)"}
# The holdout validation's components: the gate (alias `production`, once per model), the rebuild
# of a run's holdout from its locked groups, its one reader, and the record. They read or pass on
# the holdout, so the training pipeline runs none of them.
GATE, REBUILD = "holdout_gate", "rebuild_holdout"
HOLDOUT_EVALUATOR, HOLDOUT_RECORDER = "evaluate_holdout", "record_holdout"
HOLDOUT_ONLY = (GATE, REBUILD, HOLDOUT_EVALUATOR, HOLDOUT_RECORDER)
HOLDOUT_PIPELINE_COMPONENTS = (*HOLDOUT_ONLY, LOADER)
# Resources size a step; they do not change the code it runs.
_NOT_IMPLEMENTATION = ("resources",)


def function_name(component: str) -> str:
    """The Python function behind a component's IR name: `comp-evaluate-model` -> `evaluate_model`."""
    return component.removeprefix("comp-").replace("-", "_")


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
        executors: The spec's executors (containers, importers) by label.
        dags: The DAGs by name: `root` and every DAG component.
        tasks: Every task by path, DAG tasks included, parents before their children.
    """

    def __init__(self, spec: dict):
        self.components = spec.get("components", {})
        self.executors = spec.get("deploymentSpec", {}).get("executors", {})
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

    def implementation(self, task: Task) -> dict:
        """What a container task runs: its executor (without resources) and its component's interface."""
        executor = dict(self.executors.get(task.executor, {}))
        if "container" in executor:
            container = {k: v for k, v in executor["container"].items() if k not in _NOT_IMPLEMENTATION}
            # The image a Dask task gives its DaskCluster restates the container's own image,
            # so a component is the same with or without it; any other variable (a store's URL,
            # a run id) makes it another component.
            env = [e for e in container.pop("env", [])
                   if e != {"name": TASK_IMAGE_ENV, "value": container.get("image")}]
            if env:
                container["env"] = env
            executor["container"] = container
        component = self.components.get(task.component, {})
        return {"executor": executor, "inputs": component.get("inputDefinitions", {}),
                "outputs": component.get("outputDefinitions", {})}

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


def _readers(graph: SpecGraph, producer: Task, key: str) -> list[Consumer]:
    """The container tasks that read output `key` of `producer`."""
    return _consumers_of_output(graph, producer.dag, producer.name, key, key, set())


def _outputs(graph: SpecGraph, task: Task) -> set[str]:
    return set(graph.components.get(task.component, {}).get("outputDefinitions", {}).get("artifacts", {}))


def _splitters(graph: SpecGraph) -> list[Task]:
    """The container tasks that write the four splits (a sub-pipeline passes on what one of them wrote)."""
    return [task for task in graph.leaf_tasks() if set(SPLITS) <= _outputs(graph, task)]


def split_consumers(spec: dict) -> dict[str, list[Consumer]]:
    """Every task that reads each split, followed through nested DAGs.

    Args:
        spec: The pipeline spec (see `pipeline_document`).

    Returns:
        Consumers by split name; empty lists when no task writes the four splits.
    """
    graph = SpecGraph(spec)
    if is_holdout_pipeline(spec):
        return {split: [r for task in _writers(graph, split) for r in _readers(graph, task, split)] for split in SPLITS}
    return _consumers(graph, _splitters(graph))


def is_holdout_pipeline(spec: dict) -> bool:
    """Whether a spec names itself the holdout validation pipeline (and is held to its policy)."""
    return spec.get("pipelineInfo", {}).get("name") == HOLDOUT_PIPELINE_NAME


def _writers(graph: SpecGraph, key: str) -> list[Task]:
    """The container tasks with an output named `key`."""
    return [task for task in graph.leaf_tasks() if key in _outputs(graph, task)]


def _consumers(graph: SpecGraph, splitters: list[Task]) -> dict[str, list[Consumer]]:
    return {split: [reader for task in splitters for reader in _readers(graph, task, split)] for split in SPLITS}


def identify(graph: SpecGraph, known: dict[str, dict]) -> dict[str, str | None]:
    """Which of sealtrain's components each container task runs, by implementation.

    Args:
        graph: The pipeline.
        known: Sealtrain's components: each function name's implementation (see `SpecGraph.implementation`),
            as compiled for the image the pipeline must run.

    Returns:
        The component's function name by task path; None for an unknown component.
    """
    names = {}
    for task in graph.leaf_tasks():
        implementation = graph.implementation(task)
        names[task.path] = next((name for name, known_one in known.items() if known_one == implementation), None)
    return names


def unknown_because(graph: SpecGraph, task: Task, known: dict[str, dict]) -> str:
    """Why a task is an unknown component: what differs from the sealtrain component of its name."""
    implementation = graph.implementation(task)
    container = implementation["executor"].get("container")
    if container is None:
        return "it runs no container"
    args = container.get("args", [])
    name = (args[args.index("--function_to_execute") + 1] if "--function_to_execute" in args[:-1]
            else function_name(task.component))
    if name not in known:
        return "no sealtrain component has its image and code"
    reference = known[name]["executor"].get("container", {})
    differences = []
    if container.get("image") != reference.get("image"):
        differences.append(f"image {container.get('image')!r}, not {reference.get('image')!r}")
    differences += [f"other {what}" for part, what in (("command", "code"), ("args", "arguments"))
                    if container.get(part) != reference.get(part)]
    if _settings(container) != _settings(reference):
        differences.append("other container settings")
    if (implementation["inputs"], implementation["outputs"]) != (known[name]["inputs"], known[name]["outputs"]):
        differences.append("other inputs or outputs")
    return f"not sealtrain's {name}: {', '.join(differences)}"


def _settings(container: dict) -> dict:
    return {key: value for key, value in container.items() if key not in ("image", "command", "args")}


def images(spec: dict) -> dict[str, list[str]]:
    """The paths of the container tasks that run each image."""
    graph = SpecGraph(spec)
    found: dict[str, list[str]] = {}
    for task in graph.leaf_tasks():
        container = graph.executors.get(task.executor, {}).get("container")
        if container is not None:
            found.setdefault(container.get("image", ""), []).append(task.path)
    return found


def breaches(spec: dict, known: dict[str, dict]) -> list[str]:
    """The violations of the split policy in a compiled pipeline, one sentence each naming the task and rule.

    The holdout validation pipeline (by its name in the spec) is held to its own policy: the
    holdout read by exactly one task, sealtrain's `evaluate_holdout`, from sealtrain's
    `rebuild_holdout`, which runs after sealtrain's `holdout_gate`; no train, validation or test
    split; nothing but that pipeline's sealtrain components. Every other spec is held to the
    training policy, in which no task reads the holdout.

    Args:
        spec: The pipeline spec (see `pipeline_document`).
        known: Sealtrain's components by function name (see `identify`).
    """
    if is_holdout_pipeline(spec):
        held = _HoldoutCheck(SpecGraph(spec), known)
        return [*held.importers(), *held.components(), *held.no_other_splits(), *held.holdout(),
                *held.other_readers()]
    check = _Check(SpecGraph(spec), known)
    return [*check.importers(), *check.splitters(), *check.split_readers(), *check.other_readers(),
            *check.sealed_inputs(), *check.requirements(), *check.holdout_components()]


class _Rules:
    """What both policies share, over one pipeline's identified tasks."""

    def __init__(self, graph: SpecGraph, known: dict[str, dict]):
        self.graph, self.known = graph, known
        self.names = identify(graph, known)
        self.leaves = graph.leaf_tasks()

    def _unknown(self, path: str) -> str:
        if self.names.get(path):
            return ""
        return f"; {path} is an unknown component ({unknown_because(self.graph, self.graph.tasks[path], self.known)})"

    def importers(self):
        for task in self.leaves:
            importer = self.graph.executors.get(task.executor, {}).get("importer")
            if importer is not None:
                uri = importer.get("artifactUri", {}).get("constant") or "a URI given at run time"
                yield (f"{task.path} imports {uri} (dsl.importer); no importer may bring an artifact, such as a "
                       "split, into the pipeline from outside its lineage")


class _Check(_Rules):
    """The rules of the training policy, each yielding its sentences."""

    def __init__(self, graph: SpecGraph, known: dict[str, dict]):
        super().__init__(graph, known)
        self.all_splitters = _splitters(graph)
        # Who reads each split that sealtrain's own split_dataset wrote: {(task path, input): split}.
        ours = [task for task in self.all_splitters if self.names[task.path] == SPLITTER]
        self.sealed = {(r.task, r.input): split for split, readers in _consumers(graph, ours).items() for r in readers}

    def splitters(self):
        if not self.all_splitters:
            yield "no task produces the four splits (train, validation, test, holdout)"
        for task in self.all_splitters:
            if self.names[task.path] != SPLITTER:
                yield (f"{task.path} produces the four splits but is not sealtrain's {SPLITTER} "
                       f"({unknown_because(self.graph, task, self.known)}); only sealtrain's {SPLITTER} may split "
                       "the data")

    def split_readers(self):
        for split, readers in _consumers(self.graph, self.all_splitters).items():
            rule = (f"only the {split!r} input of sealtrain's {', '.join(POLICY[split])} may read it"
                    if POLICY[split] else "no task may read it")
            for reader in readers:
                if self.names.get(reader.task) not in POLICY[split] or reader.input != split:
                    yield (f"{split} split is read by {reader.task} ({reader.component}, input {reader.input!r}); "
                           f"{rule}{self._unknown(reader.task)}")
            limit = MAX_CONSUMERS.get(split)
            if limit is not None and len(readers) > limit:
                yield f"{split} split is read by {len(readers)} tasks; at most {limit} may read it"

    def other_readers(self):
        producers = {DATASET: [task for task in self.leaves if self.names[task.path] == LOADER],
                     MANIFEST: [task for task in self.all_splitters if MANIFEST in _outputs(self.graph, task)]}
        for key, tasks in producers.items():
            allowed = READERS[key]
            for reader in (r for task in tasks for r in _readers(self.graph, task, key)):
                if self.names.get(reader.task) not in allowed or reader.input != key:
                    yield (f"{WHAT[key]} is read by {reader.task} ({reader.component}, input {reader.input!r}); "
                           f"only the {key!r} input of sealtrain's {' and '.join(allowed)} may read it"
                           f"{self._unknown(reader.task)}")

    def sealed_inputs(self):
        for task in self.leaves:
            name = self.names[task.path]
            inputs = self.graph.components.get(task.component, {}).get("inputDefinitions", {}).get("artifacts", {})
            for input_name in (i for i in inputs if name and i in SPLITS and (task.path, i) not in self.sealed):
                yield (f"input {input_name!r} of {task.path} (sealtrain's {name}) is not a split written by "
                       f"sealtrain's {SPLITTER}; sealtrain's components read only the splits it wrote")

    def requirements(self):
        for name, split, why in ((FIT, TRAIN, "the preprocessor must be fitted on the train split"),
                                 (EVALUATOR, TEST, "exactly one evaluation must read the test split")):
            if not any(self.names.get(path) == name and bound == read == split
                       for (path, bound), read in self.sealed.items()):
                yield f"no task runs sealtrain's {name} on the {split} split of sealtrain's {SPLITTER}; {why}"

    def holdout_components(self):
        for task in self.leaves:
            if self.names[task.path] in HOLDOUT_ONLY:
                yield (f"{task.path} runs sealtrain's {self.names[task.path]}, which belongs to the holdout validation "
                       f"pipeline ({HOLDOUT_PIPELINE_NAME}) only; in training no task reads the holdout")


class _HoldoutCheck(_Rules):
    """The rules of the holdout validation policy, each yielding its sentences."""

    def __init__(self, graph: SpecGraph, known: dict[str, dict]):
        super().__init__(graph, known)
        # Who reads the split manifest that sealtrain's gate passed on: {(task path, input)}. Only
        # the gate's manifest names the run whose holdout may be rebuilt, once the gate has passed.
        gates = [task for task in self.leaves if self.names[task.path] == GATE]
        self._gated = {(r.task, r.input) for task in gates for r in _readers(graph, task, MANIFEST)}

    def components(self):
        for task in self.leaves:
            name = self.names[task.path]
            if name is None:
                yield (f"{task.path} is an unknown component ({unknown_because(self.graph, task, self.known)}); the "
                       f"holdout validation pipeline runs only sealtrain's {', '.join(HOLDOUT_PIPELINE_COMPONENTS)}")
            elif name not in HOLDOUT_PIPELINE_COMPONENTS:
                yield (f"{task.path} runs sealtrain's {name}, which has no place in the holdout validation pipeline "
                       f"(only {', '.join(HOLDOUT_PIPELINE_COMPONENTS)})")

    def no_other_splits(self):
        for split in (TRAIN, VALIDATION, TEST):
            for task in _writers(self.graph, split):
                yield (f"{task.path} writes a {split} split; the holdout validation pipeline has no train, validation "
                       "or test split")

    def holdout(self):
        writers = _writers(self.graph, HOLDOUT)
        for task in writers:
            if self.names[task.path] != REBUILD:
                yield (f"{task.path} writes a holdout but is not sealtrain's {REBUILD}; only it may rebuild a run's "
                       f"holdout{self._unknown(task.path)}")
            elif (task.path, MANIFEST) not in self._gated:
                yield (f"{task.path} (sealtrain's {REBUILD}) does not take its split manifest from sealtrain's "
                       f"{GATE}: the holdout is read only for a production model's first (or forced) validation, "
                       "which the gate decides")
        readers = [r for task in writers for r in _readers(self.graph, task, HOLDOUT)]
        for reader in readers:
            if self.names.get(reader.task) != HOLDOUT_EVALUATOR or reader.input != HOLDOUT:
                yield (f"holdout is read by {reader.task} ({reader.component}, input {reader.input!r}); only the "
                       f"'holdout' input of sealtrain's {HOLDOUT_EVALUATOR} may read it{self._unknown(reader.task)}")
        if len(readers) > 1:
            yield f"holdout is read by {len(readers)} tasks; exactly one may read it"
        if not any(self.names.get(r.task) == HOLDOUT_EVALUATOR and r.input == HOLDOUT and self.names[w.path] == REBUILD
                   for w in writers for r in _readers(self.graph, w, HOLDOUT)):
            yield (f"no task runs sealtrain's {HOLDOUT_EVALUATOR} on the holdout of sealtrain's {REBUILD}; exactly one "
                   "evaluation must read it")

    def other_readers(self):
        for key, producer in ((DATASET, LOADER), (MANIFEST, GATE)):
            for task in (t for t in self.leaves if self.names[t.path] == producer):
                for reader in _readers(self.graph, task, key):
                    if self.names.get(reader.task) != REBUILD or reader.input != key:
                        yield (f"{WHAT[key]} is read by {reader.task} ({reader.component}, input {reader.input!r}); "
                               f"only the {key!r} input of sealtrain's {REBUILD} may read it"
                               f"{self._unknown(reader.task)}")
