"""Record a live cluster's API answers, and replay them where no cluster runs (CI).

Both work at the official client's HTTP layer (``kubernetes.client.rest.RESTClientObject.request``),
so everything above it (``deploy/k8s/cluster.py``, the ``DynamicClient``, the target) runs as it
does against a cluster. Answers are kept per request (method, path and query) in the order the
cluster gave them; a replay hands them out in that order and repeats the last one, so polling
loops see the rollout move as it did. Secret contents are redacted in the recording.
"""

from __future__ import annotations

import base64
import json
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

RECORDED = Path(__file__).parent / "recorded"
_VOLATILE_QUERY = {"timeoutSeconds", "sinceSeconds"}


def forget_discovery() -> None:
    """Forget the clusters connected so far and the DynamicClient's discovery caches, so the API list is asked."""
    from jupyter_mldeploy.deploy.k8s import cluster as k8s_cluster

    k8s_cluster._clusters.clear()
    for cached in Path(tempfile.gettempdir()).glob("osrcp-*.json"):
        cached.unlink(missing_ok=True)


def request_key(method: str, url: str) -> str:
    parts = urlsplit(url)
    query = sorted((k, v) for k, v in parse_qsl(parts.query) if k not in _VOLATILE_QUERY)
    return f"{method.upper()} {parts.path}" + (f"?{urlencode(query)}" if query else "")


def _redact(data: bytes) -> bytes:
    try:
        obj = json.loads(data)
    except ValueError:
        return data
    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            node.pop("managedFields", None)
            if node.get("kind") == "Secret":
                for field in ("data", "stringData"):
                    if field in node:
                        node[field] = {k: base64.b64encode(b"redacted").decode() for k in node[field]}
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
        return node
    return json.dumps(walk(obj)).encode()


@contextmanager
def record(path: Path, meta: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Record every API answer while the block runs; write them (and ``meta``) to ``path``."""
    from kubernetes.client import rest

    answers: dict[str, list[dict[str, Any]]] = {}
    lock = threading.Lock()
    original = rest.RESTClientObject.request

    def recording(self: Any, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        response = original(self, method, url, *args, **kwargs)
        raw = response.response
        data = raw.data or b""
        with lock:
            answers.setdefault(request_key(method, url), []).append({
                "status": raw.status, "reason": raw.reason,
                "content_type": raw.headers.get("Content-Type", ""),
                "body": _redact(data).decode("utf-8", "replace"),
            })
        return response

    forget_discovery()
    rest.RESTClientObject.request = recording  # type: ignore[method-assign]
    try:
        yield meta
    finally:
        rest.RESTClientObject.request = original  # type: ignore[method-assign]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"meta": meta, "answers": answers}, indent=1, sort_keys=True) + "\n")


class _Answer:
    """What ``RESTResponse`` needs of a urllib3 response."""

    def __init__(self, answer: dict[str, Any]) -> None:
        self.status = int(answer["status"])
        self.reason = str(answer["reason"])
        self.data = str(answer["body"]).encode()
        self.headers = {"Content-Type": answer.get("content_type") or "application/json"}


@contextmanager
def replay(path: Path) -> Iterator[dict[str, Any]]:
    """Answer every API request from the recording at ``path``; yield its ``meta``.

    A request the recording never saw fails the test with its key (the code asked the
    cluster something new: record again on a live cluster).
    """
    from kubernetes.client import rest

    saved = json.loads(path.read_text())
    queues = {key: list(items) for key, items in saved["answers"].items()}
    lock = threading.Lock()
    original = rest.RESTClientObject.request
    asked: list[str] = []

    def replaying(self: Any, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        key = request_key(method, url)
        with lock:
            asked.append(key)
            queue = queues.get(key)
            if not queue:
                raise AssertionError(f"the recording {path.name} has no answer to {key}; record it again on a cluster")
            answer = queue.pop(0) if len(queue) > 1 else queue[0]
        return rest.RESTResponse(_Answer(answer))

    forget_discovery()
    rest.RESTClientObject.request = replaying  # type: ignore[method-assign]
    try:
        yield {**saved["meta"], "asked": asked}
    finally:
        rest.RESTClientObject.request = original  # type: ignore[method-assign]
        forget_discovery()


def offline_kubeconfig(folder: Path, namespace: str) -> Path:
    """A kubeconfig naming a cluster that is never reached (the replay answers instead)."""
    path = folder / "kubeconfig"
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "replay",
        "clusters": [{"name": "replay", "cluster": {"server": "https://127.0.0.1:6443", "insecure-skip-tls-verify": True}}],
        "users": [{"name": "replay", "user": {"token": "replay"}}],
        "contexts": [{"name": "replay", "context": {"cluster": "replay", "user": "replay", "namespace": namespace}}],
    }))
    return path
