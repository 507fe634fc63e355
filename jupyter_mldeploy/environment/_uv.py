"""Run the ``uv`` binary with our settings and stream its output.

Every call shares one package cache (``MLDEPLOY_UV_CACHE_DIR``, see
:func:`jupyter_mldeploy._config.uv_cache_dir`), never downloads interpreters,
ignores uv config files around the current folder (``--no-config`` is given by
callers) and hands each output line to an optional ``log`` callback.
"""

from __future__ import annotations

import os
import subprocess
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .._config import uv_cache_dir
from ..errors import EnvironmentBuildError

LogFn = Callable[[str], None]


@dataclass(frozen=True)
class UvResult:
    """Exit code and the output lines of one uv run (stdout and stderr merged)."""

    returncode: int
    lines: tuple[str, ...]

    def tail(self, count: int = 25) -> str:
        """The last ``count`` output lines, indented for an error message."""
        return "\n".join("    " + line for line in self.lines[-count:])


def uv_bin() -> str:
    """Return the path of the uv binary shipped with the ``uv`` package.

    Raises
    ------
    EnvironmentBuildError
        When the ``uv`` package is not installed.
    """
    try:
        from uv import find_uv_bin
    except ImportError as err:
        raise EnvironmentBuildError(
            "the 'uv' package is missing, and environments are built with it: "
            "`pip install uv` (it is a dependency of jupyter-mldeploy)."
        ) from err
    try:
        return find_uv_bin()
    except FileNotFoundError as err:
        raise EnvironmentBuildError(
            f"the uv binary cannot be found ({err}): reinstall it with `pip install --force-reinstall uv`."
        ) from err


def uv_env() -> dict[str, str]:
    """The environment variables uv runs with."""
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "CONDA_PREFIX", "PYTHONHOME"}}
    env["UV_CACHE_DIR"] = str(uv_cache_dir())
    env["UV_PYTHON_DOWNLOADS"] = "never"
    env["UV_NO_PROGRESS"] = "1"
    env.setdefault("NO_COLOR", "1")
    return env


def run_uv(args: Sequence[str], *, cwd: Path | None = None, log: LogFn | None = None) -> UvResult:
    """Run ``uv ARGS``; each output line goes to ``log`` as it arrives.

    Returns the exit code and every line; the caller decides what a failure means.
    """
    command = [uv_bin(), *args]
    lines: deque[str] = deque(maxlen=400)
    try:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=uv_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
    except OSError as err:
        raise EnvironmentBuildError(f"cannot run uv ({command[0]}): {err}. Reinstall the 'uv' package.") from err
    assert process.stdout is not None
    with process:
        for raw in process.stdout:
            line = raw.rstrip("\n")
            lines.append(line)
            if log is not None:
                log(line)
    return UvResult(process.returncode, tuple(lines))
