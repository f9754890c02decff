"""Library versions and machine facts recorded next to every result."""

from __future__ import annotations

import platform
from importlib import metadata

PACKAGES = ("xstilts", "torch", "transformers", "tokenizers", "accelerate", "datasets", "numpy", "faiss-cpu", "seqeval")


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version(), "platform": platform.platform()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "absent"
    return versions
