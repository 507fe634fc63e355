"""Checks of the plain values the registry's methods take: versions, tag and property maps, filters.

Each function returns the value in the one form the registry stores or compares
(an ``int`` version, a ``str -> str`` map, ``(key, value-or-None)`` filter
pairs) or raises :class:`~jupyter_mldeploy.errors.InvalidArgumentError` saying
what to pass instead. Used by both sides of the registry and by ``Model``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..errors import InvalidArgumentError

#: The largest version number (SQLite's integers are 64-bit).
MAX_VERSION = 2**63 - 1


def check_version(version: object) -> int | None:
    """``None`` (the latest), or a positive int given as an int or a digit string."""
    if version is None:
        return None
    if isinstance(version, bool) or not isinstance(version, (int, str)):
        raise InvalidArgumentError(f"version must be a positive integer, got {version!r}.")
    try:
        number = int(version)
    except ValueError:
        number = 0
    if number < 1 or number > MAX_VERSION:
        raise InvalidArgumentError(
            f"version must be a positive integer such as 1 (at most {MAX_VERSION}), got {version!r}."
        )
    return number


def str_map(values: Mapping[str, Any] | None, what: str) -> dict[str, str]:
    """Tags or properties as a ``str -> str`` dict (numbers become strings, None becomes ``""``)."""
    if values is None:
        return {}
    if not isinstance(values, Mapping):
        raise InvalidArgumentError(
            f"{what} must be a dict of strings, e.g. {{'stage': 'dev'}}, got {type(values).__name__}."
        )
    out: dict[str, str] = {}
    for key, value in values.items():
        if not isinstance(key, str) or not key:
            raise InvalidArgumentError(f"{what} keys must be non-empty strings, got {key!r}.")
        if value is None:
            value = ""
        if not isinstance(value, (str, int, float, bool)):
            raise InvalidArgumentError(
                f"{what} value of {key!r} must be a string or number, got {type(value).__name__}."
            )
        out[key] = str(value)
    return out


def key_list(keys: Iterable[Any], what: str) -> list[str]:
    """The keys in ``keys``, each checked to be a string."""
    out = []
    for key in keys:
        if not isinstance(key, str):
            raise InvalidArgumentError(f"{what} keys must be strings, got {key!r}.")
        out.append(key)
    return out


def parse_filter(items: Sequence[Any] | None, what: str) -> list[tuple[str, str | None]]:
    """Azure-style filter items as ``(key, value)`` pairs; value None means "the key exists"."""
    if items is None:
        return []
    if isinstance(items, str):
        items = [items]
    if isinstance(items, Mapping):
        return [(str(k), None if v is None else str(v)) for k, v in items.items()]
    out: list[tuple[str, str | None]] = []
    for item in items:
        if isinstance(item, str):
            out.append((item, None))
        elif isinstance(item, (list, tuple)) and len(item) in (1, 2) and isinstance(item[0], str):
            out.append((item[0], str(item[1]) if len(item) == 2 else None))
        else:
            raise InvalidArgumentError(
                f"bad {what} filter {item!r}: use a key ('stage' or ['stage']) "
                "or a key and value (['stage', 'prod'])."
            )
    return out


def matches(values: Mapping[str, str], wanted: list[tuple[str, str | None]]) -> bool:
    """True when ``values`` has every wanted key, with the wanted value where one is given."""
    return all(key in values and (value is None or values[key] == value) for key, value in wanted)
