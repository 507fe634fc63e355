"""The logs of every pod of a service, as one log: lines in time order, each labelled with its pod.

:func:`merged_logs` reads the last lines of each pod with the API server's timestamps and
merges them; :func:`follow_pods` polls for new lines (pods that appear during a scale-out or a
rolling update are picked up) until told to stop.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence

from ...errors import MLDeployError
from .cluster import Cluster
from .manifests import selector_labels

__all__ = ["follow_pods", "merged_logs"]


def _stamped(
    cluster: Cluster, namespace: str, pod: str, *, tail: int | None = None, since_seconds: int | None = None,
) -> list[tuple[str, str]]:
    """``(timestamp, "[pod] line")`` pairs of one pod's log."""
    text = cluster.pod_logs(namespace, pod, tail=tail, since_seconds=since_seconds, timestamps=True)
    lines = []
    for raw in text.splitlines():
        stamp, _, line = raw.partition(" ")
        lines.append((stamp, f"[{pod}] {line}"))
    return lines


def merged_logs(cluster: Cluster, namespace: str, pods: Sequence[str], num_lines: int) -> str:
    """The last ``num_lines`` lines of all ``pods`` together, oldest first, each prefixed ``[POD]``."""
    lines: list[tuple[str, str]] = []
    for pod in pods:
        lines += _stamped(cluster, namespace, pod, tail=num_lines)
    lines.sort(key=lambda pair: pair[0])
    return "\n".join(line for _, line in lines[-num_lines:])


def follow_pods(
    cluster: Cluster, namespace: str, name: str, poll_s: float, stop: Callable[[], bool], *, max_s: float | None = None,
) -> Iterator[str]:
    """Yield new ``[POD] line`` lines of service ``name``'s pods as they are written, until ``stop()`` (or ``max_s``)."""
    seen: dict[str, str] = {}  # pod -> timestamp of its last line yielded
    started = time.monotonic()
    first = True
    while not stop() and (max_s is None or time.monotonic() - started < max_s):
        try:
            pods = [p["metadata"]["name"] for p in cluster.pods(namespace, selector_labels(name))]
        except MLDeployError:
            return  # the cluster went away: the follow ends, as a deleted service's does
        if first:
            for pod in pods:  # start after what is there now
                lines = _stamped(cluster, namespace, pod, tail=1)
                seen[pod] = lines[-1][0] if lines else ""
            first = False
        fresh: list[tuple[str, str]] = []
        for pod in pods:
            since = max(1, int(poll_s) + 2)
            for stamp, line in _stamped(cluster, namespace, pod, since_seconds=since) if pod in seen else (
                _stamped(cluster, namespace, pod, tail=1000)
            ):
                if stamp > seen.get(pod, ""):
                    fresh.append((stamp, line))
                    seen[pod] = stamp
        fresh.sort(key=lambda pair: pair[0])
        yield from (line for _, line in fresh)
        time.sleep(poll_s)
