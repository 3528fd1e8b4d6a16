"""Builds (and pushes) the one runtime image, `images/Dockerfile`, through the Docker Engine API.

The build context is a source checkout: a wheel-installed sealtrain has no Dockerfile, so
`context` (default: the current directory) must hold `images/Dockerfile`. Only the files the
Dockerfile copies are sent to the engine (`CONTEXT_FILES`, `CONTEXT_DIRS`, without caches), so a
checkout with a virtualenv, outputs or data in it builds just as fast and the same sources
always give the same build cache keys. Works with Docker and with podman's Docker-compatible
service (`podman system service`, then `DOCKER_HOST=unix://...`).
"""

from __future__ import annotations

import io
import tarfile
import tomllib
from collections.abc import Callable, Iterable
from pathlib import Path

DOCKERFILE = "images/Dockerfile"
CONTEXT_FILES = ("pyproject.toml", "README.md", "LICENSE", "constraints.txt", DOCKERFILE)
CONTEXT_DIRS = ("components", "pipelines")
_SKIPPED_DIRS = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
_SKIPPED_SUFFIXES = (".pyc", ".pyo")


class ImageBuildError(Exception):
    """The image could not be built or pushed; the message says why."""


def find_context(context: Path | str | None = None) -> Path:
    """Returns the build context directory, which must hold `images/Dockerfile`.

    Raises:
        ImageBuildError: No `images/Dockerfile` under it.
    """
    root = Path(context if context is not None else Path.cwd()).resolve()
    if not (root / DOCKERFILE).is_file():
        raise ImageBuildError(
            f"{root}: no {DOCKERFILE} here. The image is built from a source checkout of sealtrain "
            "(an installed wheel has no Dockerfile): run from the repository root or pass its path as the context."
        )
    missing = [name for name in (*CONTEXT_FILES, *CONTEXT_DIRS) if not (root / name).exists()]
    if missing:
        raise ImageBuildError(f"{root}: not a sealtrain checkout, missing {', '.join(missing)}")
    return root


def project_version(context: Path) -> str:
    """The version in the checkout's pyproject.toml (what the image will contain)."""
    with (context / "pyproject.toml").open("rb") as handle:
        return tomllib.load(handle)["project"]["version"]


def context_files(context: Path) -> list[str]:
    """The paths, relative to `context` and sorted, that make up the build context."""
    names = list(CONTEXT_FILES)
    for directory in CONTEXT_DIRS:
        for path in (context / directory).rglob("*"):
            relative = path.relative_to(context)
            skipped = _SKIPPED_DIRS.intersection(relative.parts) or path.name.endswith(_SKIPPED_SUFFIXES)
            if path.is_file() and not skipped:
                names.append(relative.as_posix())
    return sorted(set(names))


def context_tar(context: Path) -> io.BytesIO:
    """The build context as an uncompressed tar; ownership and times are normalised."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name in context_files(context):
            info = tar.gettarinfo(str(context / name), arcname=name)
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mtime = 0
            info.mode = 0o755 if info.mode & 0o111 else 0o644
            with (context / name).open("rb") as handle:
                tar.addfile(info, handle)
    buffer.seek(0)
    return buffer


def export_context(context: Path | str | None, destination: Path | str) -> Path:
    """Writes the build context into `destination` (for `docker build`/`podman build` of a clean tree)."""
    root = find_context(context)
    target = Path(destination)
    target.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=context_tar(root), mode="r") as tar:
        if hasattr(tarfile, "data_filter"):  # Python >= 3.11.4
            tar.extractall(target, filter="data")
        else:
            tar.extractall(target)  # noqa: S202 - our own archive of our own files
    return target


def default_tag(context: Path) -> str:
    """`sealtrain:<version>`, the reference components/runtime.py uses by default."""
    return f"sealtrain:{project_version(context)}"


def _follow(stream: Iterable[dict], log: Callable[[str], None], action: str) -> dict:
    """Relays an engine progress stream; returns the last `aux` payload; raises on an error."""
    aux: dict = {}
    for chunk in stream:
        if "error" in chunk or "errorDetail" in chunk:
            message = chunk.get("error") or (chunk.get("errorDetail") or {}).get("message") or chunk
            raise ImageBuildError(f"{action} failed: {str(message).strip()}")
        if "stream" in chunk:
            text = chunk["stream"].rstrip("\n")
            if text.strip():
                log(text)
        elif "status" in chunk:
            log(" ".join(str(part) for part in (chunk.get("id"), chunk["status"], chunk.get("progress")) if part))
        if isinstance(chunk.get("aux"), dict):
            aux = chunk["aux"]
    return aux


def build_image(
    tag: str | None = None,
    push: bool = False,
    context: Path | str | None = None,
    *,
    base_image: str | None = None,
    source_url: str | None = None,
    client=None,
    log: Callable[[str], None] = print,
) -> str:
    """Builds `images/Dockerfile` from a checkout and optionally pushes it.

    Args:
        tag: Image reference; default `sealtrain:<version of the checkout>`, the reference
            compiled pipelines use unless `--image`/`SEALTRAIN_IMAGE` say otherwise.
        push: Push the tag after building; the tag must then name a registry
            (`registry.example.com/team/sealtrain:0.1.0`).
        context: The checkout; default the current directory.
        base_image: Overrides the Dockerfile's digest-pinned `BASE_IMAGE` (a mirror, an internal base).
        source_url: Value of the `org.opencontainers.image.source` label.
        client: A `docker.DockerClient`; default `docker.from_env()` (honours DOCKER_HOST).
        log: Receives the build and push output line by line.

    Returns:
        The image reference built (and pushed): `tag`, or the default tag.

    Raises:
        ImageBuildError: No Dockerfile under `context`, the engine is unreachable, the build or the push failed.
    """
    import docker
    from docker.utils import parse_repository_tag

    root = find_context(context)
    version = project_version(root)
    reference = tag or default_tag(root)
    repository, tag_part = parse_repository_tag(reference)
    if push and "/" not in repository:
        raise ImageBuildError(
            f"cannot push {reference}: the tag names no registry; "
            f"use e.g. --tag registry.example.com/sealtrain:{version}"
        )
    buildargs = {"VERSION": version}
    if base_image:
        buildargs["BASE_IMAGE"] = base_image
    if source_url:
        buildargs["SOURCE_URL"] = source_url
    try:
        client = client or docker.from_env()
        log(f"building {reference} from {root / DOCKERFILE} (sealtrain {version})")
        stream = client.api.build(
            fileobj=context_tar(root), custom_context=True, dockerfile=DOCKERFILE, tag=reference,
            buildargs=buildargs, rm=True, forcerm=True, decode=True,
        )
        _follow(stream, log, f"building {reference}")
        image = client.images.get(reference)
        log(f"built {reference} ({image.id})")
        if push:
            log(f"pushing {reference}")
            aux = _follow(client.images.push(repository, tag=tag_part or "latest", stream=True, decode=True), log,
                          f"pushing {reference}")
            log(f"pushed {reference}" + (f" ({aux['Digest']})" if aux.get("Digest") else ""))
    except docker.errors.DockerException as exc:
        raise ImageBuildError(f"{reference}: {exc} (is the Docker engine running? DOCKER_HOST selects it)") from exc
    return reference
