"""Delete environments no service needs: local venvs and the Docker target's host-built trees.

Every environment change leaves the environment before it behind (a venv under
``$MLDEPLOY_HOME/envs``, a tree under ``$MLDEPLOY_HOME/envtrees``); nothing deletes them on
its own, because a service may still run from one and an undo is instant while it is there.
:func:`prune_environments` removes those unused for some days, never one that a service
record of this ``MLDEPLOY_HOME`` still names (a running process's venv, a container's
mounted tree). What is removed is built again from uv's cache when asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..environment.env_tree import remove_unused_trees
from ..environment.local_build import remove_unused_builds
from ..errors import MLDeployError
from . import records

__all__ = ["PruneReport", "environments_in_use", "prune_environments"]


@dataclass(frozen=True)
class PruneReport:
    """What :func:`prune_environments` removed, and how many folders it kept because services use them."""

    builds: tuple[Path, ...]
    trees: tuple[Path, ...]
    in_use: int


def environments_in_use() -> set[Path]:
    """The environment folders that services of this ``MLDEPLOY_HOME`` name (venvs, and the trees' folders)."""
    used: set[Path] = set()
    for name in records.names():
        try:
            environment = records.load(name).environment or {}
        except MLDeployError:
            continue  # an unreadable record: its service cannot be restarted anyway
        if environment.get("path"):
            used.add(Path(environment["path"]).resolve())
        if environment.get("tree"):
            used.add(Path(environment["tree"]).resolve().parent)  # the tree is .../envtrees/KEY/site-packages
    return used


def prune_environments(older_than_days: float = 30.0) -> PruneReport:
    """Delete local venvs and host-built trees unused for ``older_than_days`` days that no service names.

    Raises
    ------
    InvalidArgumentError
        ``older_than_days`` is negative.
    """
    keep = environments_in_use()
    builds = remove_unused_builds(older_than_days, keep=keep)
    trees = remove_unused_trees(older_than_days, keep=keep)
    return PruneReport(tuple(builds), tuple(trees), len(keep))
