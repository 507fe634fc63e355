"""Copying a source folder where a server reads it: the one function every path uses.

The Docker target's mounted ``src/``, image build contexts and saved Dockerfiles all copy
the user's source folder with :func:`copy_source`; model folders are copied with the same
link guard (:func:`copy_folder`, :func:`guard_links`). The rules:

- A symlink that leads out of the folder is refused with its path named (``copytree``
  would copy what it points to: a link to ``~/.ssh`` would carry secrets into an image).
- Left out by default: version control, caches, virtualenvs and notebook checkpoints
  (quietly), and every dotfile or dot-folder plus well-known secret files (``.ssh/``,
  ``.aws/``, ``.kube/``, ``.env*``, ``.netrc``, ``.pypirc``, ``*.pem``, ``*.key``,
  ``id_rsa*``, ...), which are *named* in the copy's :attr:`SourceCopy.left_out`, so a
  deployment says what it did not take. ``MLDEPLOY_HOME`` inside the folder is never copied.
- A ``.mldeployignore`` file in the folder changes that, in gitignore syntax (read with
  ``pathspec``, as git reads ``.gitignore``): ``data/`` leaves a folder out, ``!.env.public``
  takes a dotfile in. Azure's ``.amlignore`` is read the same way, before it.
- File modes are kept as they are (a 0600 file stays 0600): nothing is widened to
  world-readable. Images give the files to the container's user with ``COPY --chown``;
  the Docker target's mounted copy is handed over by ownership or group.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pathspec

from ._config import mldeploy_home
from .errors import ModelPathError, PathEscapeError

__all__ = ["DEFAULT_IGNORE", "IGNORE_FILE", "SECRET_PATTERNS", "SourceCopy", "copy_folder", "copy_source",
           "guard_links", "left_out_note", "source_ignore"]

#: The file in a source folder that changes what is copied (gitignore syntax).
IGNORE_FILE = ".mldeployignore"

#: Left out quietly: version control, caches, virtualenvs, notebook checkpoints, our own files.
DEFAULT_IGNORE: tuple[str, ...] = (
    ".git/", ".hg/", ".svn/", ".venv/", "venv/", "env/", "__pycache__/", "*.pyc", "*.pyo",
    ".ipynb_checkpoints/", ".mypy_cache/", ".pytest_cache/", ".ruff_cache/", ".tox/", ".DS_Store",
    "node_modules/", ".amlignore", ".dockerignore", IGNORE_FILE,
)

#: Left out and named: every dotfile and dot-folder (keys, cloud and cluster credentials, .env
#: files) and secret files by their usual names.
SECRET_PATTERNS: tuple[str, ...] = (
    ".*", "*.pem", "*.key", "*.p12", "*.pfx", "*.keytab", "id_rsa*", "id_dsa*", "id_ecdsa*", "id_ed25519*",
    "credentials", "credentials.json", "service-account*.json",
)

Ignore = Callable[[str, list[str]], Iterable[str]]


@dataclass
class SourceCopy:
    """What :func:`copy_source` copied: the file count, and what it left out that a user would want to know."""

    files: int = 0
    #: Paths (relative, ``/`` for folders) left out as secrets, dotfiles or by the ignore files.
    left_out: list[str] = field(default_factory=list)

    def note(self) -> str | None:
        """One line naming what was left out, or ``None`` when nothing was."""
        return left_out_note(self.left_out)


def left_out_note(left_out: Iterable[str]) -> str | None:
    """One line naming the paths a source copy left out, or ``None`` when there are none."""
    paths = list(left_out)
    if not paths:
        return None
    shown = ", ".join(paths[:12]) + (f" (+{len(paths) - 12} more)" if len(paths) > 12 else "")
    return (
        f"left out of the copy: {shown} (dotfiles and secrets are never copied unless a "
        f"{IGNORE_FILE} line such as '!.env.public' takes them in)"
    )


def copy_source(source: Path, dest: Path) -> SourceCopy:
    """Copy source folder ``source`` into ``dest`` (which may exist) with the rules above.

    Raises
    ------
    PathEscapeError
        A symlink in ``source`` leads outside it.
    ModelPathError
        A file cannot be read.
    """
    source = Path(source)
    report = SourceCopy()
    report.files = copy_folder(
        source, Path(dest), ignore=source_ignore(source, report=report.left_out),
        fix=f"make those files readable, or list them in a {IGNORE_FILE} file in that folder to leave them out",
    )
    report.left_out.sort()
    return report


def copy_folder(
    source: Path, dest: Path, *, ignore: Ignore | None = None,
    fix: str = "make its files readable (or remove broken links) and try again",
) -> int:
    """Copy folder ``source`` into ``dest`` with the link guard (model folders too); return the file count.

    Modes are kept (``copy2``); nothing is made readable to more users than it was.

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


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return []


def source_ignore(
    source_dir: Path, exclude: tuple[Path, ...] = (), report: list[str] | None = None
) -> Callable[[str, list[str]], set[str]]:
    """Return a ``copytree`` ignore function with the rules above (``report`` collects what is named).

    ``MLDEPLOY_HOME`` (the registry, the services and the build context being written;
    copying it would copy the copy) and the paths in ``exclude`` are left out wherever they
    sit in the source tree, whatever the ignore files say.
    """
    root = Path(source_dir).resolve()
    skipped = {Path(p).resolve() for p in (mldeploy_home(), *exclude)}
    ancestors = {parent for path in skipped for parent in path.parents}
    user_lines = _lines(root / ".amlignore") + _lines(root / IGNORE_FILE)
    spec = pathspec.GitIgnoreSpec.from_lines([*DEFAULT_IGNORE, *SECRET_PATTERNS, *user_lines])
    quiet = pathspec.GitIgnoreSpec.from_lines(DEFAULT_IGNORE)

    def ignore(folder: str, names: list[str]) -> set[str]:
        here = Path(folder).resolve()
        rel_dir = here.relative_to(root).as_posix() if here != root else ""
        left_out = set()
        for name in names:
            rel = f"{rel_dir}/{name}" if rel_dir else name
            if os.path.isdir(os.path.join(folder, name)):
                rel += "/"
            if spec.match_file(rel):
                left_out.add(name)
                if report is not None and not quiet.match_file(rel):
                    report.append(rel)
        if here in ancestors:  # one resolve per folder; names only checked on the way to a skipped path
            left_out |= {n for n in names if (here / n).resolve() in skipped}
        return left_out

    return ignore


def guard_links(folder: Path, ignore: Ignore | None = None) -> Callable[[str, list[str]], set[str]]:
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
