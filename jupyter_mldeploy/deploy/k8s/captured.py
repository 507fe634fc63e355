"""What a Kubernetes service's pods captured: each ready pod's ``capture.jsonl`` (or ``collected.jsonl``), merged.

Every pod writes its own files into its ``data`` volume (see :mod:`.manifests`).
:func:`pod_records` runs the image's own Python in each ready pod through the API server
(the official client's exec stream), which reads the last ``n`` records with the same
:func:`~jupyter_mldeploy.scoring.jsonl.read_last` the local targets use (rotated files
included), and merges them by time: the newest ``n`` of all pods, oldest first.
"""

from __future__ import annotations

import json
from typing import Any

from ...errors import KubernetesError
from ...images.dockerfile import CONTAINER_DATA, VENV
from .cluster import Cluster
from .manifests import selector_labels
from .pods import pod_ready

__all__ = ["pod_records", "reader_command"]

_READER = (
    "import json, sys\n"
    "from jupyter_mldeploy.scoring.jsonl import read_last\n"
    "json.dump(read_last(sys.argv[1], int(sys.argv[2])), sys.stdout)\n"
)


def reader_command(file_name: str, n: int) -> list[str]:
    """The command that prints the last ``n`` records of ``file_name`` in the pod's data volume as JSON."""
    return [f"{VENV}/bin/python", "-c", _READER, f"{CONTAINER_DATA}/{file_name}", str(int(n))]


def pod_records(cluster: Cluster, namespace: str, name: str, file_name: str, n: int) -> list[dict[str, Any]]:
    """The newest ``n`` records of ``file_name`` across service ``name``'s ready pods, oldest first.

    Raises
    ------
    KubernetesError
        No pod of the service is ready (nothing to read from yet), or a pod's answer is not
        the records (the message names the pod).
    """
    pods = [p for p in cluster.pods(namespace, selector_labels(name)) if pod_ready(p)]
    if not pods:
        raise KubernetesError(
            f"service {name!r} has no ready pod in namespace {namespace!r} to read {file_name} from: "
            "wait for it (service.wait_for_deployment()) or see why with service.get_logs()."
        )
    if n == 0:
        return []
    records: list[tuple[str, int, dict[str, Any]]] = []
    for pod in pods:
        pod_name = pod["metadata"]["name"]
        text = cluster.pod_exec(namespace, pod_name, reader_command(file_name, n))
        try:
            found = json.loads(text)
        except ValueError as err:
            raise KubernetesError(
                f"pod {pod_name} did not answer with its {file_name} records ({text[:200]!r}); "
                "is its image one of ours (jupyter-mldeploy's runtime in its venv)?"
            ) from err
        records += [(str(r.get("time") or ""), len(records) + i, r) for i, r in enumerate(found) if isinstance(r, dict)]
    records.sort(key=lambda item: (item[0], item[1]))
    return [record for _, _, record in records[-n:]]
