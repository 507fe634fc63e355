"""Name rules shared by models, environments and services."""

from __future__ import annotations

import re

from .errors import InvalidNameError

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$")


def validate_name(name: object, kind: str = "model") -> str:
    """Return ``name`` if it is a valid name, else raise :class:`InvalidNameError`.

    A valid name is 1-255 characters of letters, digits, ``-``, ``_`` and ``.``,
    starts with a letter or digit and is not made of dots only. The rule keeps
    names safe as folder names, image tags and URL parts (no ``/``, no ``..``).
    """
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name) or set(name) <= {"."}:
        raise InvalidNameError(
            f"invalid {kind} name {name!r}: use 1-255 letters, digits, '-', '_' or '.', "
            f"starting with a letter or digit (for example 'sklearn-ridge')."
        )
    return name
