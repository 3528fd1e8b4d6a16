"""The dataset contract: which column is the label, which the group, which are features."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .constants import GROUP_COLUMN, LABEL_COLUMN, RESERVED_COLUMNS
from .errors import InvalidInputError
from .identifiers import ENTITY_KEY, RECORD_KEY, Identifier, find_identifiers

_BINARY_DEFAULT_POSITIVES = ({"0", "1"}, "1"), ({"false", "true"}, "true")


@dataclass(frozen=True)
class DatasetSpec:
    """What the user said about the table.

    Attributes:
        label: The binary target column.
        positive_class: The label value that counts as positive; inferred for 0/1 and
            False/True labels when empty.
        group: The column whose value (a patient id) must never appear in two splits; empty
            means each distinct row is its own group.
        drop: Columns that are neither features nor label (identifiers, leaky fields).
        time: A date or number that orders the rows for a time-ordered split; not a feature.
        no_group: The user's statement that rows are independent (no patient has two rows),
            so an identifier whose values repeat only warns instead of blocking the run.
    """

    label: str
    positive_class: str = ""
    group: str = ""
    drop: tuple[str, ...] = field(default_factory=tuple)
    time: str = ""
    no_group: bool = False

    def missing_columns(self, frame: pd.DataFrame) -> list[str]:
        """Names the columns the spec refers to that the table lacks, with their role."""
        wanted = [("label", self.label)]
        if self.group:
            wanted.append(("group", self.group))
        if self.time:
            wanted.append(("time", self.time))
        wanted += [("drop", name) for name in self.drop]
        return [f"{role} column {name!r}" for role, name in wanted if name not in frame.columns]

    def candidate_columns(self, frame: pd.DataFrame) -> list[str]:
        """Returns every column that is not the label, the group, the time or dropped."""
        excluded = {self.label, self.group, self.time, *self.drop}
        return [c for c in frame.columns if c not in excluded]

    def identifiers(self, frame: pd.DataFrame) -> list[Identifier]:
        """The identifier columns among the candidate features (see `identifiers`)."""
        return find_identifiers(frame, self.candidate_columns(frame))

    def feature_columns(self, frame: pd.DataFrame) -> list[str]:
        """Returns the candidate columns without record keys, which are never features.

        A record key (a distinct value per row, such as a row number) cannot generalise and
        can carry the row order into the model; it is left out here rather than refused, and
        the QC report's `identifier_columns` check says so.
        """
        record_keys = {i.column for i in self.identifiers(frame) if i.kind == RECORD_KEY}
        return [c for c in self.candidate_columns(frame) if c not in record_keys]


def require_columns(frame: pd.DataFrame, spec: DatasetSpec, source: str) -> None:
    """Raises InvalidInputError naming every column of the spec that the table lacks."""
    missing = spec.missing_columns(frame)
    if missing:
        raise InvalidInputError(
            f"{source}: {', '.join(missing)} not found; the columns are {list(frame.columns)}"
        )
    reserved = [c for c in frame.columns if c in RESERVED_COLUMNS]
    if reserved:
        raise InvalidInputError(f"{source}: column names {reserved} are reserved by sealtrain")


def identifier_problem(frame: pd.DataFrame, spec: DatasetSpec) -> str:
    """Says why the identifiers of the table block a run, or returns "" (`blocking_identifiers`)."""
    if spec.group or spec.no_group:
        return ""
    return blocking_identifiers(spec.identifiers(frame), spec)


def blocking_identifiers(found: list[Identifier], spec: DatasetSpec) -> str:
    """Says why these identifiers of a table block a run, or returns "".

    An entity key (values repeat across rows) with neither a group column nor `no_group`
    means one patient's rows would be spread over train and test and its id learnt as a
    feature.

    Args:
        found: The identifiers among the candidate columns (`DatasetSpec.identifiers`).
        spec: The user's column roles.
    """
    if spec.group or spec.no_group:
        return ""
    keys = [i for i in found if i.kind == ENTITY_KEY]
    if not keys:
        return ""
    first = keys[0].column
    return (
        f"identifier column{'s' if len(keys) > 1 else ''} {', '.join(i.describe() for i in keys)} would become "
        f"a feature and spread one entity's rows over train and test; name the patient column with "
        f"--group {first}, or remove it with --drop {first}, or state that rows are independent with --no-group"
    )


def positive_label(values: pd.Series, spec: DatasetSpec) -> str:
    """Checks that the label is binary and returns its positive value as text.

    Raises:
        InvalidInputError: The label has missing values, one value, more than two values,
            or a positive class that does not occur, or it is ambiguous which is positive.
    """
    name = spec.label
    missing = int(values.isna().sum())
    if missing:
        raise InvalidInputError(f"label column {name!r} has {missing} missing values")
    # Distinct values first: text for each of 20 million rows would take gigabytes.
    distinct = sorted(pd.Series(values.unique()).astype(str).unique())
    if len(distinct) != 2:
        shown = distinct[:10]
        raise InvalidInputError(
            f"label column {name!r} must have exactly two values, found {len(distinct)}: {shown}"
        )
    if spec.positive_class:
        if spec.positive_class not in distinct:
            raise InvalidInputError(
                f"positive class {spec.positive_class!r} does not occur in label column "
                f"{name!r} (values: {distinct})"
            )
        return spec.positive_class
    lowered = {v.lower(): v for v in distinct}
    for pair, positive in _BINARY_DEFAULT_POSITIVES:
        if set(lowered) == pair:
            return lowered[positive]
    raise InvalidInputError(
        f"label column {name!r} has values {distinct}; name the positive one "
        "(--positive-class / positive_class)"
    )


def encode_label(values: pd.Series, spec: DatasetSpec) -> np.ndarray:
    """Returns the label as 0/1 int8, 1 for the positive class."""
    positive = positive_label(values, spec)
    return (values.astype(str) == positive).to_numpy(dtype=np.int8)


def group_keys(frame: pd.DataFrame, spec: DatasetSpec) -> pd.Series:
    """Returns the grouping key of each row as text.

    With a group column this is its value; without one it is a hash of the whole row, so
    exact duplicate rows share a key and can never straddle two splits.
    """
    if spec.group:
        keys = frame[spec.group]
        missing = int(keys.isna().sum())
        if missing:
            raise InvalidInputError(f"group column {spec.group!r} has {missing} missing ids")
        return keys.astype(str)
    hashed = pd.util.hash_pandas_object(frame[[*spec.feature_columns(frame), spec.label]], index=False)
    return hashed.map("{:016x}".format)


def time_order(frame: pd.DataFrame, spec: DatasetSpec) -> pd.Series:
    """The time column as sortable values: numbers as float64, dates as datetime64[ns].

    Raises:
        InvalidInputError: Missing or unparseable times; the message names the column.
    """
    column = frame[spec.time]
    missing = int(column.isna().sum())
    if missing:
        raise InvalidInputError(f"time column {spec.time!r} has {missing} missing values")
    if pd.api.types.is_numeric_dtype(column):
        return column.astype("float64").reset_index(drop=True)
    try:
        parsed = pd.to_datetime(column, format="mixed")
    except (ValueError, TypeError) as exc:
        raise InvalidInputError(f"time column {spec.time!r} is neither numbers nor dates ({exc})") from exc
    return pd.Series(parsed.to_numpy().astype("datetime64[ns]"))


def coerce_features(frame: pd.DataFrame) -> pd.DataFrame:
    """Gives every feature a dtype the preprocessor understands.

    Booleans become 0/1, numbers float64, everything else text with missing kept missing.

    Raises:
        InvalidInputError: A numeric column holds infinite values.
    """
    out = {}
    for name in frame.columns:
        column = frame[name]
        if pd.api.types.is_bool_dtype(column):
            out[name] = column.astype("float64")
        elif pd.api.types.is_numeric_dtype(column):
            values = column.astype("float64")
            infinite = int(np.isinf(values.to_numpy()).sum())
            if infinite:
                raise InvalidInputError(f"feature column {name!r} has {infinite} infinite values")
            out[name] = values
        else:
            text = column.astype(object)
            out[name] = text.where(column.isna(), text.map(str)).where(column.notna(), np.nan)
    return pd.DataFrame(out, index=frame.index)


def prepare(frame: pd.DataFrame, spec: DatasetSpec, source: str) -> pd.DataFrame:
    """Returns the table in canonical form: coerced features, `__label__` 0/1, `__group__`.

    Args:
        frame: The raw table.
        spec: The user's column roles.
        source: Where the table came from, for error messages.

    Raises:
        InvalidInputError: A column of the spec is missing, the label or group is unusable,
            or an identifier column blocks the run (`identifier_problem`).
    """
    require_columns(frame, spec, source)
    problem = identifier_problem(frame, spec)
    if problem:
        raise InvalidInputError(f"{source}: {problem}")
    features = spec.feature_columns(frame)
    if not features:
        raise InvalidInputError(f"{source}: no feature columns left after label, group and drop")
    prepared = coerce_features(frame[features])
    prepared[LABEL_COLUMN] = encode_label(frame[spec.label], spec)
    prepared[GROUP_COLUMN] = group_keys(frame, spec)
    return prepared.reset_index(drop=True)


def split_xy(frame: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """Splits a canonical table into features and the 0/1 label."""
    return frame.drop(columns=list(RESERVED_COLUMNS)), frame[LABEL_COLUMN].to_numpy()
