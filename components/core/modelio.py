"""Model files that load only what sealtrain wrote: skops for scikit-learn objects, UBJSON for xgboost.

What loading a file can do:

- A skops file is a zip holding a JSON description of the object. skops builds nothing it
  does not trust: its own defaults (primitives, containers, scikit-learn estimators, NumPy
  and SciPy ufuncs and dtypes) and the types it is given. sealtrain gives it exactly
  `ALLOWED_TYPES`, the types beyond those defaults that sealtrain's own dumps contain (a
  test rebuilds the set from real dumps of everything sealtrain saves, so it follows the
  libraries). A file naming any other type (`builtins.exec`, `os.system`, `numpy.load`, ...)
  is refused before anything in it is built.
- Two of those types, scikit-learn's `Tree` and `TreePredictor`, hold raw node indices that
  prediction follows without bounds checks. Loaded trees are checked (children point
  forward inside the tree, split features inside the input width, no categorical splits),
  so a tampered tree is refused instead of crashing `predict`.
- An xgboost model is UBJSON read by xgboost's C++ parser into trees and parameters: no
  Python object is built from it, so it cannot run code.
- `model.json` names the framework; the model file is the one sealtrain writes for that
  framework, in the same directory, so the metadata cannot point loading at another file.

Every refusal is an `UntrustedModelFileError` naming the file and what was foreign in it.
"""

from __future__ import annotations

import hashlib
import json
import re
import zipfile
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from .constants import MODEL_FILE_SKLEARN, MODEL_FILE_XGBOOST, MODEL_META_FILE
from .errors import UntrustedModelFileError

# Beyond skops' defaults, the types in sealtrain's dumps: a test asserts this equals what
# fitted preprocessors and models of every registered scikit-learn algorithm contain.
ALLOWED_TYPES = frozenset({
    "numpy.dtype",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.tree._tree.Tree",
})
MODEL_FILES = {"xgboost": MODEL_FILE_XGBOOST, "sklearn": MODEL_FILE_SKLEARN}

# Model metadata that differs between two fits of the same model.
VOLATILE_META = ("training_duration_seconds",)
# The memory addresses skops names objects and their array files by (`"__id__": 1400...`, `1400....npy`).
SKOPS_ID = re.compile(r'(?<="__id__": )[0-9]+|[0-9]+(?=\.npy)')


def dump_skops(obj: Any, path: Path) -> None:
    """Writes a scikit-learn object with skops."""
    import skops.io as sio

    sio.dump(obj, path)


def load_skops(path: Path) -> Any:
    """Loads a skops file holding only types sealtrain writes.

    Raises:
        UntrustedModelFileError: The file is not a readable skops file, names a type
            outside skops' defaults and `ALLOWED_TYPES`, or holds an out-of-range tree.
    """
    import skops.io as sio

    try:
        foreign = sorted(set(sio.get_untrusted_types(file=path)) - ALLOWED_TYPES)
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError) as exc:
        raise UntrustedModelFileError(f"{path}: not a skops file sealtrain wrote: {exc}") from exc
    if foreign:
        raise UntrustedModelFileError(f"{path}: refusing to load types sealtrain never writes: {foreign}")
    obj = sio.load(path, trusted=sorted(ALLOWED_TYPES))
    for tree, width in _trees(obj, None, set(), _tree_types()):
        if not _tree_is_sound(tree, width):
            raise UntrustedModelFileError(f"{path}: refusing a {type(tree).__name__} with out-of-range node indices")
    return obj


def _tree_types() -> tuple[type, type]:
    """scikit-learn's `Tree` and `TreePredictor`, imported only by the tasks that load models."""
    from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor
    from sklearn.tree._tree import Tree

    return Tree, TreePredictor


def _trees(obj: Any, width: int | None, seen: set[int], types: tuple[type, ...]) -> Iterator[tuple[Any, int | None]]:
    """Yields every tree (an instance of `types`) reachable from a loaded object, with the narrowest
    enclosing input width."""
    if id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, types):
        yield obj, width
        return
    if isinstance(obj, dict):
        children = obj.values()
    elif isinstance(obj, (list, tuple, set, frozenset)):
        children = obj
    elif isinstance(obj, np.ndarray):
        children = obj.ravel() if obj.dtype == object else ()
    elif hasattr(obj, "__dict__") and not isinstance(obj, type):
        declared = getattr(obj, "n_features_in_", None)
        if isinstance(declared, (int, np.integer)):
            width = int(declared) if width is None else min(width, int(declared))
        children = vars(obj).values()
    else:
        children = ()
    for child in children:
        yield from _trees(child, width, seen, types)


