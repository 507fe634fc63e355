"""Build an environment as a local virtualenv, cached by what it installs.

A build lives in ``$MLDEPLOY_HOME/envs/<key>/`` where ``key`` digests the
environment's spec hash, the interpreter and the scoring runtime's
fingerprint. Asking again for the same key returns the existing venv at once.
A new build runs ``uv venv`` + one ``uv pip install`` (the user's packages and
the scoring runtime resolved together) in a temporary folder that is renamed
into place only when it is complete, under a per-key file lock, so two
processes building the same environment build it once and a failed build
leaves nothing behind. uv's shared cache makes a new environment with known
packages a matter of hard links.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import Requirement

from .._config import mldeploy_home
from .._runtime import SCORING_RUNTIME_REQUIREMENTS, runtime_fingerprint, runtime_wheel
from ..errors import EnvironmentBuildError, InvalidArgumentError
from ._interpreters import Interpreter, find_interpreter
from ._uv import LogFn, run_uv
from .spec import EnvironmentSpec

#: Bump when the venv layout changes, so old builds are not reused.
BUILD_FORMAT = 1
#: File written last into a complete build (its presence means "complete").
META_FILE = "mldeploy-env.json"
#: Modules a build must import, or it is not usable by the scoring server.
RUNTIME_IMPORT_CHECK = "import jupyter_mldeploy.scoring.contract, uvicorn"


@dataclass(frozen=True)
class LocalEnvironmentBuild:
    """A built local environment.

    Attributes
    ----------
    path
        The virtualenv folder.
    python
        Its python executable (run ``python -m jupyter_mldeploy.scoring`` with it).
    spec_hash
        The environment's spec hash (what the user asked for).
    build_key
        Digest of spec hash + interpreter + scoring runtime (names the folder).
    reused
        True when an existing build was returned without installing anything.
    seconds
        Wall time of this call.
    python_version
        The interpreter's full version.
    """

    path: Path
    python: Path
    spec_hash: str
    build_key: str
    reused: bool
    seconds: float
    python_version: str

    def metadata(self) -> dict[str, object]:
        """The build's ``mldeploy-env.json`` (spec, interpreter, installed packages)."""
        return json.loads((self.path / META_FILE).read_text(encoding="utf-8"))


def envs_dir() -> Path:
    """Return ``$MLDEPLOY_HOME/envs`` (created)."""
    path = mldeploy_home() / "envs"
    path.mkdir(parents=True, exist_ok=True)
    return path


