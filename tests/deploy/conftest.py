"""Shared pieces of the deploy tests: a host-resolved wheelhouse, the runtime wheel, a tiny service.

The wheelhouse holds the scoring runtime's requirements as wheels for the
offline base image (CPython 3.11, manylinux x86_64), downloaded on the host
once per session, exactly what a build context needs to build offline.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from jupyter_mldeploy._runtime import SCORING_RUNTIME_REQUIREMENTS


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Wheels of the scoring runtime's requirements for CPython 3.11 manylinux x86_64 (host-resolved)."""
    dest = tmp_path_factory.mktemp("wheelhouse")
    cmd = [
        sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
        "--only-binary=:all:", "--python-version", "3.11", "--implementation", "cp", "--abi", "cp311",
        "--platform", "manylinux2014_x86_64", "--platform", "manylinux_2_17_x86_64",
        "--platform", "manylinux_2_28_x86_64", "--platform", "manylinux1_x86_64",
        "-d", str(dest), *SCORING_RUNTIME_REQUIREMENTS,
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    if result.returncode != 0:
        pytest.fail(f"pip download of the runtime requirements failed:\n{result.stderr[-2000:]}")
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
