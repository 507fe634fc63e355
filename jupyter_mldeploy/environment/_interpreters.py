"""Find local Python interpreters for an environment's python version.

Environments are built offline from interpreters already on the machine
(uv is told never to download one). Candidates are this interpreter, then
``pythonX.Y``/``python3`` on ``PATH``, the usual system folders, pyenv's
versions and uv-managed Pythons. Each is asked for its version once per
process; shims that fail (pyenv without that version selected) are skipped.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from packaging.specifiers import SpecifierSet
from packaging.version import Version

from ..errors import EnvironmentBuildError

_PROBE = "import sys, platform; print(platform.python_implementation(), '.'.join(map(str, sys.version_info[:3])))"
_probed: dict[str, Interpreter | None] = {}


@dataclass(frozen=True)
class Interpreter:
    """A local Python interpreter: its path (symlinks resolved) and version."""

    path: Path
    version: Version
    implementation: str = "CPython"

    @property
    def minor(self) -> str:
        """``'3.11'``."""
        return f"{self.version.major}.{self.version.minor}"


def _candidates(minor_hint: str | None) -> list[str]:
    """Interpreter paths worth probing, most preferred first (duplicates removed later)."""
    names = [f"python{minor_hint}"] if minor_hint else []
    names += [f"python3.{minor}" for minor in range(20, 7, -1)] + ["python3"]
    found: list[str] = [sys.executable]
    for name in names:
        path = shutil.which(name)
        if path:
            found.append(path)
    for folder in ("/usr/local/bin", "/usr/bin", "/opt/homebrew/bin"):
        found += sorted(glob.glob(f"{folder}/python3.[0-9]*"), reverse=True)
    pyenv_root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    found += sorted(glob.glob(f"{pyenv_root}/versions/*/bin/python3"), reverse=True)
    uv_pythons = os.environ.get("UV_PYTHON_INSTALL_DIR") or os.path.expanduser("~/.local/share/uv/python")
    found += sorted(glob.glob(f"{uv_pythons}/cpython-*/bin/python3"), reverse=True)
    return [f for f in found if not f.endswith("-config")]


def probe(path: str | os.PathLike[str]) -> Interpreter | None:
    """Return the :class:`Interpreter` at ``path``, or None if it does not run (cached per process)."""
    key = str(path)
    if key in _probed:
        return _probed[key]
    result: Interpreter | None = None
    try:
        done = subprocess.run(
            [key, "-I", "-c", _PROBE], capture_output=True, text=True, timeout=15, check=False
        )
        if done.returncode == 0:
            implementation, version = done.stdout.split()
            result = Interpreter(Path(key).resolve(), Version(version), implementation)
    except (OSError, ValueError, subprocess.TimeoutExpired):
        result = None
    _probed[key] = result
    return result


def _current() -> Interpreter:
    info = sys.version_info
    return Interpreter(Path(sys.executable).resolve(), Version(f"{info[0]}.{info[1]}.{info[2]}"))


def _minor_hint(specifier: SpecifierSet) -> str | None:
    for spec in specifier:
        if spec.operator == "==" and spec.version.count(".") >= 1:
            return ".".join(spec.version.rstrip(".*").split(".")[:2])
    return None


def find_interpreters(specifier: SpecifierSet | None = None) -> list[Interpreter]:
    """Return the local interpreters (CPython) matching ``specifier`` (all when None), best first.

    The running interpreter comes first when it matches; then newer versions first.
    """
    current = _current()
    seen: set[Path] = set()
    found: list[Interpreter] = []
    hint = _minor_hint(specifier) if specifier is not None else None
    for candidate in _candidates(hint):
        interpreter = current if candidate == sys.executable else probe(candidate)
        if interpreter is None or interpreter.implementation != "CPython" or interpreter.path in seen:
            continue
        seen.add(interpreter.path)
        if specifier is None or specifier.contains(interpreter.version, prereleases=True):
            found.append(interpreter)
    rest = sorted((i for i in found if i.path != current.path), key=lambda i: i.version, reverse=True)
    return [i for i in found if i.path == current.path] + rest


def find_interpreter(python: str) -> Interpreter:
    """Return the best local interpreter for the PEP 440 range ``python`` (``'==3.11.*'``).

    Raises
    ------
    EnvironmentBuildError
        When none matches; the message names the version and lists the interpreters found.
    """
    specifier = SpecifierSet(python)
    current = _current()
    if specifier.contains(current.version, prereleases=True):
        return current  # the common case costs no subprocess
    matches = find_interpreters(specifier)
    if matches:
        return matches[0]
    available = ", ".join(f"{i.version} ({i.path})" for i in find_interpreters()) or "none"
    wanted = python.removeprefix("==").removesuffix(".*")
    raise EnvironmentBuildError(
        f"no local Python matches the environment's python version {wanted!r}; found: {available}. "
        "Install that Python (e.g. `apt-get install python3.X`, pyenv or `uv python install X`) "
        "or change the environment's python version (CondaDependencies.set_python_version)."
    )
