"""Talk to a Kubernetes cluster through the official ``kubernetes`` client (the only module that imports it).

:class:`Cluster` wraps an ``ApiClient`` made from a kubeconfig (``$KUBECONFIG``,
``~/.kube/config``, a given file and context) or the in-cluster service account, and offers
what the target needs: server-side apply (field manager ``jupyter-mldeploy``) of any object,
including custom resources, through the client's ``DynamicClient``; get, list by label and
delete; pods, their logs and events; nodes; a port-forward socket to one pod. Objects go in
and come out as plain dicts.

The client is imported on first use only (it takes seconds to import), and every failure it
raises becomes a :class:`~jupyter_mldeploy.errors.KubernetesError` with the API server's own
message, or :class:`~jupyter_mldeploy.errors.KubernetesUnavailableError` when no cluster is
configured or none answers (saying how to render the manifests instead).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from ...errors import KubernetesError, KubernetesUnavailableError
from .manifests import FIELD_MANAGER

__all__ = ["Cluster", "cluster_configured", "connect"]

#: Seconds an API call may take before the cluster counts as not answering.
REQUEST_TIMEOUT_S = 30.0
_RENDER_HINT = (
    "render the manifests instead with service.to_yaml() or `mldeploy k8s render`, or point KUBECONFIG "
    "at your cluster's kubeconfig (kind, k3s, AKS: see docs/kubernetes.md)"
)
_lock = threading.Lock()
_clusters: dict[tuple[str | None, str | None], Cluster] = {}


def kubeconfig_path(kubeconfig: str | None = None) -> Path | None:
    """The kubeconfig that would be used (``kubeconfig``, the first of ``$KUBECONFIG``, ``~/.kube/config``), if it exists."""
    candidates = [kubeconfig] if kubeconfig else []
    if not kubeconfig:
        candidates += [p for p in os.environ.get("KUBECONFIG", "").split(os.pathsep) if p]
        candidates.append(str(Path.home() / ".kube" / "config"))
    for candidate in candidates:
        path = Path(candidate).expanduser()
        if path.is_file():
            return path
    return None


def cluster_configured(kubeconfig: str | None = None) -> bool:
    """Whether a kubeconfig or an in-cluster service account is present (nothing is imported or asked)."""
    return kubeconfig_path(kubeconfig) is not None or bool(os.environ.get("KUBERNETES_SERVICE_HOST"))


def connect(context: str | None = None, kubeconfig: str | None = None) -> Cluster:
    """The cluster of ``context`` in ``kubeconfig`` (defaults: the current context of the usual kubeconfig), shared per process.

    Raises
    ------
    KubernetesUnavailableError
        No kubeconfig and not inside a cluster, the kubeconfig cannot be read, or the context is unknown.
    """
    key = (context, kubeconfig)
    with _lock:
        cluster = _clusters.get(key)
        if cluster is None:
            cluster = _clusters[key] = Cluster._load(context, kubeconfig)
        return cluster


def _sdk() -> Any:
    try:
        import kubernetes
    except ImportError as err:
        raise KubernetesUnavailableError(
            'the kubernetes client is not installed; run: pip install "jupyter-mldeploy[kubernetes]" '
            f"(or {_RENDER_HINT})"
        ) from err
    return kubernetes


class Cluster:
    """One cluster, as the Kubernetes target uses it (see the module docstring)."""

    def __init__(self, api_client: Any, namespace: str = "default", server: str = "", context: str | None = None) -> None:
        self.api_client = api_client
        #: the namespace of the kubeconfig's context (``default`` when it names none)
        self.namespace = namespace
        #: the API server's URL
        self.server = server
        self.context = context
        self._dynamic: Any = None
        self._stream_client: Any = None  # port-forwards get their own ApiClient (see port_forward)
        self._stream_lock = threading.Lock()

    @classmethod
    def _load(cls, context: str | None, kubeconfig: str | None) -> Cluster:
        kubernetes = _sdk()
        from kubernetes.config.config_exception import ConfigException

        path = kubeconfig_path(kubeconfig)
        try:
            if path is None:
                if not os.environ.get("KUBERNETES_SERVICE_HOST"):
                    where = kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config"
                    raise KubernetesUnavailableError(f"no Kubernetes cluster is configured (no kubeconfig at {where}); {_RENDER_HINT}.")
                configuration = kubernetes.client.Configuration()
                kubernetes.config.load_incluster_config(client_configuration=configuration)
                namespace_file = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
                namespace = namespace_file.read_text().strip() if namespace_file.is_file() else "default"
                api = kubernetes.client.ApiClient(configuration)
                return cls(api, namespace, configuration.host, context)
            contexts, current = kubernetes.config.list_kube_config_contexts(str(path))
            chosen = next((c for c in contexts if c["name"] == context), None) if context else current
            if chosen is None:
                names = ", ".join(c["name"] for c in contexts) or "none"
                raise KubernetesUnavailableError(f"kubeconfig {path} has no context {context!r} (it has: {names}).")
            configuration = kubernetes.client.Configuration()
            api = kubernetes.config.new_client_from_config(
                str(path), context=chosen["name"], persist_config=False, client_configuration=configuration,
            )
        except ConfigException as err:
            raise KubernetesUnavailableError(f"cannot use the kubeconfig {path}: {err}; {_RENDER_HINT}.") from err
        namespace = (chosen.get("context") or {}).get("namespace") or "default"
        return cls(api, namespace, configuration.host, chosen["name"])

    # --- facts --------------------------------------------------------------------------------

    @property
    def server_is_local(self) -> bool:
        """Whether the API server is on this machine (then NodePorts answer on 127.0.0.1)."""
        host = urlparse(self.server).hostname or ""
        return host in ("127.0.0.1", "localhost", "::1")

    def version(self) -> str:
        """The API server's version (``v1.24.0``)."""
        kubernetes = _sdk()
        with self._calls("reading the server version"):
            return str(kubernetes.client.VersionApi(self.api_client).get_code().git_version)

    # --- objects --------------------------------------------------------------------------------

    def apply(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        """Server-side apply ``obj`` (field manager ``jupyter-mldeploy``, conflicts forced); return what the server holds."""
        meta = obj.get("metadata") or {}
        what = f"applying {obj.get('kind')}/{meta.get('name')}"
        resource = self._resource(str(obj["apiVersion"]), str(obj["kind"]))
        with self._calls(what):
            answer = resource.server_side_apply(
                body=dict(obj), name=meta.get("name"), namespace=meta.get("namespace"),
                field_manager=FIELD_MANAGER, force_conflicts=True, _request_timeout=REQUEST_TIMEOUT_S,
            )
        return _plain(answer)

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        """The object, or ``None`` when it does not exist."""
        resource = self._resource(api_version, kind)
        with self._calls(f"reading {kind}/{name}", missing_ok=True) as call:
            call.result = _plain(resource.get(name=name, namespace=namespace, _request_timeout=REQUEST_TIMEOUT_S))
        return call.result

    def list_objects(self, api_version: str, kind: str, namespace: str | None, selector: Mapping[str, str],
                     timeout_s: float = REQUEST_TIMEOUT_S) -> list[dict[str, Any]]:
        """Objects of ``kind`` whose labels match ``selector`` (every namespace when ``namespace`` is ``None``)."""
        resource = self._resource(api_version, kind)
        label_selector = ",".join(f"{k}={v}" for k, v in selector.items())
        with self._calls(f"listing {kind}"):
            answer = resource.get(namespace=namespace, label_selector=label_selector, _request_timeout=timeout_s)
        return list(_plain(answer).get("items") or [])

    def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> bool:
        """Delete the object (its pods too, in the background); ``False`` when it was not there."""
        resource = self._resource(api_version, kind)
        with self._calls(f"deleting {kind}/{name}", missing_ok=True) as call:
            resource.delete(name=name, namespace=namespace, body={"propagationPolicy": "Background"},
                            _request_timeout=REQUEST_TIMEOUT_S)
            call.result = True
        return bool(call.result)

    def ensure_namespace(self, namespace: str) -> bool:
        """Create ``namespace`` unless it exists; return whether it was created."""
        if self.get("v1", "Namespace", namespace) is not None:
            return False
        self.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
        return True

    # --- pods -----------------------------------------------------------------------------------

    def pods(self, namespace: str, selector: Mapping[str, str]) -> list[dict[str, Any]]:
        """The pods matching ``selector``, oldest first."""
        pods = self.list_objects("v1", "Pod", namespace, selector)
        return sorted(pods, key=lambda p: (p.get("metadata") or {}).get("creationTimestamp") or "")

    def pod_logs(self, namespace: str, pod: str, *, tail: int | None = None, previous: bool = False,
                 since_seconds: int | None = None, timestamps: bool = False) -> str:
        """A pod's log (of its container's previous run with ``previous``); empty when there is none yet."""
        kubernetes = _sdk()
        core = kubernetes.client.CoreV1Api(self.api_client)
        kwargs: dict[str, Any] = {"previous": previous, "timestamps": timestamps}
        if tail is not None:
            kwargs["tail_lines"] = tail
        if since_seconds is not None:
            kwargs["since_seconds"] = since_seconds
        with self._calls(f"reading the log of pod {pod}", missing_ok=True, bad_request_ok=True) as call:
            call.result = str(core.read_namespaced_pod_log(pod, namespace, _request_timeout=REQUEST_TIMEOUT_S, **kwargs))
        return call.result or ""

    def events(self, namespace: str, name: str) -> list[dict[str, Any]]:
        """The events about object ``name`` (a pod), oldest first."""
        events = self._resource("v1", "Event")
        with self._calls(f"reading events of {name}"):
            answer = events.get(namespace=namespace, field_selector=f"involvedObject.name={name}",
                                _request_timeout=REQUEST_TIMEOUT_S)
        items = list(_plain(answer).get("items") or [])
        return sorted(items, key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")

    def nodes(self) -> list[dict[str, Any]]:
        """The cluster's nodes."""
        return self.list_objects("v1", "Node", None, {})

    def port_forward(self, namespace: str, pod: str, port: int) -> Any:
        """A socket-like object connected to ``port`` of ``pod`` (through the API server); close it when done."""
        from kubernetes.stream import portforward

        with self._stream_lock, self._calls(f"forwarding to pod {pod}"):
            core = self._stream_core()
            forward = portforward(core.connect_get_namespaced_pod_portforward, pod, namespace, ports=str(port))
        return forward.socket(port)

    def pod_exec(self, namespace: str, pod: str, command: list[str], timeout_s: float = REQUEST_TIMEOUT_S) -> str:
        """Run ``command`` in ``pod``'s (first) container through the API server; return its standard output.

        Raises
        ------
        KubernetesError
            The command exits with a failure (its standard error is in the message), or the call fails.
        """
        from kubernetes.stream import stream

        with self._stream_lock, self._calls(f"running a command in pod {pod}"):
            core = self._stream_core()
            answer = stream(core.connect_get_namespaced_pod_exec, pod, namespace, command=command,
                            stdin=False, stdout=True, stderr=True, tty=False, _preload_content=False)
        try:
            answer.run_forever(timeout=timeout_s)
            out, err, code = answer.read_stdout(), answer.read_stderr(), answer.returncode
        finally:
            answer.close()
            socket = getattr(answer, "sock", None)
            if socket is not None:
                socket.shutdown()  # close() leaves the TLS socket open once the server closed the stream
        if code not in (0, None):
            raise KubernetesError(f"{command[0]} in pod {pod} exited with code {code}: {err.strip()[-500:]}")
        return str(out)

    # --- plumbing -------------------------------------------------------------------------------

    def _stream_core(self) -> Any:
        """The CoreV1Api of the streams' own ApiClient (call with ``_stream_lock`` held).

        The client's stream helpers swap their ApiClient's ``call_api`` while they connect: on
        the shared one, a call from another thread at that moment would go astray.
        """
        kubernetes = _sdk()
        if self._stream_client is None:
            self._stream_client = kubernetes.client.ApiClient(self.api_client.configuration)
        return kubernetes.client.CoreV1Api(self._stream_client)

    def _resource(self, api_version: str, kind: str) -> Any:
        kubernetes = _sdk()
        from kubernetes.dynamic.exceptions import ResourceNotFoundError

        with self._calls("reading the cluster's API list"):
            if self._dynamic is None:
                self._dynamic = kubernetes.dynamic.DynamicClient(self.api_client)
            try:
                return self._dynamic.resources.get(api_version=api_version, kind=kind)
            except ResourceNotFoundError as err:
                raise KubernetesError(
                    f"the cluster at {self.server} has no {kind} in {api_version}"
                    + (" (is KServe installed? deploy with kserve=False otherwise)" if "kserve" in api_version else "")
                    + "."
                ) from err

    @contextmanager
    def _calls(self, what: str, *, missing_ok: bool = False, bad_request_ok: bool = False) -> Iterator[_Call]:
        """Map the client's exceptions to ours for one call (``with cluster._calls("doing x") as call:``).

        With ``missing_ok`` a 404 (and with ``bad_request_ok`` a 400) ends the block quietly,
        leaving ``call.result`` as it was (``None``): the caller's "not there" answer.
        """
        call = _Call()
        try:
            yield call
        except KubernetesError:
            raise
        except Exception as err:
            status = getattr(err, "status", None)
            if not (isinstance(status, int) and hasattr(err, "body")):
                if _is_unreachable(err):
                    first = str(err).splitlines()[0] if str(err) else ""
                    raise KubernetesUnavailableError(
                        f"the Kubernetes API server at {self.server} does not answer ({type(err).__name__}: {first}); "
                        f"start the cluster, check your kubeconfig's context, or {_RENDER_HINT}."
                    ) from err
                raise
            if (status == 404 and missing_ok) or (status == 400 and bad_request_ok):
                return
            hint = {
                401: "; your kubeconfig's credentials were refused (log in again: az aks get-credentials, ...)",
                403: "; your kubeconfig's user may not do this (ask for a Role that allows it)",
                409: "; another change came in between: try again",
                422: "; the cluster refused the object: fix the setting named above",
            }.get(status, "")
            raise KubernetesError(f"{what} failed: {_api_message(err)} (HTTP {status}){hint}.") from err


@dataclass
class _Call:
    """What one call inside :meth:`Cluster._calls` produced."""

    result: Any = None


def _api_message(err: Any) -> str:
    try:
        body = json.loads(err.body or "{}")
        return str(body.get("message") or err.reason)
    except (ValueError, TypeError, AttributeError):
        return str(getattr(err, "reason", "") or err)


def _is_unreachable(err: BaseException) -> bool:
    import urllib3

    return isinstance(err, (urllib3.exceptions.HTTPError, ConnectionError, TimeoutError, OSError))


def _plain(answer: Any) -> Any:
    """A dynamic-client answer (``ResourceInstance``) as plain dicts and lists."""
    if answer is None:
        return None
    if hasattr(answer, "to_dict"):
        return answer.to_dict()
    if isinstance(answer, (dict, list)):
        return answer
    return json.loads(str(answer))
