"""Drive the Docker engine for deployments: builds, containers, labels, state and logs.

This is the only module that imports the docker SDK (lazily, on first use).
:class:`DockerEngine` wraps it with the project's rules:

- containers publish ``127.0.0.1:PORT -> 5001`` only (a free port is picked when
  none is given), run as the non-root user ``1000:1000`` with every capability
  dropped and ``no-new-privileges``, under ``docker-init`` so signals reach the
  server and worker processes are reaped;
- everything we create carries labels (``mldeploy.managed=true``,
  ``mldeploy.service``, ``mldeploy.port``, ``mldeploy.models``,
  ``mldeploy.env-hash``) so that services are found again after a kernel restart;
- every SDK error becomes an :class:`~jupyter_mldeploy.errors.MLDeployError`
  whose message says what to do next.

Examples
--------
>>> from jupyter_mldeploy.images.engine import DockerEngine, service_labels
>>> engine = DockerEngine()                                         # doctest: +SKIP
>>> engine.ping()                                                   # doctest: +SKIP
>>> result = engine.build_image("ctx", "mldeploy/ridge:1", on_log=print)  # doctest: +SKIP
>>> running = engine.run_container(                                 # doctest: +SKIP
...     result.tag, "mldeploy-ridge", port=None,
...     labels=service_labels("ridge", models="ridge:1", env_hash="abc"))
>>> running.url                                                     # doctest: +SKIP
'http://127.0.0.1:40123'
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .._config import base_image
from ..errors import MLDeployError
from ._builds import LABEL_ENV_HASH, LABEL_MANAGED, BuildResult, ImageCalls
from ._container_facts import (
    LABEL_PORT,
    LABEL_SERVICE,
    LABEL_SOURCE,
    ContainerInfo,
    ContainerState,
    RunningContainer,
)
from ._containers import ContainerCalls
from ._push import PushResult, RegistryCalls, split_repository
from ._sdk import docker_sdk, docker_start_fix, engine_errors, unavailable, unix_socket_path

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = [
    "LABEL_ENV_HASH", "LABEL_HOME", "LABEL_MANAGED", "LABEL_MODELS", "LABEL_PORT", "LABEL_SERVICE", "LABEL_SOURCE",
    "BuildResult", "ContainerInfo", "ContainerState", "DockerEngine", "PushResult", "RunningContainer", "container_name",
    "docker_start_fix", "engine_status", "service_labels", "shared_engine", "split_repository",
]

LABEL_MODELS = "mldeploy.models"
#: The MLDEPLOY_HOME whose service or package made an image or container.
LABEL_HOME = "mldeploy.home"
#: Seconds the engine gets to answer before ``engine_status`` says it is away.
PING_TIMEOUT_S = 3.0


def service_labels(
    service: str,
    *,
    port: int | None = None,
    models: str = "",
    env_hash: str = "",
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Return the discovery labels of one service's image or container.

    ``port`` is filled in by :meth:`DockerEngine.run_container` when it picks one.

    Examples
    --------
    >>> service_labels("ridge", port=6789, models="ridge:1", env_hash="abc")["mldeploy.port"]
    '6789'
    """
    labels = {LABEL_MANAGED: "true", LABEL_SERVICE: service, LABEL_MODELS: models, LABEL_ENV_HASH: env_hash}
    if port is not None:
        labels[LABEL_PORT] = str(port)
    labels.update(extra or {})
    return labels


def container_name(service: str) -> str:
    """Return the container name used for ``service`` (``mldeploy-<service>``)."""
    return f"mldeploy-{service}"



