"""Leaks a split cannot prevent by construction: a feature that gives the label away, and the
same patient present in train and in an evaluation split under another id.

Both are measured on the written splits, never on the whole table: the target check reads the
train split only (the rows the model learns from, so test labels play no part in deciding
which features are allowed), the duplicate check compares the splits pairwise.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd

from .constants import (
    DEFAULT_MAX_DUPLICATE_SHARE,
    GROUP_COLUMN,
    HOLDOUT,
    LABEL_COLUMN,
    MAX_CATEGORY_LEVELS,
    RESERVED_COLUMNS,
    SPLITS,
    TEST,
    TRAIN,
)
from .errors import DataLeakageError, InvalidInputError

# A single feature whose AUC on train is this far from 0.5 fails (>= 0.99 or <= 0.01) or warns.
LEAK_FAIL_SEPARATION = 0.99
LEAK_WARN_SEPARATION = 0.95
# Levels with fewer train rows than this are pooled before their label rates are compared, so
# a level seen on a handful of rows cannot look like a deterministic mapping by chance.
MIN_LEVEL_ROWS = 10
# Pairs (source, evaluation) where identical feature rows mean a patient the model learnt from
# is scored again; every pair is counted, these are held to `max_duplicate_share`.
ENFORCED_PAIRS = ((TRAIN, TEST), (TRAIN, HOLDOUT))
EXAMPLES = 5


def _auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """The AUC of `scores` for the 0/1 `labels` (Mann-Whitney, ties counted half)."""
    ranks = pd.Series(scores).rank(method="average").to_numpy()
    positives = labels == 1
    n_pos, n_neg = int(positives.sum()), int((~positives).sum())
    return float((ranks[positives].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _level_rates(values: pd.Series, labels: np.ndarray) -> np.ndarray:
    """Each row's level positive rate, missing as a level, levels under MIN_LEVEL_ROWS pooled."""
    levels = values.astype(object).where(values.notna(), "\x00missing")
    counts = levels.map(levels.value_counts())
    pooled = levels.where(counts >= MIN_LEVEL_ROWS, "\x00rare")
    return pd.Series(labels, index=values.index).groupby(pooled.to_numpy()).transform("mean").to_numpy()


def feature_auc(values: pd.Series, labels: np.ndarray) -> tuple[float, str]:
    """The single-feature AUC of one column and how it was scored.

    Numbers score by their value (missing below every value, so missingness that follows the
    label counts too). Text, and numbers with at most `MAX_CATEGORY_LEVELS` values, also score
    by their level's positive rate, which catches a deterministic mapping from level to label
    whatever the order of the levels; the more extreme of the two is returned.

    Returns:
        The AUC (0.5 means no signal; near 0 or 1 means the feature alone separates the
        label) and `"value"` or `"level label rates"`.
    """
    candidates = []
    numeric = pd.api.types.is_numeric_dtype(values)
    if numeric:
        candidates.append((_auc(values.to_numpy(dtype=float, na_value=-np.inf), labels), "value"))
    if not numeric or values.nunique() <= MAX_CATEGORY_LEVELS:
        candidates.append((_auc(_level_rates(values, labels), labels), "level label rates"))
    return max(candidates, key=lambda c: abs(c[0] - 0.5))


def check_target_leakage(train: pd.DataFrame, allow_features: tuple[str, ...] = ()) -> dict:
    """Fails on a feature that alone separates the label on the train split.

    Args:
        train: The canonical train table (features, `__label__`, `__group__`).
        allow_features: Features the user vouches for (`--allow-feature`); they are scored
            and recorded, never refused.

    Returns:
        A manifest section: the thresholds, the allowed features and every feature at or
        beyond the warning separation, with its AUC and status (`warning` or `allowed`).

    Raises:
        InvalidInputError: An allowed feature is not a feature of the table.
        DataLeakageError: Features at or beyond `LEAK_FAIL_SEPARATION`; the message names
            each with its AUC and the two ways out.
    """
    labels = train[LABEL_COLUMN].to_numpy()
    return judge_target_leakage([c for c in train.columns if c not in RESERVED_COLUMNS], len(labels),
                                len(np.unique(labels)) == 2, allow_features,
                                lambda name: feature_auc(train[name], labels))


def judge_target_leakage(features: list[str], rows: int, two_classes: bool, allow_features: tuple[str, ...],
                         auc_of: Callable[[str], tuple[float, str]]) -> dict:
    """The verdict of `check_target_leakage` from each feature's single-feature AUC, however computed.

    Args:
        features: The train split's features.
        rows: Its rows.
        two_classes: Whether its label has both classes (no feature is scored otherwise).
        allow_features: Features the user vouches for.
        auc_of: A feature's AUC and how it was scored (`feature_auc`).

    Raises:
        InvalidInputError, DataLeakageError: As `check_target_leakage`.
    """
    unknown = sorted(set(allow_features) - set(features))
    if unknown:
        raise InvalidInputError(f"allowed features {unknown} are not features; the features are {features}")
    flagged, failing = [], []
    if two_classes:
        for name in features:
            auc, scored_by = auc_of(name)
            separation = max(auc, 1 - auc)
            if name in allow_features:
                status = "allowed"
            elif separation >= LEAK_FAIL_SEPARATION:
                status = "failed"
                failing.append(f"{name!r} (AUC {auc:.4f} by {scored_by})")
            elif separation >= LEAK_WARN_SEPARATION:
                status = "warning"
            else:
                continue
            flagged.append({"column": name, "auc": round(auc, 6), "scored_by": scored_by, "status": status})
    if failing:
        first = flagged[[f["status"] for f in flagged].index("failed")]["column"]
        raise DataLeakageError(
            f"target leakage on the train split ({rows} rows): feature{'s' if len(failing) > 1 else ''} "
            f"{', '.join(failing)} alone separate{'' if len(failing) > 1 else 's'} the label; a feature that "
            f"copies or follows the outcome must not be used: --drop {first}, or if it is a legitimate "
            f"predictor --allow-feature {first}"
        )
    return {
        "checked_on": TRAIN,
        "fail_at": LEAK_FAIL_SEPARATION,
        "warn_at": LEAK_WARN_SEPARATION,
        "allowed": list(allow_features),
        "features": flagged,
    }


