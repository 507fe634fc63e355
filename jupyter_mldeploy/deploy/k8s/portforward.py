"""A port-forward on 127.0.0.1 to a ClusterIP service's ready pods, kept by the object that uses it.

What ``kubectl port-forward svc/NAME`` does, through the official client's
``portforward`` stream, with one difference that matters during rolling updates: each
new local connection goes to a pod that is ready *now* (round robin over the ready pods
of the service), so a connection made after an old pod stopped reaches a new one.
Nothing listens beyond loopback. The forward lives as long as its process (threads are
daemons) or until :meth:`PortForward.close`.
"""

from __future__ import annotations

import itertools
import select
import socket
import threading
from collections.abc import Callable
from typing import Any

from ...errors import KubernetesError, PortInUseError

__all__ = ["PortForward"]

_BUFFER = 65536


class PortForward:
    """Listen on ``127.0.0.1:port`` (0: a free one); relay each connection to ``remote_port`` of a pod from ``ready_pods()``.

    ``connect(pod)`` opens the stream to one pod (``Cluster.port_forward``).
    """

    def __init__(self, ready_pods: Callable[[], list[str]], connect: Callable[[str], Any], port: int = 0) -> None:
        self._ready_pods = ready_pods
        self._connect = connect
        self._turn = itertools.count()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._listener.bind(("127.0.0.1", port))
        except OSError as err:
            self._listener.close()
            raise PortInUseError(
                f"port {port} on 127.0.0.1 is taken; choose another local port for the port-forward, or port=None."
            ) from err
        self._listener.listen(128)
        self.port: int = self._listener.getsockname()[1]
        self._closed = threading.Event()
        self.last_error: str | None = None
        threading.Thread(target=self._accept, name=f"mldeploy-port-forward-{self.port}", daemon=True).start()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def close(self) -> None:
        """Stop listening (connections in flight end with their streams)."""
        self._closed.set()
        try:
            self._listener.close()
        except OSError:
            pass

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                local, _ = self._listener.accept()
            except OSError:
                return  # closed
            threading.Thread(target=self._serve, args=(local,), daemon=True).start()

    def _serve(self, local: socket.socket) -> None:
        try:
            remote = self._open()
        except KubernetesError as err:
            self.last_error = str(err)
            local.close()
            return
        try:
            _relay(local, remote)
        finally:
            for end in (local, remote):
                try:
                    end.close()
                except OSError:
                    pass

    def _open(self) -> Any:
        pods = self._ready_pods()
        if not pods:
            raise KubernetesError("no pod of the service is ready to take the port-forward's connection.")
        pod = pods[next(self._turn) % len(pods)]
        return self._connect(pod)


def _relay(local: socket.socket, remote: Any) -> None:
    """Copy bytes both ways until either side closes."""
    ends = [local, remote]
    while True:
        readable, _, failed = select.select(ends, [], ends, 60.0)
        if failed:
            return
        for end in readable:
            try:
                data = end.recv(_BUFFER)
            except OSError:
                return
            if not data:
                if end is local:
                    try:
                        remote.shutdown(socket.SHUT_WR)
                    except OSError:
                        return
                    ends = [remote]
                    continue
                return
            other = remote if end is local else local
            try:
                other.sendall(data)
            except OSError:
                return
