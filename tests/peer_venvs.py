"""Virtualenvs for third-party software the tests run as it ships (the KServe SDK, azmlinfsrv).

(No tests here.) Such packages pin versions our own venv cannot share, so each gets a
virtualenv of its own, installed from the package index with uv once per machine and
cached under ``$MLDEPLOY_TEST_CLIENTS`` (default ``~/.cache/mldeploy-test-clients``).
A build runs under a file lock and writes its marker (``.ok``, the requirements) last, so
parallel test runs on one machine build it once, a changed requirement list rebuilds it,
and a failed build is removed.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
#: the whole install (resolve + download + install) of one venv
INSTALL_TIMEOUT_S = 900


def uv_command() -> list[str]:
    """How to run uv: the project venv's, else one on PATH, else ``python -m uv``."""
    local = Path(sys.executable).parent / "uv"
    if local.exists():
        return [str(local)]
    found = shutil.which("uv")
    return [found] if found else [sys.executable, "-m", "uv"]


def peer_python(name: str, requirements: list[str], *, skip_outside_ci: bool = True) -> Path:
    """The interpreter of the cached virtualenv ``name`` holding ``requirements`` (built when missing).

    When it cannot be built the test fails naming what failed; with ``skip_outside_ci``
    it is skipped instead on a developer machine (never in CI).
    """
    base = Path(os.environ.get("MLDEPLOY_TEST_CLIENTS", Path.home() / ".cache" / "mldeploy-test-clients"))
    venv = base / name
    python = venv / "bin" / "python"
    marker = venv / ".ok"
    wanted = "\n".join(requirements)
    if marker.exists() and marker.read_text() == wanted:
        return python
    base.mkdir(parents=True, exist_ok=True)
    with open(base / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another test run may be building it right now
        if marker.exists() and marker.read_text() == wanted:
            return python
        try:
            shutil.rmtree(venv, ignore_errors=True)  # half-built or of other requirements
            subprocess.run([*uv_command(), "venv", "-q", "--python", sys.executable, str(venv)], check=True,
                           capture_output=True, timeout=300)
            subprocess.run([*uv_command(), "pip", "install", "-q", "--python", str(python), *requirements],
                           check=True, capture_output=True, timeout=INSTALL_TIMEOUT_S)
        except (OSError, subprocess.SubprocessError) as err:
            shutil.rmtree(venv, ignore_errors=True)
            detail = getattr(err, "stderr", b"") or b""
            message = (f"cannot install {' '.join(requirements)} into a virtualenv of its own ({venv}) from the "
                       f"package index: {err} {detail.decode(errors='replace')[-2000:]}\n"
                       "check that the package index answers (uv pip install ...), then run the test again")
            if IN_CI or not skip_outside_ci:
                pytest.fail(message)
            pytest.skip(message)
        marker.write_text(wanted)
    return python
