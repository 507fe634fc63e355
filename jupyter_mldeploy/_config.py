"""Settings read from the environment, in one place.

Every setting has an environment variable so that notebooks, the CLI, tests
and containers agree without passing objects around:

``MLDEPLOY_HOME``
    Root of the registry, environments cache and service state (default ``~/.mldeploy``).
``MLDEPLOY_BASE_IMAGE``
    Base image for Docker deployments (default ``python:3.11-slim``).
``MLDEPLOY_UV_CACHE_DIR``
    uv's package cache shared by every environment build (default ``$MLDEPLOY_HOME/cache/uv``).
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_BASE_IMAGE = "python:3.11-slim"
#: Image that ``scripts/build-base-image.sh`` builds offline (used by the test suite).
OFFLINE_BASE_IMAGE = "mldeploy/python-base:bookworm"


def mldeploy_home() -> Path:
    """Return the root folder of all local state (``MLDEPLOY_HOME`` or ``~/.mldeploy``), created if needed."""
    raw = os.environ.get("MLDEPLOY_HOME")
    home = Path(raw).expanduser() if raw else Path.home() / ".mldeploy"
    home.mkdir(parents=True, exist_ok=True)
    return home


def base_image() -> str:
    """Return the configured Docker base image (``MLDEPLOY_BASE_IMAGE`` or the public slim Python image)."""
    return os.environ.get("MLDEPLOY_BASE_IMAGE") or DEFAULT_BASE_IMAGE


def uv_cache_dir() -> Path:
    """Return uv's shared package cache folder (``MLDEPLOY_UV_CACHE_DIR`` or under ``MLDEPLOY_HOME``)."""
    raw = os.environ.get("MLDEPLOY_UV_CACHE_DIR")
    path = Path(raw).expanduser() if raw else mldeploy_home() / "cache" / "uv"
    path.mkdir(parents=True, exist_ok=True)
    return path


def repo_script(name: str) -> Path | None:
    """Return ``scripts/NAME`` of the source checkout holding this package, if there is one."""
    candidate = Path(__file__).resolve().parent.parent / "scripts" / name
    return candidate if candidate.is_file() else None
