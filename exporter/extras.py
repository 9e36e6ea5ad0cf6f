"""The optional extras of pyproject.toml: the library each one brings and how to ask for it.

An RT-only install (`pip install vigil`) has none of them; nothing Vigil loads for the RT API, the
network checks, the analytics source, the reporter or the demo imports them. A configuration that
turns on a feature needing one is refused by the source's `validate` hook (so by `vigil check-config`
and `vigil run`, exit 2) with the `pip install` that fixes it, never an ImportError traceback.
"""

from __future__ import annotations

import importlib

from exporter.configkit import ConfigError

# extra -> (module it provides, the library's name for people)
EXTRAS = {
    "frames": ("cv2", "OpenCV"),
    "p4": ("P4", "P4Python"),
    "s3": ("boto3", "boto3"),
    "redis": ("redis", "redis-py"),
}


def missing(extra: str) -> str | None:
    """None when the extra's library imports, otherwise why it does not."""
    module, _ = EXTRAS[extra]
    try:
        importlib.import_module(module)
    except ImportError as exc:  # not installed, or installed without what it needs (libGL, ...)
        return str(exc) or type(exc).__name__
    return None


def install_hint(extra: str) -> str:
    return f"pip install 'vigil[{extra}]'"


def require(extra: str, feature: str, key: str) -> None:
    """Raise a ConfigError for `key` when `feature` needs the library of an extra not installed."""
    why = missing(extra)
    if why is not None:
        library = EXTRAS[extra][1]
        raise ConfigError(
            f"{feature} needs {library}, which is not installed ({why}): {install_hint(extra)}",
            key=key,
        )
