"""Tags and properties as people type them: ``key=value`` pairs, and tag filters such as ``stage=prod, team``.

The CLI (``--tag k=v``), the magics and the registry browser's filter box all read
them through these two functions.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..errors import InvalidArgumentError

__all__ = ["parse_pairs", "parse_tag_filter"]


def parse_pairs(items: Iterable[str], what: str = "--tag") -> dict[str, str]:
    """Turn ``["stage=dev", "team=ml"]`` into ``{"stage": "dev", "team": "ml"}``.

    Raises
    ------
    InvalidArgumentError
        An item is not ``KEY=VALUE`` (the message names ``what``, e.g. ``--property``).

    Examples
    --------
    >>> parse_pairs(["stage=dev", "note=a=b"])
    {'stage': 'dev', 'note': 'a=b'}
    """
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidArgumentError(f"bad {what} {item!r}: write KEY=VALUE, e.g. {what} stage=dev.")
        out[key] = value
    return out


def parse_tag_filter(terms: str | Iterable[str]) -> list[list[str]]:
    """Turn ``"stage=prod, team"`` (or ``["stage=prod", "team"]``) into ``[["stage", "prod"], ["team"]]``.

    That is the ``Model.list(tags=...)`` form: a term is a key (the tag must exist) or
    ``key=value`` (the tag must have that value); in a string, terms are separated by commas.

    Examples
    --------
    >>> parse_tag_filter("stage=prod, team")
    [['stage', 'prod'], ['team']]
    >>> parse_tag_filter("")
    []
    """
    items = terms.split(",") if isinstance(terms, str) else list(terms)
    wanted: list[list[str]] = []
    for raw in items:
        term = raw.strip()
        if not term:
            continue
        key, sep, value = term.partition("=")
        key = key.strip()
        if not key:
            raise InvalidArgumentError(
                f"tag filter {term!r} has no key: write key or key=value, e.g. stage or stage=prod."
            )
        wanted.append([key, value.strip()] if sep else [key])
    return wanted
