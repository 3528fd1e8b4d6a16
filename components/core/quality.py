"""The data-quality report and the QC gate."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from .constants import (
    DEFAULT_RATIOS,
    MAX_CATEGORY_LEVELS,
    QC_FAILED,
    QC_PASSED,
    QC_STATUSES,
    QC_TRAINABLE,
    QC_WARNING,
)
from .errors import InvalidInputError, QCGateBlockedError
from .identifiers import ENTITY_KEY, RECORD_KEY
from .schema import DatasetSpec, blocking_identifiers, group_keys, positive_label, time_order

_SCORE = {QC_PASSED: 1.0, QC_WARNING: 0.5, QC_FAILED: 0.0}
MISSING_RATE_WARNING = 0.5
MINORITY_RATE_WARNING = 0.01


@dataclass
class QCCheck:
    """One check of the report."""

    name: str
    status: str
    detail: str


@dataclass
class QCReport:
    """The design's QCReport, with the per-check detail behind its status."""

    status: str
    overall_score: float
    checks: list[QCCheck] = field(default_factory=list)
    source: str = "sealtrain.check_data_quality"

    @property
    def problems(self) -> list[QCCheck]:
        """The checks that did not pass."""
        return [c for c in self.checks if c.status != QC_PASSED]

    def to_json(self) -> str:
        """Serialises the report."""
        return json.dumps(asdict(self), indent=2)


def min_groups_needed(ratios: dict[str, float] = DEFAULT_RATIOS) -> int:
    """The fewest groups that can give every split at least one group."""
    return math.ceil(1 / min(ratios.values()))


def _check_label(frame: pd.DataFrame, spec: DatasetSpec) -> QCCheck:
    try:
        positive = positive_label(frame[spec.label], spec)
    except InvalidInputError as exc:
        return QCCheck("label_binary", QC_FAILED, str(exc))
    return label_check(positive, float((frame[spec.label].astype(str) == positive).mean()))


def label_check(positive: str, rate: float) -> QCCheck:
    """The `label_binary` check of a binary label, from its positive class and positive rate."""
    minority = min(rate, 1 - rate)
    if minority < MINORITY_RATE_WARNING:
        return QCCheck("label_binary", QC_WARNING, f"positive rate {rate:.4f} is extreme")
    return QCCheck("label_binary", QC_PASSED, f"positive class {positive!r}, rate {rate:.4f}")


def _check_groups(frame: pd.DataFrame, spec: DatasetSpec, needed: int) -> QCCheck:
    try:
        keys = group_keys(frame, spec)
    except InvalidInputError as exc:
        return QCCheck("groups", QC_FAILED, str(exc))
    return groups_check(int(keys.nunique()), spec, needed)


def groups_check(count: int, spec: DatasetSpec, needed: int) -> QCCheck:
    """The `groups` check, from the number of distinct group keys."""
    unit = f"groups in {spec.group!r}" if spec.group else "distinct rows"
    if count < needed:
        return QCCheck("groups", QC_FAILED, f"{count} {unit}; at least {needed} are needed to fill four splits")
    return QCCheck("groups", QC_PASSED, f"{count} {unit}")


def identifiers_check(found: list, spec: DatasetSpec) -> QCCheck:
    """The `identifier_columns` check: fails on a repeated identifier without a group, warns on any other.

    Args:
        found: The `identifiers.Identifier`s among the candidate features.
        spec: The user's column roles.
    """
    problem = blocking_identifiers(found, spec)
    if problem:
        return QCCheck("identifier_columns", QC_FAILED, problem)
    if not found:
        return QCCheck("identifier_columns", QC_PASSED, "none among the features")
    notes = [f"{i.describe()} is not a feature" for i in found if i.kind == RECORD_KEY]
    kept = [i.describe() for i in found if i.kind == ENTITY_KEY]
    if kept:
        why = "--no-group says rows are independent" if spec.no_group else f"the group is {spec.group!r}"
        notes.append(f"{', '.join(kept)} kept as feature{'s' if len(kept) > 1 else ''} because {why}; "
                     "--drop it if it only names an entity")
    return QCCheck("identifier_columns", QC_WARNING, "; ".join(notes))


