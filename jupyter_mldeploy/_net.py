"""Loopback port helpers shared by the doctor and the deployment targets."""

from __future__ import annotations

import errno
import socket


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Return whether ``port`` can be bound on ``host`` right now.

    ``SO_REUSEADDR`` is set, so connections lingering in TIME_WAIT do not make a
    port count as taken (a server restarting on its own port binds it fine).
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as err:
            if err.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """Return a port that is free on ``host`` now (it may be taken again before it is used)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])
