"""Compiling the training pipeline to the KFP YAML that a cluster runs."""

import os
import tempfile
from pathlib import Path

from kfp import compiler

from sealtrain.pipelines.training_pipeline import training_pipeline


def compile_pipeline(path: Path) -> Path:
    """Writes the compiled pipeline spec; a failed compile leaves no file behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, scratch = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".yaml")
    os.close(handle)
    try:
        compiler.Compiler().compile(training_pipeline, scratch)
        os.replace(scratch, path)
    finally:
        Path(scratch).unlink(missing_ok=True)
    return path
