"""The one runtime image every component runs in, tagged with the package version."""

import os
from importlib.metadata import version

IMAGE_ENV = "SEALTRAIN_IMAGE"
IMAGE_REPOSITORY = "sealtrain"
# The components' own base image; the pipeline sets the image of every task when it is built.
DEFAULT_IMAGE = f"{IMAGE_REPOSITORY}:{version('sealtrain')}"


def runtime_image(override: str | None = None) -> str:
    """The image to build the pipeline for: `override` (--image), else SEALTRAIN_IMAGE, else the default.

    Read when the pipeline is built, not when the components are imported, so
    `SEALTRAIN_IMAGE=registry/sealtrain:tag sealtrain compile` points every task at a pushed image.
    """
    return override or os.environ.get(IMAGE_ENV) or DEFAULT_IMAGE
