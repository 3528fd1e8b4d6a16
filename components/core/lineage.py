"""The runtime guard: every input is checked against the split manifest it claims, by content.

Artifact metadata is only a claim: a component can copy the test split and call it train.
So every split artifact, and every preprocessor and model fitted from one, carries the part
of its split manifest that the manifest's fingerprint covers (the data fingerprint, the salt
and each split's content fingerprint). A consumer recomputes the manifest fingerprint from
it, requires all its inputs to share that one manifest, hashes the table it actually read
and compares that with the manifest's fingerprint for the role it needs, and compares the
train fingerprint a preprocessor or model was fitted on with the manifest's train split.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from . import splitting, tables
from .constants import META_FINGERPRINT, META_MANIFEST_CORE, META_MANIFEST_FINGERPRINT, META_ROLE, TRAIN
from .errors import DataLeakageError


@dataclass(frozen=True)
class Manifest:
    """A split manifest as its descendants carry it, its fingerprint verified.

    Attributes:
        fingerprint: The manifest fingerprint.
        core: What that fingerprint hashes: data fingerprint, salt and split fingerprints.
    """

    fingerprint: str
    core: dict

    def split(self, role: str) -> str:
        """The content fingerprint of one split of this manifest.

        Raises:
            DataLeakageError: The manifest has no such split.
        """
        entry = self.core["splits"].get(role)
        if not isinstance(entry, dict) or "fingerprint" not in entry:
            raise DataLeakageError(f"split manifest {self.fingerprint} has no {role} split")
        return entry["fingerprint"]

    def describe(self, fingerprint: str) -> str:
        """Which split of this manifest has content with this fingerprint, for a message."""
        role = next((role for role, entry in self.core["splits"].items() if entry["fingerprint"] == fingerprint), None)
        return f"the {role} split of that manifest" if role else "no split of that manifest"

    def stamp(self) -> dict:
        """The metadata that lets an artifact's readers verify this manifest in turn."""
        return {META_MANIFEST_FINGERPRINT: self.fingerprint, META_MANIFEST_CORE: self.core}


def manifest_core(manifest: dict) -> dict:
    """The part of a split manifest that `splitting.manifest_fingerprint` hashes."""
    return {
        "data_fingerprint": manifest["data_fingerprint"],
        "salt": manifest["salt"],
        "splits": {role: {"fingerprint": entry["fingerprint"]} for role, entry in manifest["splits"].items()},
    }


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


def require_same_manifest(consumer: str, **artifacts: dict) -> Manifest:
    """Checks that artifacts all descend from one split manifest whose fingerprint holds.

    Args:
        consumer: The component doing the check, for the message.
        **artifacts: Artifact metadata by name.

    Returns:
        The manifest, its fingerprint recomputed from what the artifacts carry.

    Raises:
        DataLeakageError: The artifacts come from different splits, one has no lineage, or
            what one carries does not hash to the manifest fingerprint it names.
    """
    seen = {name: meta.get(META_MANIFEST_FINGERPRINT) for name, meta in artifacts.items()}
    if None in seen.values() or len(set(seen.values())) != 1:
        raise DataLeakageError(f"{consumer}: inputs come from different split manifests: {seen}")
    claimed = next(iter(seen.values()))
    for name, meta in artifacts.items():
        core = meta.get(META_MANIFEST_CORE)
        try:
            recomputed = splitting.manifest_fingerprint(core)
        except (KeyError, TypeError, AttributeError):
            recomputed = None
        if recomputed != claimed:
            raise DataLeakageError(
                f"{consumer}: the {name} input names split manifest {claimed}, but the split fingerprints it "
                f"carries ({META_MANIFEST_CORE}) hash to {recomputed}: its lineage was altered"
            )
    return Manifest(claimed, core)


def verify_split(frame: pd.DataFrame, role: str, consumer: str, manifest: Manifest) -> str:
    """Checks that a table read as a split is, by content, that split of the manifest.

    The role in the artifact's metadata is checked apart (`require_role`): it is a claim,
    this is the content.

    Args:
        frame: The table exactly as the consumer read it.
        role: The split the consumer requires.
        consumer: The component doing the check, for the message.
        manifest: The verified manifest of the consumer's inputs.

    Returns:
        The table's content fingerprint.

    Raises:
        DataLeakageError: The content is not the manifest's split of this role (the message
            names both fingerprints).
    """
    return _check_content(content_fingerprint(frame), role, consumer, manifest)


