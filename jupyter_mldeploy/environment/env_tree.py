"""An environment installed on the host for a container: the Docker target's environment layer.

A container cannot install packages quickly (``pip install --no-index`` of ~300 MB of
wheels inside ``docker build`` takes minutes here), so the host does it once per
environment: :func:`env_tree` installs the wheelhouse (already resolved for the image's
Python and platform) plus the scoring runtime with ``uv pip install --target`` from uv's
local cache (offline, no index) and keeps it under
``$MLDEPLOY_HOME/envtrees/<key>/site-packages``. It is then byte-compiled for the image's
Python in the background (a detached, low-priority ``compileall`` writing unchecked-hash
``.pyc`` files, valid whatever the files' times inside the container): the first container
does not wait for it (its imports read the sources), the next ones import faster. Docker containers get it
mounted read-only (``deploy/docker.py``): nothing about the environment is sent to the
engine, and services with the same spec share one tree.

An environment that only *adds* packages to one built before (same pins otherwise, the
usual "add one package" edit) starts from a hard-linked copy of that tree and installs
and compiles only what is new, so it costs seconds; :func:`tree_change` says whether a
running container can take it without a restart (Docker containers see every tree,
read-only, so a swap puts the new one on the server's path).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from .._config import mldeploy_home
from .._runtime import runtime_wheel
from ..errors import EnvironmentBuildError, InvalidArgumentError, MLDeployError
from ._interpreters import find_interpreters
from ._platforms import parse_platform
from ._uv import run_uv
from .changes import EnvChange, compare_installed, installed_pins
from .local_build import _folder_size

__all__ = ["EnvTree", "copy_parent", "env_tree", "env_trees_dir", "remove_unused_trees", "tree_change"]

LogFn = Callable[[str], None]
#: The file next to ``site-packages/`` that says what a tree holds.
META = "tree.json"
#: The file a finished background compile leaves next to ``site-packages/``.
COMPILED = ".compiled"
#: Folders whose modules are not byte-compiled (packages' own test suites: large, never imported by a server).
_NO_COMPILE = r"[/\\]tests?[/\\]"


@dataclass(frozen=True)
class EnvTree:
    """An installed environment on the host: its ``site-packages`` folder and how it was made.

    ``reused``: it was there already; ``parent``: the tree it started from (only the new
    packages were installed), or ``None``; ``size_bytes``: what it holds on disk.
    """

    path: Path
    reused: bool
    parent: str | None
    seconds: float
    compiled: bool
    size_bytes: int

    @property
    def detail(self) -> str:
        """One line for the environment phase."""
        if self.reused:
            how = "reused" + ("" if self.compiled else ", byte-compiling in the background")
        elif self.parent:
            how = f"added to a copy of {self.parent} in {self.seconds:.1f}s"
        else:
            how = f"installed on the host in {self.seconds:.1f}s"
        if not self.reused and not self.compiled:
            how += ", byte-compiling in the background"
        return f"environment {how} ({self.size_bytes / 1e6:.0f} MB, mounted read-only)"


def env_trees_dir() -> Path:
    """Where the host-built environments live (``$MLDEPLOY_HOME/envtrees``)."""
    root = mldeploy_home() / "envtrees"
    root.mkdir(parents=True, exist_ok=True)
    return root


def env_tree(wheelhouse: Path, python_version: str, log: LogFn | None = None) -> EnvTree:
    """The environment of ``wheelhouse`` (resolved for Python ``python_version``) installed on the host, once.

    Concurrent callers wait for one build (a file lock); a finished tree is reused.

    Raises
    ------
    EnvironmentBuildError
        uv could not install the wheelhouse (its last output lines are in the message).
    """
    started = time.monotonic()
    wheel = runtime_wheel()
    key = f"{Path(wheelhouse).name}-{wheel.stem.split('-')[1][-12:]}"
    root = env_trees_dir()
    dest = root / key
    with open(root / f".{key}.lock", "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (dest / META).is_file():
            os.chmod(dest, 0o755)  # trees made before containers saw the whole root: reachable now
            os.utime(dest / META)  # "last used", for remove_unused_trees
            if not (dest / COMPILED).is_file():  # an earlier compile was cut off: finish it
                _compile_in_background(dest, python_version, None, log)
            return _result(dest, True, None, started)
        pins = _pins(Path(wheelhouse) / "requirements.txt")
        parent = _parent(root, pins, python_version, exclude=key)
        temp = Path(tempfile.mkdtemp(dir=root, prefix=f".{key}-"))
        try:
            target = temp / "site-packages"
            before: set[str] = set()
            if parent is not None:
                copy_parent(parent / "site-packages", target)
                before = set(os.listdir(target))
                if log is not None:
                    log(f"[mldeploy] environment: starting from {parent.name} (only new packages are installed)")
            # the parent's runtime is this one (its name ends with the runtime's digest): kept as it is
            same_runtime = parent is not None and parent.name.endswith(key[len(Path(wheelhouse).name):])
            _install(wheelhouse, None if same_runtime else wheel, target, python_version, log)
            (temp / META).write_text(json.dumps({
                "pins": sorted(pins), "python_version": python_version, "wheelhouse": str(wheelhouse),
            }, indent=1), encoding="utf-8")
            os.chmod(temp, 0o755)  # the container's user walks into it (the root is mounted, read-only)
            os.replace(temp, dest)
        finally:
            shutil.rmtree(temp, ignore_errors=True)
        everything = parent is None or not (parent / COMPILED).is_file()
        _compile_in_background(dest, python_version, None if everything else _new_tops(dest / "site-packages", before),
                               log)
    return _result(dest, False, parent.name if parent is not None else None, started)


def tree_change(old: Path, new: Path) -> EnvChange:
    """How the tree ``new`` differs from ``old`` (both ``.../site-packages``): only added packages, or why not.

    A tree that is gone reads as changed (the running server's environment is unknown then).
    """
    try:
        before, after = (json.loads((Path(tree).parent / META).read_text(encoding="utf-8")) for tree in (old, new))
    except (OSError, ValueError):
        return EnvChange((), "the environment changed (the running one is gone)")
    return compare_installed(installed_pins(before.get("pins") or []), installed_pins(after.get("pins") or []),
                             str(before.get("python_version")), str(after.get("python_version")))


def remove_unused_trees(older_than_days: float = 30.0, keep: Iterable[Path] = ()) -> list[Path]:
    """Delete trees not used for ``older_than_days`` days, except those in ``keep``; return the removed folders.

    ``keep`` holds trees that services still name (their containers mount them). Each removal
    holds the tree's build lock, so a tree being reused or built meanwhile stays; leftovers of
    an interrupted build (``.KEY-*`` folders) go too. A removed tree is built again, from uv's
    cache, by the next deployment that needs it.

    Raises
    ------
    InvalidArgumentError
        ``older_than_days`` is negative.
    """
    if older_than_days < 0:
        raise InvalidArgumentError(
            f"older_than_days={older_than_days} is negative: pass 0 to remove every unused tree, or a number of days."
        )
    cutoff = time.time() - older_than_days * 86400
    kept = {Path(p).resolve() for p in keep}
    root = env_trees_dir()
    removed: list[Path] = []
    for lock_file in sorted(root.glob(".*.lock")):
        key = lock_file.name[1:-len(".lock")]
        with open(lock_file, "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            for leftover in root.glob(f".{key}-*"):
                shutil.rmtree(leftover, ignore_errors=True)
            tree = root / key
            meta = tree / META
            if not tree.is_dir() or tree.resolve() in kept:
                continue
            if not meta.is_file() or meta.stat().st_mtime <= cutoff:
                shutil.rmtree(tree, ignore_errors=True)
                removed.append(tree)
    return removed


def _result(dest: Path, reused: bool, parent: str | None, started: float) -> EnvTree:
    meta = json.loads((dest / META).read_text(encoding="utf-8"))
    del meta
    return EnvTree(dest / "site-packages", reused, parent, time.monotonic() - started, (dest / COMPILED).is_file(),
                   _folder_size(dest / "site-packages"))


def _install(wheelhouse: Path, wheel: Path | None, target: Path, python_version: str, log: LogFn | None) -> None:
    """``uv pip install --target`` the wheelhouse's pins, then the runtime wheel (no index, no network).

    ``wheel=None``: the target already holds this runtime (a copy of a tree made with it).
    """
    common = ["pip", "install", "--no-config", "--offline", "--no-index", "--find-links", str(wheelhouse),
              "--target", str(target), "--python", sys.executable, "--python-version", python_version,
              "--no-python-downloads", *_platform_option(wheelhouse)]
    requirements = Path(wheelhouse) / "requirements.txt"
    lines = [line for line in requirements.read_text(encoding="utf-8").splitlines()
             if not re.match(r"^\s*jupyter[-_.]mldeploy\b", line, re.IGNORECASE)]
    with tempfile.TemporaryDirectory(prefix="mldeploy-tree-") as work:
        reqs = Path(work) / "requirements.txt"
        reqs.write_text("\n".join(lines) + "\n", encoding="utf-8")
        steps = [["-r", str(reqs)]]
        if wheel is not None:
            steps.append(["--no-deps", "--reinstall-package", "jupyter-mldeploy", str(wheel)])
        for args in steps:
            done = run_uv([*common, *args], cwd=Path(work), log=log)
            if done.returncode != 0:
                raise EnvironmentBuildError(
                    f"could not install the environment's wheels from {wheelhouse} on the host:\n{done.tail()}\n"
                    "Delete that wheelhouse folder to resolve it again, then deploy again."
                )
    shutil.rmtree(target / "bin", ignore_errors=True)  # console scripts with the host's shebang: not used


def _platform_option(wheelhouse: Path) -> list[str]:
    """``--python-platform`` of the wheelhouse's target (its ``wheelhouse.json``), so the host's own does not matter."""
    try:
        meta = json.loads((Path(wheelhouse) / "wheelhouse.json").read_text(encoding="utf-8"))
        return ["--python-platform", parse_platform(str(meta["platform"])).uv_platform()]
    except (OSError, ValueError, KeyError, MLDeployError):
        return []


def _compile_in_background(tree: Path, python_version: str, tops: Iterable[str] | None, log: LogFn | None) -> None:
    """Byte-compile ``tops`` of the tree (``None``: all of it) in a detached, low-priority process.

    It survives the caller (a CLI that exits, a kernel restart), takes a lock so that two never
    compile one tree, and leaves a marker file when done.
    """
    python = _interpreter(python_version)
    if python is None:
        if log is not None:
            log(f"[mldeploy] environment: no Python {python_version} on this machine, so its modules are not "
                "byte-compiled (imports in the container read the sources)")
        return
    target = tree / "site-packages"
    names = sorted(os.listdir(target)) if tops is None else sorted(tops)
    paths = [str(target / name) for name in names if (target / name).is_dir() or name.endswith(".py")]
    # sh starts it in the background and ends at once: nothing here waits for it or keeps it as a child
    subprocess.run(
        ["sh", "-c", '"$@" </dev/null >/dev/null 2>&1 &', "sh", python, "-c", _COMPILER, str(tree), *paths],
        check=False, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


_COMPILER = f"""
import compileall, fcntl, os, re, sys
from py_compile import PycInvalidationMode
os.nice(10)
tree, paths = sys.argv[1], sys.argv[2:]
with open(os.path.join(tree, ".compile.lock"), "a") as lock:
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        sys.exit(0)
    skip = re.compile({_NO_COMPILE!r})
    mode = PycInvalidationMode.UNCHECKED_HASH
    for path in paths:
        if os.path.isdir(path):
            compileall.compile_dir(path, quiet=2, workers=0, rx=skip, invalidation_mode=mode)
        else:
            compileall.compile_file(path, quiet=2, rx=skip, invalidation_mode=mode)
    open(os.path.join(tree, {COMPILED!r}), "w").close()
"""


def _interpreter(python_version: str) -> str | None:
    if f"{sys.version_info[0]}.{sys.version_info[1]}" == python_version:
        return sys.executable
    for found in find_interpreters():
        if f"{found.version.major}.{found.version.minor}" == python_version:
            return str(found.path)
    return None


def _new_tops(target: Path, before: set[str]) -> set[str]:
    """Top-level names to compile after adding to a copy: those the install added, and the runtime (reinstalled)."""
    return (set(os.listdir(target)) - before) | {"jupyter_mldeploy", "azureml"}


def _parent(root: Path, pins: set[str], python_version: str, exclude: str) -> Path | None:
    """The finished tree holding the most of ``pins`` and nothing else (so the new one only adds)."""
    best: tuple[int, Path] | None = None
    for meta_file in root.glob(f"*/{META}"):
        if meta_file.parent.name == exclude:
            continue
        try:
            meta = json.loads(meta_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        theirs = set(meta.get("pins") or [])
        if meta.get("python_version") != python_version or not theirs or not theirs <= pins:
            continue
        if best is None or len(theirs) > best[0]:
            best = (len(theirs), meta_file.parent)
    return best[1] if best else None


def _pins(requirements: Path) -> set[str]:
    """``name==version`` of every package a wheelhouse pins (names canonical; the runtime left out)."""
    return {f"{name}=={version}" for name, version in installed_pins(requirements.read_text(encoding="utf-8").splitlines()).items()}


def copy_parent(source: Path, target: Path) -> None:
    """Copy a parent tree's ``site-packages`` (hard links where the file system allows).

    The parent may still be byte-compiling in the background: its compiler's temporary
    ``*.pyc.<id>`` files are left out, and a ``__pycache__`` file it replaced meanwhile is
    skipped (the new tree's own compile writes it).
    """
    shutil.copytree(source, target, copy_function=_link_or_copy, symlinks=True,
                    ignore=shutil.ignore_patterns("*.pyc.*"))


def _link_or_copy(src: str, dst: str) -> None:
    try:
        try:
            os.link(src, dst)
        except FileNotFoundError:
            raise
        except OSError:
            shutil.copy2(src, dst)
    except FileNotFoundError:
        if f"{os.sep}__pycache__{os.sep}" not in src:
            raise