def _check_features(features: pd.DataFrame) -> list[QCCheck]:
    numeric = features.select_dtypes(include=[np.number])
    categorical = features.drop(columns=list(numeric.columns))
    return feature_checks(
        features.isna().mean(),
        [c for c in features.columns if features[c].nunique(dropna=True) == 1],
        [c for c in numeric.columns if np.isinf(numeric[c].to_numpy(dtype=float)).any()],
        [c for c in categorical.columns if categorical[c].nunique() > MAX_CATEGORY_LEVELS],
    )


def feature_checks(missing_rates: pd.Series, constant: list[str], infinite: list[str],
                   wide: list[str]) -> list[QCCheck]:
    """The `missing_values`, `constant_columns`, `infinite_values` and `category_levels` checks.

    Args:
        missing_rates: The share of missing values of every feature.
        constant: Features with one distinct non-missing value.
        infinite: Numeric features with an infinite value.
        wide: Non-numeric features with more than `MAX_CATEGORY_LEVELS` levels.
    """
    checks = []
    rates = missing_rates
    empty = sorted(rates[rates == 1.0].index)
    high = sorted(rates[(rates > MISSING_RATE_WARNING) & (rates < 1.0)].index)
    if empty or high:
        detail = f"all missing (dropped): {empty}; over {MISSING_RATE_WARNING:.0%} missing: {high}"
        checks.append(QCCheck("missing_values", QC_WARNING, detail))
    else:
        checks.append(QCCheck("missing_values", QC_PASSED, f"max missing rate {rates.max():.3f}"))
    constant = sorted(constant)
    checks.append(
        QCCheck("constant_columns", QC_WARNING, f"constant (dropped): {constant}")
        if constant
        else QCCheck("constant_columns", QC_PASSED, "none")
    )
    infinite = sorted(infinite)
    checks.append(
        QCCheck("infinite_values", QC_FAILED, f"infinite values in {infinite}")
        if infinite
        else QCCheck("infinite_values", QC_PASSED, "none")
    )
    wide = sorted(wide)
    checks.append(
        QCCheck(
            "category_levels",
            QC_WARNING,
            f"more than {MAX_CATEGORY_LEVELS} levels (rare levels pooled): {wide}",
        )
        if wide
        else QCCheck("category_levels", QC_PASSED, f"at most {MAX_CATEGORY_LEVELS} levels")
    )
    return checks


def duplicates_check(duplicated: int) -> QCCheck:
    """The `duplicate_rows` check, from the number of rows that copy an earlier row."""
    if not duplicated:
        return QCCheck("duplicate_rows", QC_PASSED, "none")
    return QCCheck("duplicate_rows", QC_WARNING,
                   f"{duplicated} {'row is an exact copy' if duplicated == 1 else 'rows are exact copies'} of another "
                   "row (copies stay in one split)")


def compute_report(frame: pd.DataFrame, spec: DatasetSpec, ratios: dict[str, float] = DEFAULT_RATIOS) -> QCReport:
    """Checks a raw table against the dataset contract.

    Args:
        frame: The table as loaded.
        spec: The user's column roles.
        ratios: The split ratios, to know how many groups are needed.

    Returns:
        A report whose status is FAILED if any check failed, WARNING if any warned.
    """
    missing = spec.missing_columns(frame)
    if missing:
        detail = f"{', '.join(missing)} not found; the columns are {list(frame.columns)}"
        return summarise([QCCheck("required_columns", QC_FAILED, detail)])
    checks = [QCCheck("required_columns", QC_PASSED, "label, group and drop columns present")]
    checks.append(_check_label(frame, spec))
    checks.append(_check_groups(frame, spec, min_groups_needed(ratios)))
    checks.append(identifiers_check(spec.identifiers(frame), spec))
    if spec.time:
        try:
            time_order(frame, spec)
            checks.append(QCCheck("time_column", QC_PASSED, f"{spec.time!r} orders the rows"))
        except InvalidInputError as exc:
            checks.append(QCCheck("time_column", QC_FAILED, str(exc)))
    features = frame[spec.feature_columns(frame)]
    if features.shape[1] == 0:
        checks.append(QCCheck("features", QC_FAILED, "no feature columns left after label, group and drop"))
    else:
        checks.extend(_check_features(features))
    checks.append(duplicates_check(int(frame.duplicated().sum())))
    return summarise(checks)


