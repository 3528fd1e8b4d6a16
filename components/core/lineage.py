"""The runtime guard: every split artifact carries its role, every model its split manifest."""

from __future__ import annotations

from .constants import META_MANIFEST_FINGERPRINT, META_ROLE
from .errors import DataLeakageError


def require_role(metadata: dict, expected: str, consumer: str) -> None:
    """Refuses a split artifact whose role is not the one this consumer may read.

    Raises:
        DataLeakageError: The artifact is another split, or carries no role at all.
    """
    role = metadata.get(META_ROLE)
    if role != expected:
        raise DataLeakageError(
            f"{consumer} accepts only the {expected} split, but was handed an artifact with role {role!r}"
        )


def require_same_manifest(consumer: str, **artifacts: dict) -> str:
    """Checks that artifacts all descend from one split manifest and returns its fingerprint.

    Args:
        consumer: The component doing the check, for the message.
        **artifacts: Artifact metadata by name.

    Raises:
        DataLeakageError: The artifacts come from different splits (or one has no lineage).
    """
    seen = {name: meta.get(META_MANIFEST_FINGERPRINT) for name, meta in artifacts.items()}
    if None in seen.values() or len(set(seen.values())) != 1:
        raise DataLeakageError(f"{consumer}: inputs come from different split manifests: {seen}")
    return next(iter(seen.values()))
