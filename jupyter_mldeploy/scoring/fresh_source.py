"""The user's own code is compiled from its source on every load, never taken from ``__pycache__``.

Python trusts a cached ``.pyc`` when the source's modification time (in whole seconds) and
size match: an edit of ``score.py`` or a helper module that keeps the size, saved within the
same second as the previous load, would reload the *old* code. Entry scripts and the
modules of their source folder are therefore loaded with :class:`FreshSourceLoader`, which
compiles the source each time and writes no cache (the user's folder stays clean);
installed packages keep their caches, so ``import sklearn`` stays fast.
"""

from __future__ import annotations

import sys
from importlib.machinery import SOURCE_SUFFIXES, FileFinder, SourceFileLoader
from pathlib import Path
from types import CodeType
from typing import Any

__all__ = ["FreshSourceLoader", "install"]


class FreshSourceLoader(SourceFileLoader):
    """A source loader that compiles from the ``.py`` file every time and caches nothing."""

    def get_code(self, fullname: str) -> CodeType:
        path = self.get_filename(fullname)
        return compile(self.get_data(path), path, "exec", dont_inherit=True)  # type: ignore[no-any-return]

    def set_data(self, path: str, data: bytes, *, _mode: int = 0o666) -> None:  # type: ignore[override]
        pass  # never write a .pyc into the user's folder


_ROOTS: set[Path] = set()


def _hook(path: str) -> Any:
    where = Path(path or ".").resolve()
    if any(where == root or root in where.parents for root in _ROOTS):
        return FileFinder(path, (FreshSourceLoader, SOURCE_SUFFIXES))
    raise ImportError  # not the user's folder: the normal finders take it


def install(source_dir: Path) -> None:
    """Import modules under ``source_dir`` with :class:`FreshSourceLoader` from now on."""
    root = Path(source_dir).resolve()
    if root in _ROOTS:
        return
    _ROOTS.add(root)
    if _hook not in sys.path_hooks:
        sys.path_hooks.insert(0, _hook)
    for entry in list(sys.path_importer_cache):  # finders made before for that folder: made again
        try:
            where = Path(entry or ".").resolve()
        except (OSError, RuntimeError):
            continue
        if where == root or root in where.parents:
            del sys.path_importer_cache[entry]
