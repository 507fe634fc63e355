"""Where a Kubernetes service answers from this machine: a NodePort, a load balancer, or a port-forward.

:func:`service_address` reads the Service object: a ``NodePort`` answers at a node's address
(``127.0.0.1`` when the API server is on this machine, else the ``node_address`` setting or a
node's external, then internal, address); a ``LoadBalancer`` at its ingress IP or host name
once the cloud gave one. A ``ClusterIP`` service has no outside address: :func:`forward_for`
keeps one port-forward per service and process (see :mod:`.portforward`).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from ...errors import PortInUseError
from .cluster import Cluster
from .manifests import SERVICE_PORT, selector_labels
from .pods import pod_ready
from .portforward import PortForward

__all__ = ["close_forward", "forward_for", "service_address"]

_forwards: dict[tuple[str, str, str], PortForward] = {}
_lock = threading.Lock()


def service_address(cluster: Cluster, service: Mapping[str, Any], node_address: str | None) -> tuple[str, int] | None:
    """``(host, port)`` of a NodePort or LoadBalancer Service, ``None`` while it has none (or for ClusterIP)."""
    spec, status = service.get("spec") or {}, service.get("status") or {}
    kind = spec.get("type") or "ClusterIP"
    if kind == "LoadBalancer":
        for ingress in (status.get("loadBalancer") or {}).get("ingress") or []:
            host = ingress.get("ip") or ingress.get("hostname")
            if host:
                return str(host), SERVICE_PORT
        return None
    if kind != "NodePort":
        return None
    node_port = next((p.get("nodePort") for p in spec.get("ports") or [] if p.get("nodePort")), None)
    if not node_port:
        return None
    return node_address or _node_host(cluster), int(node_port)


def _node_host(cluster: Cluster) -> str:
    """The address a NodePort answers at from here."""
    if cluster.server_is_local:
        return "127.0.0.1"
    for wanted in ("ExternalIP", "InternalIP"):
        for node in cluster.nodes():
            for address in (node.get("status") or {}).get("addresses") or []:
                if address.get("type") == wanted and address.get("address"):
                    return str(address["address"])
    return "127.0.0.1"


def forward_for(cluster: Cluster, namespace: str, name: str, remote_port: int, port: int | None = None) -> PortForward:
    """This process's port-forward to service ``name`` (made on first use, on ``port`` when it is free)."""
    key = (cluster.server, namespace, name)
    with _lock:
        forward = _forwards.get(key)
        if forward is not None and not forward.closed:
            return forward

        def ready_pods() -> list[str]:
            pods = cluster.pods(namespace, selector_labels(name))
            return [str(p["metadata"]["name"]) for p in pods if pod_ready(p)]

        def connect(pod: str) -> Any:
            return cluster.port_forward(namespace, pod, remote_port)

        try:
            forward = PortForward(ready_pods, connect, port or 0)
        except PortInUseError:
            forward = PortForward(ready_pods, connect, 0)  # the wanted port is taken here: any free one
        _forwards[key] = forward
        return forward


def close_forward(cluster: Cluster, namespace: str, name: str) -> None:
    """Stop this process's port-forward to service ``name`` (if any)."""
    with _lock:
        forward = _forwards.pop((cluster.server, namespace, name), None)
    if forward is not None:
        forward.close()
