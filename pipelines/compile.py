"""Compiling sealtrain's pipelines to the KFP YAML that a cluster runs."""

import os
import tempfile
from pathlib import Path

from sealtrain.components.runtime import runtime_image

TRAINING = "training"
HOLDOUT_VALIDATION = "holdout-validation"
PIPELINES = (TRAINING, HOLDOUT_VALIDATION)


def build(pipeline: str, image: str):
    """One of sealtrain's pipelines (`training` or `holdout-validation`) with every task running `image`."""
    if pipeline == HOLDOUT_VALIDATION:
        from sealtrain.pipelines.holdout_pipeline import build_pipeline
    elif pipeline == TRAINING:
        from sealtrain.pipelines.training_pipeline import build_pipeline
    else:
        raise ValueError(f"unknown pipeline {pipeline!r}; sealtrain has {', '.join(PIPELINES)}")
    return build_pipeline(image)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def compile_pipeline(path: Path, image: str | None = None, pipeline: str = TRAINING) -> Path:
    """Writes the compiled pipeline spec; a failed compile leaves no file behind.

    Args:
        path: Where to write the YAML.
        image: The runtime image of every task; None takes SEALTRAIN_IMAGE or the default.
        pipeline: Which pipeline: `training` or `holdout-validation`.
    """
    from kfp import compiler  # here, so the CLI's parser can name the pipelines without importing kfp

    path.parent.mkdir(parents=True, exist_ok=True)
    handle, scratch = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".yaml")
    os.close(handle)
    try:
        compiler.Compiler().compile(build(pipeline, runtime_image(image)), scratch)
        # mkstemp makes the file private (0600); a compiled spec is shared like any other file.
        os.chmod(scratch, 0o666 & ~_umask())
        os.replace(scratch, path)
    finally:
        Path(scratch).unlink(missing_ok=True)
    return path
