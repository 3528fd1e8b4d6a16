"""Portable, safe model files: xgboost's own UBJSON, skops for scikit-learn objects.

skops refuses to load types it was not told to trust. sealtrain trusts only types from the
libraries it writes (scikit-learn, NumPy, SciPy) and its own package, so a tampered artifact
that smuggles another type fails to load instead of running code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import skops.io as sio

from .constants import MODEL_FILE_SKLEARN, MODEL_FILE_XGBOOST, MODEL_META_FILE
from .errors import DataLeakageError

TRUSTED_PREFIXES = ("sklearn.", "numpy.", "scipy.", "builtins.", "sealtrain.", "collections.")


def dump_skops(obj: Any, path: Path) -> None:
    """Writes a scikit-learn object with skops."""
    sio.dump(obj, path)


def load_skops(path: Path) -> Any:
    """Loads a skops file, trusting only the libraries sealtrain writes.

    Raises:
        DataLeakageError: The file holds a type outside the trusted libraries.
    """
    untrusted = sio.get_untrusted_types(file=path)
    foreign = [t for t in untrusted if not t.startswith(TRUSTED_PREFIXES)]
    if foreign:
        raise DataLeakageError(f"{path}: refusing to load untrusted types {foreign}")
    return sio.load(path, trusted=untrusted)


def save_model(model: Any, framework: str, directory: str, meta: dict) -> Path:
    """Writes a fitted classifier and its metadata into an artifact directory.

    Returns:
        The path of the model file.
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    if framework == "xgboost":
        path = out / MODEL_FILE_XGBOOST
        model.save_model(path)
    else:
        path = out / MODEL_FILE_SKLEARN
        dump_skops(model, path)
    (out / MODEL_META_FILE).write_text(json.dumps({**meta, "framework": framework, "file": path.name}, indent=2))
    return path


def read_model_meta(directory: str) -> dict:
    """Reads the metadata written beside a model file."""
    return json.loads((Path(directory) / MODEL_META_FILE).read_text())


def load_model(directory: str) -> Any:
    """Loads a classifier written by `save_model`."""
    meta = read_model_meta(directory)
    path = Path(directory) / meta["file"]
    if meta["framework"] == "xgboost":
        from xgboost import XGBClassifier

        model = XGBClassifier()
        model.load_model(path)
        return model
    return load_skops(path)
