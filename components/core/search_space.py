"""The JSON search-space language and its translation to Optuna suggestions.

A list is a categorical choice; an object `{"type": "int"|"float", "low", "high", "log",
"step"}` is a range. Ints are sampled as ints.
"""

from __future__ import annotations

import json
from typing import Any

from .algorithms import Algorithm
from .errors import HyperparameterTuningError

RANGE_KEYS = {"type", "low", "high", "log", "step"}


def load_space(text: str, algorithm: Algorithm) -> dict:
    """Parses and validates a search space; an empty text means the algorithm's default.

    Raises:
        HyperparameterTuningError: The spec is malformed; the message names the parameter.
    """
    if not text.strip():
        return algorithm.default_space
    try:
        space = json.loads(text)
    except json.JSONDecodeError as exc:
        raise HyperparameterTuningError(f"hyperparameter space is not valid JSON ({exc})") from exc
    validate_space(space, algorithm)
    return space


def validate_space(space: Any, algorithm: Algorithm) -> None:
    """Checks every entry of a search space before any trial runs.

    Raises:
        HyperparameterTuningError: Naming the first malformed parameter.
    """
    if not isinstance(space, dict):
        raise HyperparameterTuningError("hyperparameter space must be a JSON object of parameter specs")
    known = algorithm.tunable()
    for name, spec in space.items():
        where = f"hyperparameter {name!r} of {algorithm.name}"
        if name not in known:
            raise HyperparameterTuningError(f"{where}: unknown parameter")
        if isinstance(spec, list):
            if not spec:
                raise HyperparameterTuningError(f"{where}: empty list of choices")
            continue
        if not isinstance(spec, dict) or spec.get("type") not in ("int", "float"):
            raise HyperparameterTuningError(f"{where}: a list of choices or an object with type 'int' or 'float'")
        extra = set(spec) - RANGE_KEYS
        if extra:
            raise HyperparameterTuningError(f"{where}: unknown keys {sorted(extra)}")
        low, high = spec.get("low"), spec.get("high")
        if not isinstance(low, (int, float)) or not isinstance(high, (int, float)) or low >= high:
            raise HyperparameterTuningError(f"{where}: needs numeric low < high, got low={low!r}, high={high!r}")
        if spec["type"] == "int" and not (float(low).is_integer() and float(high).is_integer()):
            raise HyperparameterTuningError(f"{where}: int range needs whole low and high")
        if spec.get("log") and low <= 0:
            raise HyperparameterTuningError(f"{where}: log scale needs low > 0, got {low}")
        if spec.get("log") and spec.get("step") not in (None, 1):
            raise HyperparameterTuningError(f"{where}: log scale and step cannot be combined")


def suggest(trial: Any, space: dict) -> dict:
    """Asks an Optuna trial for one value per parameter of the space."""
    params = {}
    for name, spec in space.items():
        if isinstance(spec, list):
            params[name] = trial.suggest_categorical(name, spec)
        elif spec["type"] == "int":
            params[name] = trial.suggest_int(
                name, int(spec["low"]), int(spec["high"]), step=int(spec.get("step") or 1), log=bool(spec.get("log"))
            )
        else:
            params[name] = trial.suggest_float(name, spec["low"], spec["high"], step=spec.get("step"),
                                               log=bool(spec.get("log")))
    return params


def load_defaults(text: str, algorithm: Algorithm) -> dict:
    """Parses the candidate's fixed hyperparameters; an empty text means none.

    Raises:
        HyperparameterTuningError: Not a JSON object, or a parameter the algorithm lacks.
    """
    if not text.strip():
        return {}
    try:
        defaults = json.loads(text)
    except json.JSONDecodeError as exc:
        raise HyperparameterTuningError(f"default hyperparameters are not valid JSON ({exc})") from exc
    if not isinstance(defaults, dict):
        raise HyperparameterTuningError("default hyperparameters must be a JSON object")
    # Naming the estimator's parameters imports its library: only when there is something to check.
    unknown = sorted(set(defaults) - algorithm.tunable()) if defaults else []
    if unknown:
        raise HyperparameterTuningError(f"default hyperparameters {unknown} are unknown to {algorithm.name}")
    return defaults