def _tree_is_sound(tree: Any, width: int | None) -> bool:
    """Whether prediction with a tree stays inside its nodes and the input columns."""
    sklearn_tree, _ = _tree_types()
    if isinstance(tree, sklearn_tree):
        left, right, feature = tree.children_left, tree.children_right, tree.feature
        inner, categorical = left != -1, np.zeros(len(left), dtype=bool)
        width = tree.n_features if width is None else min(width, tree.n_features)
    elif width is None:  # sealtrain writes predictors only inside an estimator that checks the input width
        return False
    else:
        nodes = tree.nodes
        left, right, feature = nodes["left"], nodes["right"], nodes["feature_idx"]
        inner, categorical = nodes["is_leaf"] == 0, nodes["is_categorical"] != 0
    size, index = len(left), np.arange(len(left))
    # Children come after their parent inside the tree, so every path ends inside it.
    return bool(
        size > 0
        and np.all((left[inner] > index[inner]) & (left[inner] < size))
        and np.all((right[inner] > index[inner]) & (right[inner] < size))
        and np.all((feature[inner] >= 0) & (feature[inner] < width))
        and not categorical[inner].any()
    )


def save_model(model: Any, framework: str, directory: str, meta: dict) -> Path:
    """Writes a fitted classifier and its metadata into an artifact directory.

    Returns:
        The path of the model file.
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    path = out / MODEL_FILES[framework]
    if framework == "xgboost":
        model.save_model(path)
    else:
        dump_skops(model, path)
    (out / MODEL_META_FILE).write_text(json.dumps({**meta, "framework": framework, "file": path.name}, indent=2))
    return path


def model_fingerprint(directory: str) -> str:
    """A SHA-256 over the model file and its metadata: what the split ledger knows a model by.

    The same model served from the cache, logged to MLflow and downloaded again, or retrained
    to the same bytes has the same fingerprint; any other model file or threshold has another.
    How long the fit took is left out: it says nothing about the model.
    """
    meta = read_model_meta(directory)
    described = {k: v for k, v in meta.items() if k not in VOLATILE_META}
    digest = hashlib.sha256(json.dumps(described, sort_keys=True).encode())
    path = Path(directory) / MODEL_FILES.get(meta.get("framework"), MODEL_META_FILE)
    # A skops file names its members by memory address and stamps them with the time: content counts.
    parts = _zip_members(path) if zipfile.is_zipfile(path) else [(path.name, path.read_bytes())]
    for name, content in parts:
        digest.update(f"{name}:{len(content)}:".encode() + content)
    return digest.hexdigest()


def _zip_members(path: Path) -> list[tuple[str, bytes]]:
    """A skops file's members, with the object ids it names arrays and objects by renumbered in order of use."""
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    schema = members.pop("schema.json", b"").decode()
    order = {old: str(i) for i, old in enumerate(dict.fromkeys(SKOPS_ID.findall(schema)))}
    canonical = SKOPS_ID.sub(lambda m: order[m.group(0)], schema)
    renamed = sorted((f"{order.get(n.removesuffix('.npy'), n)}.npy" if n.endswith(".npy") else n, c)
                     for n, c in members.items())
    return [("schema.json", canonical.encode()), *renamed]


def read_model_meta(directory: str) -> dict:
    """Reads the metadata written beside a model file."""
    return json.loads((Path(directory) / MODEL_META_FILE).read_text())


def load_model(directory: str) -> Any:
    """Loads a classifier written by `save_model`.

    Raises:
        UntrustedModelFileError: The metadata names another framework or file than sealtrain
            writes, or the model file holds something sealtrain never writes.
    """
    meta = read_model_meta(directory)
    framework, file = meta.get("framework"), meta.get("file")
    if MODEL_FILES.get(framework) != file:
        raise UntrustedModelFileError(
            f"{Path(directory) / MODEL_META_FILE}: framework {framework!r} with file {file!r} is not a model "
            f"sealtrain writes; expected one of {MODEL_FILES}"
        )
    path = Path(directory) / file
    if framework == "xgboost":
        from xgboost import XGBClassifier

        model = XGBClassifier()
        model.load_model(path)
        return model
    return load_skops(path)