class DockerEngine(ImageCalls, ContainerCalls, RegistryCalls):
    """The Docker engine, as deployments need it (wraps the docker SDK).

    Parameters
    ----------
    client
        A ``docker.DockerClient``; by default one from the environment
        (``DOCKER_HOST`` or the local socket), created on first use.
    timeout
        Seconds an engine call may take (builds stream, so this bounds silence, not total time).
    connect_timeout
        Seconds :meth:`ping` and the first call wait for an answer: a hung daemon fails fast.

    Examples
    --------
    >>> engine = DockerEngine()               # doctest: +SKIP
    >>> engine.ping()["ApiVersion"]           # doctest: +SKIP
    '1.41'
    """

    def __init__(self, client: Any = None, *, timeout: int = 600, connect_timeout: float = 10) -> None:
        self._client = client
        self._timeout = timeout
        self._connect_timeout = connect_timeout


    @property
    def client(self) -> Any:
        """The ``docker.DockerClient`` (created on first use).

        Raises
        ------
        DockerUnavailableError
            The SDK is missing or no engine answers.
        """
        if self._client is None:
            docker = docker_sdk()
            socket_path = unix_socket_path(os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock")
            if socket_path is not None:
                # checked here: the SDK would leak the socket of its failed connection attempt
                _check_socket(socket_path, min(self._timeout, self._connect_timeout))
            try:
                # a short timeout while asking the API version: a hung daemon fails in seconds
                client = docker.from_env(timeout=min(self._timeout, self._connect_timeout))
            except engine_errors(docker) as err:
                raise unavailable(err) from err
            client.api.timeout = self._timeout
            self._client = client
        return self._client


    def ping(self) -> dict[str, Any]:
        """Check that the engine answers; return its version information.

        Raises
        ------
        DockerUnavailableError
            No engine answers; the message says how to start one.
        """
        docker = docker_sdk()
        api = self.client.api
        api.timeout, saved = min(api.timeout, self._connect_timeout), api.timeout
        try:
            api.ping()
            return dict(api.version())
        except (*engine_errors(docker), OSError) as err:  # type: ignore[misc]
            raise unavailable(err) from err
        finally:
            api.timeout = saved


    def close(self) -> None:
        """Close the SDK client (a new one is made on next use)."""
        if self._client is not None:
            self._client.close()
            self._client = None


    def __enter__(self) -> Self:
        return self


    def __exit__(self, *exc: object) -> None:
        self.close()


def _check_socket(path: str, timeout: float) -> None:
    """Raise :class:`DockerUnavailableError` unless something listens on the unix socket ``path``.

    A socket file left behind by a stopped daemon refuses connections.
    """
    if not os.path.exists(path):
        raise unavailable(FileNotFoundError(f"{path} does not exist"))
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(timeout)
        try:
            probe.connect(path)
        except OSError as err:
            raise unavailable(err) from err


_ENGINES: dict[tuple[str, float], DockerEngine] = {}


def shared_engine(connect_timeout: float = 10.0) -> DockerEngine:
    """A shared :class:`DockerEngine` (one SDK client per ``DOCKER_HOST`` and connect timeout).

    Raises
    ------
    DockerUnavailableError
        No engine answers (checked when the client is made).
    """
    key = (os.environ.get("DOCKER_HOST", ""), connect_timeout)
    engine = _ENGINES.get(key)
    if engine is None:
        engine = DockerEngine(connect_timeout=connect_timeout)
        engine.client  # noqa: B018 - connect now so a missing engine fails here
        _ENGINES[key] = engine
    return engine


def engine_status(timeout: float = PING_TIMEOUT_S) -> tuple[bool, str]:
    """Whether Docker deployments can run here now, and why (engine answers, base image present).

    Never hangs longer than about ``timeout`` seconds, even when the daemon hangs.
    """
    engine = DockerEngine(connect_timeout=timeout, timeout=int(max(timeout, 1)))
    try:
        version = engine.ping()
    except MLDeployError as err:
        return False, f"no Docker engine answers ({str(err).splitlines()[0]})"
    image = base_image()
    try:
        present = engine.image_exists(image)
    except MLDeployError as err:
        return False, f"the Docker engine did not answer in time ({err})"
    finally:
        engine.close()
    if not present:
        return False, (
            f"Docker {version.get('Version', '')} answers but the base image {image!r} is not present "
            "(set MLDEPLOY_BASE_IMAGE or pull/build it)"
        )
    return True, f"Docker {version.get('Version', '')} answers and base image {image!r} is present"

