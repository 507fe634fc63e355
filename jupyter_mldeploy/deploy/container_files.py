"""Let a container's user (uid 1000) read the files we bind-mount into it, without making them world-readable.

The Docker target mounts the service's source copy, its models and the host-built
environments read-only; the container runs as :data:`~jupyter_mldeploy.images.dockerfile.USER_UID`,
not as us. :func:`hand_to_container_user` makes those files readable to it (ownership when
we are root, our group otherwise) and :func:`container_groups` is the group the container
then needs.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..images.dockerfile import USER_UID

__all__ = ["container_groups", "hand_to_container_user"]


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
