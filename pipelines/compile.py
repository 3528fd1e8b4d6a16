"""Compiling the training pipeline to the KFP YAML that a cluster runs."""

import os
import tempfile
from pathlib import Path

from kfp import compiler

from sealtrain.components.runtime import runtime_image
from sealtrain.pipelines.training_pipeline import build_pipeline


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def compile_pipeline(path: Path, image: str | None = None) -> Path:
    """Writes the compiled pipeline spec; a failed compile leaves no file behind.

    Args:
        path: Where to write the YAML.
        image: The runtime image of every task; None takes SEALTRAIN_IMAGE or the default.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, scratch = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".yaml")
    os.close(handle)
    try:
        compiler.Compiler().compile(build_pipeline(runtime_image(image)), scratch)
        # mkstemp makes the file private (0600); a compiled spec is shared like any other file.
        os.chmod(scratch, 0o666 & ~_umask())
        os.replace(scratch, path)
    finally:
        Path(scratch).unlink(missing_ok=True)
    return path
