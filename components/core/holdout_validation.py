"""Post-deployment holdout validation: when the holdout may be read, how a run's holdout is
rebuilt exactly, and what a validation records.

The holdout is read for a model version only when a person has put it in production (the
MLflow alias `production`), once per model unless forced with a reason, and only as the very
rows the training run held out: the rows of its recorded data whose salted group hash the run
locked in the run store, checked against the data and holdout fingerprints of its split
manifest. Changed data is refused, never re-split.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from . import schema, splitting, tables
from .constants import AUC, GROUP_COLUMN, HOLDOUT
from .errors import HoldoutAccessError, InvalidInputError
from .model_registry import PRODUCTION_ALIAS, RegisteredVersion

# Tags a validation leaves on the model version, so the registry shows the result beside the alias.
TAG_RESULT = "holdout_validation"
TAG_AUC = "holdout_auc"
TAG_REASON = "holdout_verdict"
TAG_DATE = "holdout_validated_at"
TAG_FORCED = "holdout_forced_reason"
PASSED, FAILED = "passed", "failed"
# Where the holdout report and evaluation go in the version's MLflow run.
ARTIFACT_PATH = "holdout_validation"


def require_reason(force: bool, reason: str) -> None:
    """A forced re-validation must say why; the reason is recorded with it.

    Raises:
        InvalidInputError: `force` without a reason, or a reason without `force`.
    """
    if force and not reason.strip():
        raise InvalidInputError("--force needs --reason TEXT: a second look at the holdout is recorded with its "
                                "reason")
    if reason.strip() and not force:
        raise InvalidInputError("--reason goes with --force: a first validation needs no reason")


def require_production(version: RegisteredVersion) -> None:
    """Refuses a version that a person has not put in production.

    Raises:
        HoldoutAccessError: The version does not carry the `production` alias.
    """
    if PRODUCTION_ALIAS not in version.aliases:
        held = ", ".join(sorted(version.aliases)) or "no alias"
        raise HoldoutAccessError(
            f"{version} carries {held}, not the alias {PRODUCTION_ALIAS!r}: the holdout is read only for a model "
            f"in production. Set it in the MLflow registry (set_registered_model_alias({version.name!r}, "
            f"{PRODUCTION_ALIAS!r}, {version.version})) once the model is deployed"
        )


def require_first_validation(earlier: list[dict], version: RegisteredVersion, force: bool) -> None:
    """Refuses a second unforced validation of a model on the holdout.

    Args:
        earlier: The ledger's holdout rows of this model (`split_ledger.evaluations`).
        version: The version being validated.
        force: Whether the user forced a re-validation (with a reason).

    Raises:
        HoldoutAccessError: The model was validated before and `force` is off.
    """
    if earlier and not force:
        first = earlier[0]
        raise HoldoutAccessError(
            f"{version} was validated on the holdout already ({len(earlier)} time{'s' * (len(earlier) != 1)}, first "
            f"on {first['evaluated_at']:%Y-%m-%d %H:%M} UTC as {first['model_version'] or 'an unregistered model'}): "
            "each further look tunes the decision to the holdout. Re-validate only with --force --reason TEXT, "
            "which is recorded"
        )


def require_locked(groups: frozenset[str], training_run_id: str) -> None:
    """Refuses a run that recorded no holdout groups: its holdout cannot be rebuilt.

    Raises:
        HoldoutAccessError: `groups` is empty.
    """
    if not groups:
        raise HoldoutAccessError(f"training run {training_run_id} locked no holdout groups in the run store: "
                                 "its holdout cannot be rebuilt (runs record their holdout when they complete)")


def dataset_spec(manifest: dict) -> schema.DatasetSpec:
    """The column roles the run's split manifest recorded, to prepare its data again."""
    dataset = manifest["dataset"]
    return schema.DatasetSpec(dataset["label_column"], dataset["positive_class"], dataset["group_column"],
                              tuple(dataset["drop_columns"]), dataset["time_column"], dataset["no_group"])


def rebuild(raw: pd.DataFrame, manifest: dict, groups: frozenset[str], source: str, training_run_id: str
            ) -> pd.DataFrame:
    """The run's holdout split, rebuilt from its data: the rows of its locked groups, in data order.

    Args:
        raw: The table as read.
        manifest: The run's split manifest (data fingerprint, salt, holdout fingerprint, columns).
        groups: The salted hashes of the run's holdout groups (`split_ledger.run_holdout`).
        source: Where the table came from, for messages.
        training_run_id: The run, for messages.

    Returns:
        The holdout in canonical form (as `split_dataset` wrote it), its content verified.

    Raises:
        HoldoutAccessError: The run locked no groups, or the data is not the data the run
            was trained on (the message names both fingerprints), or the rows of its groups
            are not its holdout.
    """
    require_locked(groups, training_run_id)
    try:
        prepared = schema.prepare(raw, dataset_spec(manifest), source)
    except InvalidInputError as exc:
        raise HoldoutAccessError(f"the data changed since training run {training_run_id}: {exc}") from None
    found, recorded = tables.fingerprint(prepared), manifest["data_fingerprint"]
    if found != recorded:
        raise HoldoutAccessError(
            f"the data changed since training run {training_run_id}: {source} prepares to a table with fingerprint "
            f"{found}, but the run's split manifest recorded {recorded}. The holdout is only rebuilt from the data "
            "the model was trained on, never split afresh; point --data at that data"
        )
    keys = prepared[GROUP_COLUMN]
    unique = keys.unique()
    locked = dict(zip(unique, (h in groups for h in splitting.group_hashes(unique, manifest["salt"]))))
    holdout = prepared[keys.map(locked).to_numpy(dtype=bool)].reset_index(drop=True)
    content, expected = tables.fingerprint(holdout), manifest["splits"][HOLDOUT]["fingerprint"]
    if content != expected:
        raise HoldoutAccessError(
            f"the rows of the {len(groups)} groups training run {training_run_id} locked have fingerprint {content}, "
            f"but its split manifest fingerprints its holdout as {expected}: the run store's holdout groups are not "
            "this run's holdout"
        )
    return holdout


def verdict(result: dict, min_auc: float) -> dict:
    """Passed or failed against `min_auc`, judged like the validation gate (on the AUC's lower bound).

    Returns:
        `passed`, `reason` and the `criteria` applied.
    """
    from .evaluation import acceptance  # scikit-learn: only the task that records the result needs it

    judged = acceptance(result["test_metrics"], result["confidence_interval"], min_auc, HOLDOUT)
    return {"passed": judged["accepted"], "reason": judged["reason"],
            "criteria": judged["criteria"]}


def version_tags(result: dict, judged: dict, validated_at: datetime, reason: str) -> dict[str, str]:
    """The tags a validation leaves on the model version."""
    auc, bounds = result["test_metrics"][AUC], result["confidence_interval"].get(AUC)
    tags = {
        TAG_RESULT: PASSED if judged["passed"] else FAILED,
        TAG_AUC: ("undefined (single-class holdout)" if auc is None else f"{auc:.4f}"
                  + (f" (95% CI {bounds[0]:.4f}-{bounds[1]:.4f})" if bounds else "")),
        TAG_REASON: judged["reason"],
        TAG_DATE: validated_at.isoformat(timespec="seconds"),
    }
    if reason:
        tags[TAG_FORCED] = reason
    return tags