def compute_build_key(spec: EnvironmentSpec, interpreter: Interpreter, runtime: str) -> str:
    """Digest everything that changes a venv's files: spec, interpreter, scoring runtime."""
    payload = json.dumps(
        {
            "format": BUILD_FORMAT,
            "spec": spec.spec_hash,
            "python": [str(interpreter.path), str(interpreter.version)],
            "runtime": runtime,
        },
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def _venv_python(path: Path) -> Path:
    return path / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _is_complete(path: Path) -> bool:
    """A build is usable when its meta file exists and its python still resolves."""
    return (path / META_FILE).is_file() and _venv_python(path).exists()


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``path`` (blocks until free)."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def build_local(spec: EnvironmentSpec, *, log: LogFn | None = None) -> LocalEnvironmentBuild:
    """Build (or reuse) the virtualenv for ``spec`` with the scoring runtime in it.

    Parameters
    ----------
    spec
        What to install (see :func:`~jupyter_mldeploy.environment.spec.resolve_spec`).
    log
        Called with each line of build output (uv's and ours), e.g. ``print``.

    Raises
    ------
    EnvironmentBuildError
        No local interpreter matches, or uv failed; the message has uv's last lines.
    """
    started = time.monotonic()
    say = log or (lambda line: None)
    interpreter = find_interpreter(spec.python)
    fingerprint = runtime_fingerprint()
    key = compute_build_key(spec, interpreter, fingerprint)
    root = envs_dir()
    target = root / key[:16]

    def result(reused: bool) -> LocalEnvironmentBuild:
        return LocalEnvironmentBuild(
            path=target,
            python=_venv_python(target),
            spec_hash=spec.spec_hash,
            build_key=key,
            reused=reused,
            seconds=time.monotonic() - started,
            python_version=str(interpreter.version),
        )

    if _is_complete(target):
        _touch(target)
        return result(reused=True)
    with _file_lock(root / ".locks" / f"{key[:16]}.lock"):
        if _is_complete(target):  # another process built it while we waited
            say(f"[mldeploy] environment {key[:16]} was built by another process")
            return result(reused=True)
        for stale in root.glob(f".build-{key[:16]}-*"):
            shutil.rmtree(stale, ignore_errors=True)
        if target.exists():
            say(f"[mldeploy] removing the incomplete environment {target}")
            shutil.rmtree(target)
        wheel = runtime_wheel(fingerprint=fingerprint)
        work = Path(tempfile.mkdtemp(prefix=f".build-{key[:16]}-", dir=root))
        try:
            _build_into(work, spec, interpreter, wheel, key, say)
            os.rename(work / "env", target)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    say(f"[mldeploy] environment ready at {target} ({time.monotonic() - started:.1f} s)")
    return result(reused=False)


def _build_into(
    work: Path, spec: EnvironmentSpec, interpreter: Interpreter, wheel: Path, key: str, say: LogFn
) -> None:
    """Create ``work/env`` and install everything into it; raise on failure."""
    venv = work / "env"
    for note in spec.notes:
        say(f"[mldeploy] note: {note}")
    say(f"[mldeploy] creating a virtualenv with Python {interpreter.version} ({interpreter.path})")
    made = run_uv(
        ["venv", "--no-config", "--relocatable", "--python", str(interpreter.path), str(venv)],
        cwd=work,
        log=say,
    )
    if made.returncode != 0:
        raise EnvironmentBuildError(
            f"uv could not create a virtualenv with {interpreter.path}:\n{made.tail()}\n"
            "Check that this Python runs and has its standard library (venv), or pick another version."
        )
    requirements = [*spec.requirements, *SCORING_RUNTIME_REQUIREMENTS, f"jupyter-mldeploy @ {wheel.as_uri()}"]
    (work / "requirements.in").write_text("\n".join(requirements) + "\n", encoding="utf-8")
    say(f"[mldeploy] installing {len(spec.requirements)} requirement(s) and the scoring runtime")
    installed = run_uv(
        ["pip", "install", "--no-config", "--python", str(_venv_python(venv)), "-r", "requirements.in",
         *spec.uv_options()],
        cwd=work,
        log=say,
    )
    if installed.returncode != 0:
        raise EnvironmentBuildError(_install_failure_message(spec, installed.lines))
    check = subprocess.run(
        [str(_venv_python(venv)), "-c", RUNTIME_IMPORT_CHECK],
        capture_output=True, text=True, timeout=120, check=False,
    )
    if check.returncode != 0:
        raise EnvironmentBuildError(
            "the environment installed, but the scoring runtime does not import in it:\n"
            + "\n".join("    " + line for line in check.stderr.splitlines()[-15:])
            + "\nA package of the environment likely conflicts with the runtime "
            f"({', '.join(SCORING_RUNTIME_REQUIREMENTS)}): relax that package's pin."
        )
    frozen = run_uv(["pip", "freeze", "--no-config", "--python", str(_venv_python(venv))], cwd=work)
    meta = {
        "build_key": key,
        "spec_hash": spec.spec_hash,
        "spec": spec.canonical(),
        "python": {"path": str(interpreter.path), "version": str(interpreter.version)},
        "runtime_wheel": wheel.name,
        "installed": [line for line in frozen.lines if line and not line.startswith("#")],
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    (venv / META_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")


def _install_failure_message(spec: EnvironmentSpec, lines: tuple[str, ...]) -> str:
    """Explain a failed ``uv pip install``: uv's last lines, the packages it names, what to do."""
    text = "\n".join(lines)
    names = sorted({Requirement(r).name for r in spec.requirements})
    named = [n for n in names if re.search(rf"(?<![\w.-]){re.escape(n)}(?![\w.-])", text, re.IGNORECASE)]
    tail = "\n".join("    " + line for line in lines[-25:])
    message = "installing the environment's packages failed"
    if named:
        message += f" (the installer's error names: {', '.join(named)})"
    message += f". uv said:\n{tail}\n"
    hints = []
    for name in named:
        origin = spec.conda_origin(name)
        if origin:
            hints.append(
                f"'{name}' came from the conda package {origin!r}: if its PyPI name differs, move it "
                "to the 'pip:' section under its PyPI name"
            )
    if any(Requirement(r).name in text for r in SCORING_RUNTIME_REQUIREMENTS):
        hints.append(f"the scoring runtime needs {', '.join(SCORING_RUNTIME_REQUIREMENTS)}")
    hints.append("check the names and versions on the package index and fix the requirements, then build again")
    return message + "What to do: " + "; ".join(hints) + "."


def _touch(path: Path) -> None:
    """Record a use of the build (its meta file's mtime is the "last used" time)."""
    try:
        os.utime(path / META_FILE)
    except OSError:
        pass  # read-only MLDEPLOY_HOME: the build still works, only "last used" is not updated


@dataclass(frozen=True)
class BuildInfo:
    """A local build on disk (see :func:`list_builds`)."""

    path: Path
    spec_hash: str
    python_version: str
    built_at: str
    last_used: float
    size_bytes: int


def _folder_size(path: Path) -> int:
    total = 0
    for folder, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(folder, name)).st_size
            except OSError:
                continue
    return total


def list_builds() -> list[BuildInfo]:
    """Return the complete local builds under ``$MLDEPLOY_HOME/envs``, most recently used first.

    ``size_bytes`` counts hard-linked files in full (uv's cache shares them, so
    the disk space really used is smaller).
    """
    found: list[BuildInfo] = []
    for path in envs_dir().iterdir():
        meta_file = path / META_FILE
        if path.name.startswith(".") or not meta_file.is_file():
            continue
        try:
            meta = json.loads(meta_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        found.append(
            BuildInfo(
                path=path,
                spec_hash=str(meta.get("spec_hash", "")),
                python_version=str((meta.get("python") or {}).get("version", "")),
                built_at=str(meta.get("built_at", "")),
                last_used=meta_file.stat().st_mtime,
                size_bytes=_folder_size(path),
            )
        )
    return sorted(found, key=lambda b: b.last_used, reverse=True)


def remove_unused_builds(older_than_days: float = 30.0, keep: Iterable[Path] = ()) -> list[Path]:
    """Delete local builds not used for ``older_than_days`` days (and broken ones); return their paths.

    Builds in ``keep`` (those services still run from) stay whatever their age.

    Each removal holds the build's lock, so a build being reused or rebuilt
    at that moment is not deleted under it. A later ``build_local`` rebuilds
    a removed environment in seconds from uv's cache.
    """
    if older_than_days < 0:
        raise InvalidArgumentError(
            f"older_than_days={older_than_days} is negative: pass 0 to remove every build, or a number of days."
        )
    cutoff = time.time() - older_than_days * 86400
    root = envs_dir()
    kept = {Path(p).resolve() for p in keep}
    removed: list[Path] = []
    for path in sorted(root.iterdir()):
        if path.name.startswith(".") or path.resolve() in kept:
            continue
        with _file_lock(root / ".locks" / f"{path.name}.lock"):
            meta_file = path / META_FILE
            broken = not _is_complete(path)
            if broken or meta_file.stat().st_mtime <= cutoff:
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path)
    return removed