def _check_content(content: str, role: str, consumer: str, manifest: Manifest) -> str:
    expected = manifest.split(role)
    if content != expected:
        raise DataLeakageError(
            f"{consumer}: the {role} input's content has fingerprint {content} ({manifest.describe(content)}), "
            f"but split manifest {manifest.fingerprint} fingerprints the {role} split as {expected}"
        )
    return content


def content_fingerprint(frame) -> str:
    """The content fingerprint of a table as its engine's split manifest makes it (`engines.FINGERPRINT_FUNCTIONS`).

    A pandas table's `tables.fingerprint`; a Dask frame's `frame_fingerprint`, over its
    partitions as read from the split's Parquet parts.
    """
    if isinstance(frame, pd.DataFrame):
        return tables.fingerprint(frame)
    from .distributed.fingerprints import frame_fingerprint

    return frame_fingerprint(frame)


def read_split(path: str, role: str, consumer: str, manifest: Manifest, engine: str = "pandas"):
    """Reads a split artifact once and verifies the very table read (as `verify_split` does).

    With engine "dask" the split is a Parquet dataset read lazily onto the current Dask
    client's cluster, and the frame returned is the one verified: `path` is then a local
    directory or, on a cluster, the split artifact's gs:// URI (`locations.table_location`),
    which the workers read and fingerprint through gcsfs, so a split is verified by what is
    at its URI, not by what the task's pod holds. Its partitions stay on the workers; one
    read again after a worker is lost is checked against its verified fingerprint
    (`fingerprints.held_to`).
    """
    return _read_checked(path, engine, lambda found: _check_content(found, role, consumer, manifest),
                         f"{consumer}: the {role} input {path}")


def read_loaded(path: str, metadata: dict, consumer: str, engine: str = "pandas"):
    """Reads the loaded dataset and verifies it is the table load_dataset wrote.

    The load stage fingerprints the files it wrote (its metadata's `fingerprint`, by the
    engine's function); QC and the split hash what they read and refuse anything else, so
    a dataset changed or swapped between the stages is not split. With engine "dask" the
    frame's partitions stay on the workers, and one read again after a worker is lost is
    checked too (`fingerprints.held_to`).

    Raises:
        DataLeakageError: The metadata has no fingerprint, or the content read has another.
    """
    loaded = metadata.get(META_FINGERPRINT)
    if not loaded:
        raise DataLeakageError(f"{consumer}: the dataset input {path} has no fingerprint in its metadata: it was "
                               "not written by load_dataset")

    def check(found: str) -> None:
        if found != loaded:
            raise DataLeakageError(f"{consumer}: the dataset input {path} has fingerprint {found}, but load_dataset "
                                   f"wrote one with fingerprint {loaded}: it changed after it was loaded")

    return _read_checked(path, engine, check, f"{consumer}: the dataset input {path}")


def _read_checked(path: str, engine: str, check: Callable[[str], object], where: str):
    """Reads a Parquet table, hands its content fingerprint to `check` (which raises if it is wrong), returns the table.

    With engine "dask" the frame stays on the workers, held to its partitions' fingerprints
    (`fingerprints.held_to`, `where` naming it in errors).
    """
    if engine == "dask":
        from .distributed import fingerprints
        from .distributed.parquet import read_parquet

        frame = read_parquet(path)
        parts = fingerprints.partition_fingerprints(frame)
        check(fingerprints.combined(parts))
        return fingerprints.held_to(frame, parts, where)
    frame = tables.read_parquet(path)
    check(tables.fingerprint(frame))
    return frame


def verify_fitted_on_train(consumer: str, manifest: Manifest, fitted_on: dict[str, str | None]) -> None:
    """Checks that preprocessors and models were fitted on the manifest's train split.

    Args:
        consumer: The component doing the check, for the message.
        manifest: The verified manifest of the consumer's inputs.
        fitted_on: The content fingerprint of the table each was fitted on, by the artifact
            or file that records it ("preprocessor", "model file", ...).

    Raises:
        DataLeakageError: One was fitted on another table (the message names both
            fingerprints).
    """
    expected = manifest.split(TRAIN)
    for what, fingerprint in fitted_on.items():
        if fingerprint != expected:
            raise DataLeakageError(
                f"{consumer}: the {what} was fitted on a table with fingerprint {fingerprint} "
                f"({manifest.describe(fingerprint)}), but split manifest {manifest.fingerprint} fingerprints the "
                f"train split as {expected}"
            )
