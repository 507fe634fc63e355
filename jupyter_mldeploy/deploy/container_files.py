"""Let a container's user (uid 1000) read the files we bind-mount into it, without making them world-readable.

The Docker target mounts the service's source copy, its models and the host-built
environments read-only; the container runs as :data:`~jupyter_mldeploy.images.dockerfile.USER_UID`,
not as us. :func:`hand_to_container_user` makes those files readable to it (ownership when
we are root, our group otherwise) and :func:`container_groups` is the group the container
then needs. :func:`refill_source` copies the user's source folder into the mounted ``src/``
and sets the serving copy aside until :func:`settle_source` says whether the new one took
over (a code swap whose ``init()`` fails puts the serving copy back, so a worker the server
starts later, to replace a crashed or hung one, runs the version that serves).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from ..images.dockerfile import USER_UID
from ..source_copy import SourceCopy, copy_source

__all__ = ["container_groups", "hand_to_container_user", "refill_source", "settle_source"]

#: Beside ``src/``: the copy the server ran before the last refill, until the new one serves.
SERVING_ASIDE = "src.serving"


def hand_to_container_user(root: Path) -> None:
    """Let the container's user (uid 1000) read ``root``'s files without making them world-readable.

    As root: the files become the container user's (modes kept). As uid 1000: nothing to do.
    As anyone else: the files get group read (and folders group search) for our own group,
    which :func:`container_groups` adds to the container.
    """
    uid = os.geteuid()
    if uid == USER_UID:
        return
    for folder, dirs, files in os.walk(root):
        entries = [folder, *(os.path.join(folder, d) for d in dirs), *(os.path.join(folder, f) for f in files)]
        for path in entries:
            if os.path.islink(path):
                continue
            if uid == 0:
                os.chown(path, USER_UID, USER_UID)
            else:
                extra = 0o050 if os.path.isdir(path) else 0o040
                os.chmod(path, os.stat(path).st_mode | extra)


def container_groups() -> list[str] | None:
    """The supplementary group the container's user needs to read files :func:`hand_to_container_user` shared."""
    uid = os.geteuid()
    return None if uid in (0, USER_UID) else [str(os.getegid())]


def refill_source(source: Path, dest: Path) -> SourceCopy:
    """Copy ``source`` into ``dest`` (the mounted ``src/``, refilled in place so the bind mount keeps
    pointing at it) and hand it to the container's user; the previous files wait beside it.

    Raises
    ------
    PathEscapeError, ModelPathError
        From :func:`~jupyter_mldeploy.source_copy.copy_source`; ``dest`` then holds what served.
    """
    dest.mkdir(parents=True, exist_ok=True)
    aside = dest.parent / SERVING_ASIDE
    shutil.rmtree(aside, ignore_errors=True)
    aside.mkdir()
    for child in list(dest.iterdir()):
        child.rename(aside / child.name)  # one folder, one file system: a rename each
    try:
        copied = copy_source(source, dest)
    except BaseException:
        settle_source(dest, took_over=False)
        raise
    hand_to_container_user(dest)
    return copied


def settle_source(dest: Path, took_over: bool) -> None:
    """The refilled ``dest`` serves (``took_over``): drop the copy set aside; else put that copy back."""
    aside = dest.parent / SERVING_ASIDE
    if not aside.is_dir():
        return
    if not took_over:
        for child in list(dest.iterdir()):
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
        for child in list(aside.iterdir()):
            child.rename(dest / child.name)
    shutil.rmtree(aside, ignore_errors=True)
