"""Paths sent by the browser, resolved inside the Jupyter root and never outside it.

A path from the client (an entry script picked in the file browser, a source folder, an
environment file) is relative to the Jupyter server's ``root_dir``, as the contents API
names files. :class:`RootPaths` resolves it (links followed) and refuses, with
:class:`~jupyter_mldeploy.errors.PathEscapeError` (answered 400), any path that ends up
outside the root: ``..`` steps, absolute paths elsewhere, or links pointing out.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import InvalidArgumentError, PathEscapeError

__all__ = ["RootPaths"]


class RootPaths:
    """Resolve client paths against the Jupyter root ``root``.

    Examples
    --------
    >>> paths = RootPaths("/srv/notebooks")                         # doctest: +SKIP
    >>> paths.file("app/score.py", "entry script")                  # doctest: +SKIP
    PosixPath('/srv/notebooks/app/score.py')
    >>> paths.file("../etc/passwd", "entry script")                 # doctest: +SKIP
    Traceback (most recent call last):
    jupyter_mldeploy.errors.PathEscapeError: entry script '../etc/passwd' is outside the Jupyter root ...
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser().resolve()

    def resolve(self, path: object, what: str) -> Path:
        """``path`` (relative to the root, or absolute inside it) as an absolute path inside the root.

        Raises
        ------
        InvalidArgumentError
            ``path`` is not a non-empty string.
        PathEscapeError
            It resolves outside the Jupyter root.
        """
        if not isinstance(path, str) or not path.strip():
            raise InvalidArgumentError(
                f"{what}: give a path relative to the Jupyter root (as the file browser shows it), got {path!r}."
            )
        try:
            resolved = (self.root / path.strip()).resolve()
        except (ValueError, OSError) as err:  # a NUL byte, a link loop
            raise InvalidArgumentError(f"{what} {path!r} is not a usable path ({err}).") from err
        if not resolved.is_relative_to(self.root):
            raise PathEscapeError(
                f"{what} {path!r} is outside the Jupyter root {self.root}: pick a file inside it "
                "(the file browser shows what is), or start JupyterLab in a folder holding it."
            )
        return resolved

    def file(self, path: object, what: str) -> Path:
        """:meth:`resolve`, and the file must exist.

        Raises
        ------
        InvalidArgumentError
            No such file (the message says where it looked).
        """
        resolved = self.resolve(path, what)
        if not resolved.is_file():
            raise InvalidArgumentError(
                f"{what} {path!r} not found (looked at {self.show(resolved)} in the Jupyter root): "
                "give the path of an existing file, as the file browser shows it."
            )
        return resolved

    def folder(self, path: object, what: str) -> Path:
        """:meth:`resolve`, and the folder must exist.

        Raises
        ------
        InvalidArgumentError
            No such folder.
        """
        resolved = self.resolve(path, what)
        if not resolved.is_dir():
            raise InvalidArgumentError(
                f"{what} {path!r} is not a folder in the Jupyter root (looked at {self.show(resolved)})."
            )
        return resolved

    def show(self, path: str | Path) -> str:
        """``path`` as the file browser names it (relative to the root), or absolute when outside it."""
        absolute = Path(path)
        try:
            return absolute.resolve().relative_to(self.root).as_posix()
        except ValueError:
            return str(absolute)
