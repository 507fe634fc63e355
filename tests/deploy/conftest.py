"""Shared fixtures of the deploy tests: a host-resolved wheelhouse and the runtime wheel.

The wheelhouse holds the scoring runtime's requirements as wheels for the
offline base image (CPython 3.11, linux/amd64), resolved on the host once per
session: exactly what a build context needs to build offline.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The scoring runtime's wheels for CPython 3.11 on linux/amd64, resolved on the host.

    Made by the real ``Environment.download_wheels`` (without the jupyter-mldeploy wheel,
    which build contexts install from ``runtime_wheel``), with this session's own
    MLDEPLOY_HOME: session fixtures run before the per-test one is set.
    """
    from jupyter_mldeploy.environment import Environment

    dest = tmp_path_factory.mktemp("wheelhouse")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLDEPLOY_HOME", str(tmp_path_factory.mktemp("wheelhouse-home")))
        if "MLDEPLOY_UV_CACHE_DIR" not in os.environ:
            patch.setenv("MLDEPLOY_UV_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "uv-cache"))
        Environment("deploy-tests").download_wheels(
            dest, python_version="3.11", platform="linux/amd64", include_runtime_wheel=False
        )
    return dest


@pytest.fixture(scope="session")
def runtime_wheel_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The jupyter-mldeploy runtime wheel, packed from this checkout."""
    from jupyter_mldeploy._runtime import runtime_wheel

    return runtime_wheel(tmp_path_factory.mktemp("runtime"))


@pytest.fixture
def unique() -> str:
    """A short unique suffix for container and image names."""
    return uuid.uuid4().hex[:10]
