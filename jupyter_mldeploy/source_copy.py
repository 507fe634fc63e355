"""Copying a source folder where a server reads it: the one function every path uses.

The Docker target's mounted ``src/``, image build contexts and saved Dockerfiles all copy
the user's source folder with :func:`copy_source`; model folders are copied with the same
link guard (:func:`guard_links`). A symlink that leads out of the folder is refused with
its path named (``copytree`` would copy what it points to: a link to ``~/.ssh`` would
carry secrets into an image); caches, version-control and virtualenv folders, the names
listed in ``.amlignore`` and ``MLDEPLOY_HOME`` itself are left out.
"""

from __future__ import annotations

import fnmatch
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path

from ._config import mldeploy_home
from .errors import ModelPathError, PathEscapeError

__all__ = ["DEFAULT_IGNORE", "copy_folder", "copy_source", "guard_links", "source_ignore"]

#: Names never copied from a source folder (caches, VCS and virtualenv folders).
DEFAULT_IGNORE: tuple[str, ...] = (
    ".git",
    ".hg",
    ".svn",
    ".venv",
    "venv",
    "env",
    "__pycache__",
    "*.pyc",
    "*.pyo",
    ".ipynb_checkpoints",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    ".tox",
    ".DS_Store",
    "node_modules",
    ".amlignore",
    ".dockerignore",
)


def copy_source(source: Path, dest: Path) -> int:
    """Copy source folder ``source`` into ``dest`` (which may exist) with the rules above; return the file count.

    Raises
    ------
    PathEscapeError
        A symlink in ``source`` leads outside it.
    ModelPathError
        A file cannot be read.
    """
    source = Path(source)
    return copy_folder(
        source, Path(dest), ignore=source_ignore(source),
        fix="make those files readable, or list them in an .amlignore file in that folder to leave them out",
    )


def copy_folder(
    source: Path, dest: Path, *, ignore: Callable[[str, list[str]], Iterable[str]] | None = None,
    fix: str = "make its files readable (or remove broken links) and try again",
) -> int:
    """Copy folder ``source`` into ``dest`` with the link guard (model folders too); return the file count.

    Raises
    ------
    PathEscapeError
        A symlink in ``source`` leads outside it.
    ModelPathError
        A file cannot be read (the message ends with ``fix``).
    """
    try:
        shutil.copytree(
            source, dest, ignore=guard_links(source, ignore), dirs_exist_ok=True, ignore_dangling_symlinks=True
        )
    except (OSError, shutil.Error) as err:
        raise ModelPathError(f"copying {source} failed: {err}; {fix}") from err
    return sum(1 for p in dest.rglob("*") if p.is_file())


def source_ignore(source_dir: Path, exclude: tuple[Path, ...] = ()) -> Callable[[str, list[str]], set[str]]:
    """Return a ``copytree`` ignore function: :data:`DEFAULT_IGNORE` plus ``.amlignore`` name patterns.

    Folders that must never be copied into an image are left out too wherever they sit in
    the source tree: ``MLDEPLOY_HOME`` (the registry, the services and the build context
    being written; copying it would copy the copy) and the paths in ``exclude``.
    """
    skipped = {Path(p).resolve() for p in (mldeploy_home(), *exclude)}
    ancestors = {parent for path in skipped for parent in path.parents}
    patterns = list(DEFAULT_IGNORE)
    amlignore = source_dir / ".amlignore"
    if amlignore.is_file():
        for line in amlignore.read_text(encoding="utf-8", errors="replace").splitlines():
            line = line.strip().strip("/")
            if line and not line.startswith(("#", "!")):
                patterns.append(line)

    def ignore(folder: str, names: list[str]) -> set[str]:
        left_out = {n for n in names if any(fnmatch.fnmatch(n, p) for p in patterns)}
        here = Path(folder).resolve()
        if here in ancestors:  # one resolve per folder; names only checked on the way to a skipped path
            left_out |= {n for n in names if (here / n).resolve() in skipped}
        return left_out

    return ignore


def guard_links(
    folder: Path, ignore: Callable[[str, list[str]], Iterable[str]] | None = None
) -> Callable[[str, list[str]], set[str]]:
    """A ``shutil.copytree`` ignore function that also refuses links leaving ``folder``.

    ``copytree`` copies what a link points to, so a link to ``~/.ssh`` inside a
    model or source folder would carry secrets into a deployment or an image. Names
    that ``ignore`` leaves out are not checked. Raises :class:`PathEscapeError`.
    """
    root = folder.resolve()

    def check(directory: str, names: list[str]) -> set[str]:
        ignored = set(ignore(directory, names)) if ignore is not None else set()
        for name in names:
            entry = Path(directory) / name
            if name in ignored or not entry.is_symlink():
                continue
            target = entry.resolve()
            if not target.exists():
                continue  # a dangling link carries nothing (copytree skips or reports it)
            if target != root and root not in target.parents:
                raise PathEscapeError(
                    f"{entry} links to {target}, outside {folder}: copy what you need into the "
                    "folder or remove the link (links may only point inside it)."
                )
        return ignored

    return check
