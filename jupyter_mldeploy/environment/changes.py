"""What an environment change means for a running server: only new packages (swap them in) or a restart.

A running server keeps what it imported, so an environment that *adds* packages to the
one it runs (every installed package at the same version, the same Python) can be put on
its ``sys.path`` during a code swap: nothing it already uses changes, and the new
packages import from the new environment. Any other change (a version moved, a package
removed, another Python or base image) needs a new process: :func:`compare_installed`
says which, in words for the deploy log.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from packaging.utils import canonicalize_name

__all__ = ["EnvChange", "compare_installed", "installed_pins"]

_PIN_RE = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:==|@)\s*([^\s;\\]+)")
#: The scoring runtime: reinstalled into every environment, the server's own code (never swapped).
_RUNTIME = "jupyter-mldeploy"


@dataclass(frozen=True)
class EnvChange:
    """The difference between the environment a server runs and a new one.

    ``added``: ``name==version`` of the new packages; ``reason``: why a restart is needed
    (``None``: the new environment only adds, so a swap can take it).
    """

    added: tuple[str, ...]
    reason: str | None

    @property
    def swappable(self) -> bool:
        """Whether the running server can take the new environment without a restart."""
        return self.reason is None

    @property
    def summary(self) -> str:
        """The change in a few words (``adds pyyaml==6.0.4``)."""
        return "adds " + ", ".join(self.added) if self.added else "has the same packages"


def installed_pins(lines: Iterable[str]) -> dict[str, str]:
    """``{canonical name: version}`` from ``name==version`` lines (a freeze, a wheelhouse's requirements).

    The scoring runtime is left out (every environment has it, rebuilt with the package).

    Examples
    --------
    >>> installed_pins(["NumPy==2.4.6", "# comment", "jupyter-mldeploy==0.1"])
    {'numpy': '2.4.6'}
    """
    pins: dict[str, str] = {}
    for line in lines:
        match = _PIN_RE.match(line)
        if match and canonicalize_name(match[1]) != _RUNTIME:
            pins[canonicalize_name(match[1])] = match[2]
    return pins


def compare_installed(old: dict[str, str], new: dict[str, str], old_python: str, new_python: str,
                      also: Iterable[tuple[str, object, object]] = ()) -> EnvChange:
    """Whether ``new`` only adds packages to ``old`` (same versions, same Python, same ``also`` values).

    ``also``: more ``(what, old, new)`` that must be equal (the base image of a container).

    Examples
    --------
    >>> compare_installed({"numpy": "2.4.6"}, {"numpy": "2.4.6", "pyyaml": "6.0.4"}, "3.11", "3.11").summary
    'adds pyyaml==6.0.4'
    >>> compare_installed({"numpy": "2.4.6"}, {"numpy": "2.4.5"}, "3.11", "3.11").reason
    'the environment changed numpy 2.4.6 -> 2.4.5'
    """
    added = tuple(sorted(f"{name}=={version}" for name, version in new.items() if name not in old))
    if old_python != new_python:
        return EnvChange(added, f"the environment's Python changed ({old_python} -> {new_python})")
    for what, before, after in also:
        if before != after:
            return EnvChange(added, f"the {what} changed ({before} -> {after})")
    moved = [f"{name} {version} -> {new[name]}" for name, version in sorted(old.items())
             if name in new and new[name] != version]
    removed = sorted(name for name in old if name not in new)
    if moved or removed:
        parts = moved[:3] + [f"{name} removed" for name in removed[:3]]
        more = len(moved) + len(removed) - len(parts)
        return EnvChange(added, "the environment changed " + ", ".join(parts) + (f" and {more} more" if more else ""))
    return EnvChange(added, None)
