"""Sealtrain's own components as compiled: what `sealtrain verify` recognises tasks by.

The reference is compiled from the installed sealtrain when verifying, for the image the
pipeline must run, so it always matches this version's code; the verifier in
components/core/isolation.py receives it as plain data.
"""

import tempfile
from pathlib import Path

import yaml

from sealtrain.components.core.isolation import SpecGraph, function_name, pipeline_document
from sealtrain.pipelines.compile import PIPELINES, compile_pipeline


def known_implementations(image: str) -> dict[str, dict]:
    """Each sealtrain component's implementation, by function name, with every task running `image`.

    Taken from every pipeline sealtrain compiles, so a component is known in whichever it runs.

    Args:
        image: The runtime image the verified pipeline must run.

    Returns:
        `{"evaluate_model": {...}, ...}` in the form of `SpecGraph.implementation`.
    """
    known = {}
    with tempfile.TemporaryDirectory() as scratch:
        for pipeline in PIPELINES:
            path = compile_pipeline(Path(scratch) / f"{pipeline}.yaml", image, pipeline)
            graph = SpecGraph(pipeline_document(list(yaml.safe_load_all(path.read_text()))))
            known.update({function_name(task.component): graph.implementation(task) for task in graph.leaf_tasks()})
    return known