def _row_hashes(frame: pd.DataFrame) -> pd.Series:
    return pd.util.hash_pandas_object(frame.drop(columns=list(RESERVED_COLUMNS)), index=False)


def duplicates_across(splits: dict[str, pd.DataFrame],
                      max_duplicate_share: float = DEFAULT_MAX_DUPLICATE_SHARE) -> dict:
    """Counts rows of one split whose exact feature values identify a patient of an earlier split.

    A row of the later split counts when its feature values occur in the earlier split in
    exactly one group: that patient, re-entered under a new id (or a copied row), so the
    evaluation scores rows the model learnt from. Feature values that several patients of the
    earlier split share are a common profile (low-dimensional data: age and smoking status
    only), which the features cannot tell apart; those rows are counted separately and never
    refused.

    Args:
        splits: Canonical tables by split name.
        max_duplicate_share: The largest share of a test or holdout split's rows that may
            match one train patient; 0 refuses any, 1 only counts.

    Returns:
        A manifest section: per pair `"train/test"` the later split's rows that match one
        patient of the earlier split (`rows`, `share`) and those matching a common profile
        (`common_profile_rows`), plus the threshold and the enforced pairs.

    Raises:
        InvalidInputError: The threshold is outside [0, 1].
        DataLeakageError: An enforced pair is over the threshold; the message gives the
            counts and example group ids on both sides.
    """
    if not 0 <= max_duplicate_share <= 1:
        raise InvalidInputError(f"max_duplicate_share must be in [0, 1], got {max_duplicate_share}")
    hashes = {name: _row_hashes(splits[name]).to_numpy() for name in SPLITS}
    counts, found = {}, {}
    for i, source in enumerate(SPLITS):
        owners = pd.Series(splits[source][GROUP_COLUMN].to_numpy(), index=hashes[source]).groupby(level=0)
        patients = owners.nunique()
        first_owner = owners.first()
        for target in SPLITS[i + 1:]:
            target_groups = splits[target][GROUP_COLUMN].to_numpy()
            shared = patients.reindex(hashes[target]).to_numpy()
            twins = shared == 1
            counts[f"{source}/{target}"] = (int(twins.sum()), int((shared > 1).sum()), len(target_groups))
            found[(source, target)] = (target_groups[twins], first_owner.reindex(hashes[target][twins]).to_numpy())

    def examples(source: str, target: str) -> tuple[int, list]:
        groups, owners = found[(source, target)]
        matched = pd.unique(pd.Series([f"{target} {g!r} = {source} {o!r}" for g, o in zip(groups, owners)]))
        return len(matched), list(matched[:EXAMPLES])

    return duplicates_section(counts, max_duplicate_share, examples)


def duplicates_section(counts: dict[str, tuple[int, int, int]], max_duplicate_share: float,
                       examples: Callable[[str, str], tuple[int, list]]) -> dict:
    """The verdict of `duplicates_across` from its counts, however computed.

    Args:
        counts: Per pair `"train/test"`: the later split's rows matching one patient of the
            earlier split, those matching a common profile, and the later split's rows.
        max_duplicate_share: As `duplicates_across`.
        examples: For a pair over the threshold, how many pairs of groups match and a few
            `"test 'b' = train 'a'"` examples.

    Raises:
        DataLeakageError: As `duplicates_across`.
    """
    pairs, breaches = {}, []
    for pair, (rows, common, total) in counts.items():
        source, target = pair.split("/")
        share = rows / total if total else 0.0
        pairs[pair] = {"rows": rows, "share": round(share, 6), "common_profile_rows": common}
        if (source, target) in ENFORCED_PAIRS and share > max_duplicate_share:
            matched, shown = examples(source, target)
            breaches.append(
                f"{rows} of {total} {target} rows ({share:.2%}) repeat the feature values of one "
                f"{source} patient ({matched} pairs of groups, e.g. {shown})"
            )
    if breaches:
        raise DataLeakageError(
            "the same patients appear to be in train and in an evaluation split under different ids: "
            + "; ".join(breaches)
            + f" (allowed: {max_duplicate_share:.2%}); remove the re-entered patients or give them their "
            "original ids, or raise --max-duplicate-share if different patients really share all feature values"
        )
    return {"max_share": max_duplicate_share, "enforced": [f"{s}/{t}" for s, t in ENFORCED_PAIRS], "pairs": pairs}
