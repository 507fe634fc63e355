"""The server's secrets: auth keys and the control key, handed over in private files, never in the environment.

A deployment writes its auth keys (``/score``) and its control key (``POST /-/reload``,
the code swap) into private files (:func:`write_keys_file`); the server reads and
deletes them (:func:`take_keys`) before any worker, and so any entry script, starts.
Afterwards the keys live only in the server's memory: not in a file, not in the
environment a script inherits, not in ``docker inspect``.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import MutableMapping, Sequence
from pathlib import Path
from typing import Protocol, TypeVar

from ..errors import InvalidArgumentError

__all__ = ["check_auth_key", "take_keys", "write_keys_file"]


class _KeySettings(Protocol):
    """What :func:`take_keys` reads of :class:`~.settings.ServeSettings` (not imported: settings imports this)."""

    auth_keys: tuple[str, ...]
    auth_keys_file: str | None
    control_key_file: str | None


_S = TypeVar("_S", bound=_KeySettings)

#: Characters an auth key may hold: what a Bearer token may (RFC 6750), so that keys
#: pass unchanged through headers, the comma-separated environment name and the CLI.
_KEY_RE = re.compile(r"[A-Za-z0-9._~+/=-]{8,512}")
#: The environment names that may point at keys; dropped before any worker starts.
_KEY_NAMES = ("MLDEPLOY_AUTH_KEYS", "MLDEPLOY_AUTH_KEYS_FILE", "MLDEPLOY_CONTROL_KEY_FILE")


def check_auth_key(key: str) -> str:
    """Return ``key`` if it can serve as a Bearer key, else raise :class:`InvalidArgumentError`.

    Keys are 8-512 characters of letters, digits and ``-._~+/=`` (no spaces or
    commas, which would split one key into several weaker ones).
    """
    if not isinstance(key, str) or not _KEY_RE.fullmatch(key):
        raise InvalidArgumentError(
            "an auth key must be 8-512 letters, digits or '-._~+/=' (no spaces or commas); "
            "use a random one, e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )
    return key


def write_keys_file(keys: Sequence[str], path: str | os.PathLike[str]) -> str:
    """Write ``keys`` to a new private (0600) file for :attr:`ServeSettings.auth_keys_file`; return its path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.unlink(missing_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write("".join(f"{check_auth_key(key)}\n" for key in keys))
    return str(target)


def _read_and_delete(path: Path, what: str) -> tuple[str, ...]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise InvalidArgumentError(
            f"cannot read the {what} file {path}: {err.strerror}; pass an existing file (one key per line)"
        ) from err
    try:
        path.unlink()
    except OSError:
        pass  # read-only (a file mounted by hand): the keys still only go where they are needed
    return tuple(k for k in text.replace(",", " ").split() if k)


def take_keys(settings: _S, environ: MutableMapping[str, str]) -> _S:
    """Read and delete ``settings.auth_keys_file`` and ``control_key_file``; drop the keys' names from ``environ``.

    What the server does before any worker (and so any entry script) starts.

    Raises
    ------
    InvalidArgumentError
        A file cannot be read, or holds something that is not a key.
    """
    for name in _KEY_NAMES:
        environ.pop(name, None)
    changes: dict[str, object] = {}
    if settings.auth_keys_file:
        keys = _read_and_delete(Path(settings.auth_keys_file), "auth keys")
        changes.update(auth_keys=tuple(dict.fromkeys(settings.auth_keys + keys)), auth_keys_file=None)
    if settings.control_key_file:
        control = _read_and_delete(Path(settings.control_key_file), "control key")
        if len(control) != 1:
            raise InvalidArgumentError(
                f"the control key file {settings.control_key_file} must hold one key, found {len(control)}"
            )
        changes.update(control_key=check_auth_key(control[0]), control_key_file=None)
    return dataclasses.replace(settings, **changes) if changes else settings  # type: ignore[arg-type, type-var]