def summarise(checks: list[QCCheck]) -> QCReport:
    """The report of a list of checks: FAILED if any failed, WARNING if any warned, and the score."""
    statuses = {c.status for c in checks}
    status = QC_FAILED if QC_FAILED in statuses else QC_WARNING if QC_WARNING in statuses else QC_PASSED
    score = round(sum(_SCORE[c.status] for c in checks) / len(checks), 4)
    return QCReport(status=status, overall_score=score, checks=checks)


# The keys of a QC report's JSON (see `QCReport`), required and optional, and of each check.
REPORT_KEYS = ("status", "overall_score")
OPTIONAL_REPORT_KEYS = ("checks", "source")
CHECK_KEYS = ("name", "status", "detail")


def _schema_problems(data: object, required: tuple[str, ...], allowed: set[str]) -> list[str]:
    """Names the missing and unknown keys of a JSON object, and a `status` that is not a QC status."""
    if not isinstance(data, dict):
        return [f"holds a JSON {type(data).__name__}, not an object with {', '.join(required)}"]
    problems = []
    missing = [k for k in required if k not in data]
    if missing:
        problems.append(f"missing key{'s' * (len(missing) > 1)} {', '.join(missing)}")
    unknown = sorted(set(data) - allowed)
    if unknown:
        problems.append(f"unknown key{'s' * (len(unknown) > 1)} {', '.join(unknown)} "
                        f"(allowed: {', '.join(sorted(allowed))})")
    if "status" in data and data["status"] not in QC_STATUSES:
        problems.append(f"'status' must be one of {list(QC_STATUSES)}, got {data['status']!r}")
    return problems


def parse_report(text: str, source: str = "QC report") -> QCReport:
    """Reads a QC report handed over by an upstream data-quality step.

    The report is an object with `status` and `overall_score`, and optionally `source` and
    `checks`, a list of objects with `name`, `status` and `detail`; no other key is accepted.

    Raises:
        InvalidInputError: The text is not JSON, a key is missing or unknown, or a value is
            of the wrong kind; the message names every such key.
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"{source}: not valid JSON ({exc})") from exc
    problems = _schema_problems(data, REPORT_KEYS, {*REPORT_KEYS, *OPTIONAL_REPORT_KEYS})
    if not problems:
        score, checks = data["overall_score"], data.get("checks", [])
        if isinstance(score, bool) or not isinstance(score, (int, float)):
            problems.append(f"'overall_score' must be a number, got {json.dumps(score)}")
        if not isinstance(checks, list):
            problems.append(f"'checks' must be a list, got {json.dumps(checks)}")
        else:
            problems += [f"checks[{number}]: {problem}" for number, check in enumerate(checks)
                         for problem in _schema_problems(check, CHECK_KEYS, set(CHECK_KEYS))]
    if problems:
        raise InvalidInputError(f"{source}: {'; '.join(problems)}")
    return QCReport(
        status=data["status"],
        overall_score=float(data["overall_score"]),
        checks=[QCCheck(**{k: str(c[k]) for k in CHECK_KEYS}) for c in data.get("checks", [])],
        source=str(data.get("source", source)),
    )


def gate(report: QCReport) -> str:
    """Lets training continue only on a PASSED or WARNING report.

    Returns:
        The report's status.

    Raises:
        QCGateBlockedError: The report says FAILED; the message carries the score and the
            failing checks.
    """
    if report.status in QC_TRAINABLE:
        return report.status
    failing = "; ".join(f"{c.name}: {c.detail}" for c in report.checks if c.status == QC_FAILED)
    raise QCGateBlockedError(
        f"Cannot train: QC failed with score {report.overall_score}" + (f" ({failing})" if failing else "")
    )


def require_trainable(status: str) -> None:
    """Refuses to go on after a QC gate whose verdict was not PASSED or WARNING.

    Raises:
        QCGateBlockedError: Any other status, an empty one included.
    """
    if status not in QC_TRAINABLE:
        raise QCGateBlockedError(f"Cannot train: the QC gate's status is {status!r}, not one of {list(QC_TRAINABLE)}")
