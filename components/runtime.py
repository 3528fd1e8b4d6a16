"""The one runtime image every component runs in, tagged with the package version."""

import os
from importlib.metadata import version

IMAGE_ENV = "SEALTRAIN_IMAGE"
IMAGE_REPOSITORY = "sealtrain"
DEFAULT_IMAGE = f"{IMAGE_REPOSITORY}:{version('sealtrain')}"
# Read at import (compile) time, so `SEALTRAIN_IMAGE=registry/sealtrain:tag sealtrain compile`
# points every component at a pushed image.
RUNTIME_IMAGE = os.environ.get(IMAGE_ENV) or DEFAULT_IMAGE
