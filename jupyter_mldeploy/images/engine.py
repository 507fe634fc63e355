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

import contextlib
import os
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._config import repo_script
from .._net import free_port, port_is_free
from ..errors import (
    BaseImageMissingError,
    DeploymentError,
    DeploymentTimeoutError,
    DockerUnavailableError,
    ImageBuildError,
    PortInUseError,
    ServiceExistsError,
    ServiceNotFoundError,
)

if TYPE_CHECKING:
    from typing_extensions import Self

from .context import CONTAINER_PORT, SOURCE_ROOT, USER_UID

#: Label on everything jupyter-mldeploy creates.
LABEL_MANAGED = "mldeploy.managed"
LABEL_SERVICE = "mldeploy.service"
LABEL_PORT = "mldeploy.port"
LABEL_MODELS = "mldeploy.models"
LABEL_ENV_HASH = "mldeploy.env-hash"
#: The host folder bind-mounted over the image's source folder (empty when none).
LABEL_SOURCE = "mldeploy.source"

DEFAULT_USER = f"{USER_UID}:{USER_UID}"
_STEP_RE = re.compile(r"^Step (\d+)/(\d+) : (.*)$")


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


@dataclass(frozen=True)
class BuildResult:
    """The outcome of :meth:`DockerEngine.build_image`.

    ``cached_steps`` counts the Dockerfile steps answered from the layer cache
    (``Using cache`` in the log); ``steps`` lists each step with whether it was cached.
    """

    image_id: str
    tag: str
    seconds: float
    log: str
    steps: tuple[tuple[str, bool], ...] = ()

    @property
    def cached_steps(self) -> int:
        """How many steps came from the layer cache."""
        return sum(1 for _, cached in self.steps if cached)

    def step_cached(self, prefix: str) -> bool:
        """Whether the first step whose instruction starts with ``prefix`` came from the cache.

        Raises ``KeyError`` when no step matches (a typo in a test must not pass silently).
        """
        for instruction, cached in self.steps:
            if instruction.startswith(prefix):
                return cached
        raise KeyError(f"no build step starts with {prefix!r}")


@dataclass(frozen=True)
class RunningContainer:
    """A container :meth:`DockerEngine.run_container` started: its name, id and published port."""

    name: str
    id: str
    port: int
    image: str
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``: where the service answers on this machine."""
        return f"http://127.0.0.1:{self.port}"


@dataclass(frozen=True)
class ContainerInfo:
    """One container found by labels (:meth:`DockerEngine.find_containers`)."""

    name: str
    id: str
    status: str
    image: str
    labels: dict[str, str]
    port: int | None

    @property
    def service(self) -> str | None:
        """The ``mldeploy.service`` label, if any."""
        return self.labels.get(LABEL_SERVICE)


@dataclass(frozen=True)
class ContainerState:
    """What a container is doing: Docker's status, exit code, health and its last log lines.

    ``azure_state`` maps it onto Azure ML's webservice states
    (``Transitioning``, ``Healthy``, ``Unhealthy``, ``Failed``).
    """

    name: str
    status: str
    running: bool
    exit_code: int | None
    health: str | None
    oom_killed: bool
    error: str
    started_at: str
    finished_at: str
    logs: str

    @property
    def azure_state(self) -> str:
        """``Healthy`` / ``Unhealthy`` / ``Transitioning`` / ``Failed``, as Azure's ``Webservice.state``."""
        if self.running:
            if self.health == "unhealthy":
                return "Unhealthy"
            if self.health == "starting":
                return "Transitioning"
            return "Healthy"
        if self.status in {"created", "restarting"}:
            return "Transitioning"
        return "Failed"

    def describe(self) -> str:
        """One paragraph for error messages: state, exit code, OOM, then the last log lines."""
        parts = [f"container {self.name} is {self.status}"]
        if self.exit_code is not None and not self.running:
            parts.append(f"exit code {self.exit_code}")
        if self.oom_killed:
            parts.append("killed for using too much memory (raise the memory limit)")
        if self.health:
            parts.append(f"health {self.health}")
        if self.error:
            parts.append(f"error: {self.error}")
        text = ", ".join(parts)
        if self.logs.strip():
            text += "\nlast log lines:\n" + self.logs.rstrip()
        return text


class DockerEngine:
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

    # --- the engine ---------------------------------------------------------------------

    @property
    def client(self) -> Any:
        """The ``docker.DockerClient`` (created on first use).

        Raises
        ------
        DockerUnavailableError
            The SDK is missing or no engine answers.
        """
        if self._client is None:
            docker = _docker()
            socket_path = _unix_socket_path(os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock")
            if socket_path is not None and not os.path.exists(socket_path):
                # checked here: the SDK would leak the socket of its failed connection attempt
                raise _unavailable(FileNotFoundError(f"{socket_path} does not exist"))
            try:
                # a short timeout while asking the API version: a hung daemon fails in seconds
                client = docker.from_env(timeout=min(self._timeout, self._connect_timeout))
            except _engine_errors(docker) as err:
                raise _unavailable(err) from err
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
        docker = _docker()
        api = self.client.api
        api.timeout, saved = min(api.timeout, self._connect_timeout), api.timeout
        try:
            api.ping()
            return dict(api.version())
        except (*_engine_errors(docker), OSError) as err:  # type: ignore[misc]
            raise _unavailable(err) from err
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

    # --- images -------------------------------------------------------------------------

    def ensure_base_image(self, tag: str) -> str:
        """Return the id of base image ``tag``, present locally (never pulled: builds stay offline).

        Raises
        ------
        BaseImageMissingError
            The image is not present; the message names ``MLDEPLOY_BASE_IMAGE`` and how to get one.
        """
        docker = _docker()
        try:
            return str(self.client.images.get(tag).id)
        except docker.errors.ImageNotFound as err:
            raise BaseImageMissingError(_base_image_fix(tag)) from err
        except _engine_errors(docker) as err:
            raise _unavailable(err) from err

    def image_exists(self, tag: str) -> bool:
        """Whether image ``tag`` is present locally."""
        docker = _docker()
        try:
            self.client.images.get(tag)
        except docker.errors.ImageNotFound:
            return False
        except _engine_errors(docker) as err:
            raise _unavailable(err) from err
        return True

    def build_image(
        self,
        context_dir: str | os.PathLike[str],
        tag: str,
        *,
        labels: Mapping[str, str] | None = None,
        on_log: Callable[[str], None] | None = None,
        nocache: bool = False,
    ) -> BuildResult:
        """Build ``context_dir``'s Dockerfile as ``tag``, streaming every output line to ``on_log``.

        The base image is never pulled (``pull=False``): a missing one fails fast with
        :class:`BaseImageMissingError` instead of a network timeout.

        Raises
        ------
        ImageBuildError
            A step failed; the message names the step and its last output lines.
        BaseImageMissingError
            The Dockerfile's base image is not present.

        Examples
        --------
        >>> result = DockerEngine().build_image("ctx", "mldeploy/ridge:1", on_log=print)  # doctest: +SKIP
        >>> result.step_cached("RUN python3 -m venv")                                     # doctest: +SKIP
        True
        """
        docker = _docker()
        context = Path(context_dir)
        for base in _from_images(context / "Dockerfile"):
            self.ensure_base_image(base)
        started = time.monotonic()
        lines: list[str] = []
        steps: list[tuple[str, bool]] = []
        current = ""
        image_id = ""
        try:
            stream = self.client.api.build(
                path=str(context),
                tag=tag,
                labels=dict(labels or {}),
                rm=True,
                forcerm=True,
                pull=False,
                nocache=nocache,
                decode=True,
            )
            failure = ""
            for chunk in stream:  # read to the end even after an error: that closes the connection
                if "error" in chunk:
                    failure = str(chunk.get("errorDetail", {}).get("message") or chunk["error"])
                    continue
                text = chunk.get("stream")
                if text:
                    lines.append(text)
                    for line in text.splitlines():
                        match = _STEP_RE.match(line.strip())
                        if match:
                            current = f"Step {match[1]}/{match[2]}: {match[3]}"
                            steps.append((match[3], False))
                        elif "Using cache" in line and steps:
                            steps[-1] = (steps[-1][0], True)
                    if on_log is not None:
                        on_log(text)
                aux = chunk.get("aux")
                if isinstance(aux, dict) and aux.get("ID"):
                    image_id = str(aux["ID"])
            if failure:
                raise ImageBuildError(_build_failure(tag, current, failure, lines), logs="".join(lines))
        except _engine_errors(docker) as err:
            if isinstance(err, docker.errors.APIError) and err.status_code and err.status_code < 500:
                raise ImageBuildError(
                    _build_failure(tag, current, str(err.explanation or err), lines), logs="".join(lines)
                ) from err
            raise _unavailable(err) from err
        if not image_id:
            try:
                image_id = str(self.client.images.get(tag).id)
            except docker.errors.ImageNotFound as err:
                raise ImageBuildError(
                    _build_failure(tag, current, "the engine reported no image", lines), logs="".join(lines)
                ) from err
        return BuildResult(
            image_id=image_id,
            tag=tag,
            seconds=time.monotonic() - started,
            log="".join(lines),
            steps=tuple(steps),
        )

    def remove_image(self, tag: str) -> bool:
        """Remove image ``tag`` (not forced); return ``False`` when it is absent or still in use."""
        docker = _docker()
        try:
            self.client.images.remove(tag)
        except docker.errors.ImageNotFound:
            return False
        except docker.errors.APIError as err:
            if err.status_code == 409:  # used by another container
                return False
            raise _unavailable(err) from err
        return True

    def env_cache_images(self, env_hash: str | None = None) -> list[str]:
        """Return the ids of cached environment-stage images (all, or those of ``env_hash``).

        Multi-stage builds keep the ``env`` stage as an untagged image: it is the layer cache
        that lets the next build skip ``pip install``. Its labels say which environment it holds.
        """
        docker = _docker()
        wanted = [f"{LABEL_MANAGED}=true", "mldeploy.stage=env"]
        if env_hash is not None:
            wanted.append(f"{LABEL_ENV_HASH}={env_hash}")
        try:
            images = self.client.images.list(all=True, filters={"label": wanted})
        except _engine_errors(docker) as err:
            raise _unavailable(err) from err
        return [str(image.id) for image in images]

    def remove_env_cache(self, env_hash: str | None = None) -> int:
        """Remove cached environment-stage images (all, or ``env_hash``'s); return how many went.

        The next build of that environment reinstalls its packages.
        """
        return sum(1 for image_id in self.env_cache_images(env_hash) if self.remove_image(image_id))

    # --- containers ---------------------------------------------------------------------

    def run_container(
        self,
        image: str,
        name: str,
        *,
        port: int | None = None,
        labels: Mapping[str, str] | None = None,
        env: Mapping[str, str] | None = None,
        mounts: Mapping[str | os.PathLike[str], str] | None = None,
        source_dir: str | os.PathLike[str] | None = None,
        user: str = DEFAULT_USER,
        read_only: bool = False,
        mem_limit: str | None = None,
        command: list[str] | None = None,
    ) -> RunningContainer:
        """Start ``image`` as container ``name``, published on ``127.0.0.1:port -> 5001``.

        Parameters
        ----------
        port
            Host port on 127.0.0.1; ``None`` picks a free one.
        labels
            Discovery labels (see :func:`service_labels`); ``mldeploy.port`` is set here.
        env
            Extra environment variables (beat the image's).
        mounts
            ``{host_path: container_path}`` bind mounts, read-only.
        source_dir
            A host folder mounted read-only over the image's source folder, so code edits
            need only a restart, never a rebuild (see :meth:`recreate`).
        user
            ``uid:gid`` the server runs as (never root by default).
        read_only
            Mount the container's root filesystem read-only (``/tmp`` stays writable).
        command
            Replaces the image's ``CMD`` (e.g. the scoring server with ``--debug``).

        Raises
        ------
        PortInUseError
            ``port`` is taken; the message names the service holding it when it is ours.
        ServiceExistsError
            A container called ``name`` exists already.
        """
        docker = _docker()
        from docker.types import Mount

        all_mounts = [
            Mount(target=target, source=str(Path(host).resolve()), type="bind", read_only=True)
            for host, target in (mounts or {}).items()
        ]
        if source_dir is not None:
            all_mounts.append(
                Mount(target=SOURCE_ROOT, source=str(Path(source_dir).resolve()), type="bind", read_only=True)
            )
        if self._container_or_none(name) is not None:
            raise ServiceExistsError(
                f"a container called {name!r} exists already; delete that service first "
                f"(or `docker rm -f {name}`), or pick another name"
            )
        attempts = 1 if port is not None else 5
        last_error: BaseException | None = None
        for _ in range(attempts):
            host_port = port if port is not None else free_port()
            if port is not None:
                self._check_port(port)
            all_labels = dict(labels or {})
            all_labels.setdefault(LABEL_MANAGED, "true")
            all_labels[LABEL_PORT] = str(host_port)
            all_labels[LABEL_SOURCE] = str(Path(source_dir).resolve()) if source_dir is not None else ""
            try:
                container = self.client.containers.run(
                    image,
                    name=name,
                    detach=True,
                    ports={f"{CONTAINER_PORT}/tcp": ("127.0.0.1", host_port)},
                    labels=all_labels,
                    environment=dict(env or {}),
                    mounts=all_mounts,
                    user=user,
                    init=True,
                    cap_drop=["ALL"],
                    security_opt=["no-new-privileges"],
                    read_only=read_only,
                    tmpfs={"/tmp": "rw,size=256m"} if read_only else None,
                    mem_limit=mem_limit,
                    command=command,
                )
            except docker.errors.ImageNotFound as err:
                raise DeploymentError(
                    f"image {image!r} is not present; build it first (DockerEngine.build_image)"
                ) from err
            except docker.errors.APIError as err:
                self._remove_quietly(name)
                if _is_port_conflict(err):
                    last_error = err
                    if port is not None:
                        raise PortInUseError(self._port_message(port)) from err
                    continue  # a free port was taken in between: try another
                if err.status_code == 409:
                    raise ServiceExistsError(
                        f"a container called {name!r} exists already; delete that service first "
                        f"(or `docker rm -f {name}`), or pick another name"
                    ) from err
                raise DeploymentError(
                    f"starting container {name} from {image} failed: {err.explanation or err}; "
                    "check the image and the engine's log"
                ) from err
            except _engine_errors(docker) as err:
                raise _unavailable(err) from err
            return RunningContainer(
                name=name, id=str(container.id), port=host_port, image=image, labels=all_labels
            )
        raise PortInUseError(
            f"no free port could be published after {attempts} tries ({last_error}); pass port=NUMBER"
        )

    def recreate(
        self,
        name: str,
        *,
        image: str | None = None,
        source_dir: str | os.PathLike[str] | None = None,
        env: Mapping[str, str] | None = None,
        labels: Mapping[str, str] | None = None,
        mounts: Mapping[str | os.PathLike[str], str] | None = None,
    ) -> RunningContainer:
        """Replace container ``name`` by a new one on the same port, changing only what is given.

        This is the no-rebuild update path: a new source folder (``source_dir``), new
        environment variables, or new read-only ``mounts`` (``{host: container path}``;
        one replaces an old mount at the same container path, e.g. a models folder over
        ``/var/azureml-app/azureml-models`` with ``AZUREML_MODEL_DIR`` in ``env``) take effect
        in the time a container needs to start. Everything not given is kept.

        Raises
        ------
        ServiceNotFoundError
            No container ``name``.
        """
        docker = _docker()
        container = self._container(name)
        attrs = container.attrs
        config = attrs.get("Config") or {}
        old_labels = dict(config.get("Labels") or {})
        port = self._published_port(container)
        old_env = _env_dict(config.get("Env") or [])
        image_env = self._image_env(str(config.get("Image", "")))
        kept_env = {k: v for k, v in old_env.items() if image_env.get(k) != v}
        kept_env.update(env or {})
        kept_mounts: dict[str | os.PathLike[str], str] = {}
        old_source: str | None = None
        for mount in attrs.get("Mounts") or []:
            if mount.get("Type") != "bind":
                continue
            if mount.get("Destination") == SOURCE_ROOT:
                old_source = str(mount.get("Source"))
            else:
                kept_mounts[str(mount.get("Source"))] = str(mount.get("Destination"))
        for host, target in (mounts or {}).items():
            for old_host in [h for h, t in kept_mounts.items() if t == target]:
                del kept_mounts[old_host]
            kept_mounts[host] = target
        new_source = str(source_dir) if source_dir is not None else old_source
        host_config = attrs.get("HostConfig") or {}
        new_labels = {**old_labels, **dict(labels or {})}
        try:
            container.remove(force=True)
        except docker.errors.NotFound:
            pass
        except _engine_errors(docker) as err:
            raise _unavailable(err) from err
        self._wait_port_released(port)
        return self.run_container(
            image or str(config.get("Image")),
            name,
            port=port or None,
            labels=new_labels,
            env=kept_env,
            mounts=kept_mounts,
            source_dir=new_source,
            user=str(config.get("User") or DEFAULT_USER),
            read_only=bool(host_config.get("ReadonlyRootfs")),
            mem_limit=str(host_config["Memory"]) if host_config.get("Memory") else None,
            command=list(config["Cmd"]) if config.get("Cmd") else None,
        )

    def restart(self, name: str, *, timeout: int = 5) -> None:
        """Restart container ``name`` (stopped or running): its code is re-read from the mounted source.

        Raises
        ------
        ServiceNotFoundError
            No container ``name``.
        """
        docker = _docker()
        container = self._container(name)
        try:
            container.restart(timeout=timeout)
        except docker.errors.APIError as err:
            raise DeploymentError(
                f"restarting container {name} failed: {err}; its state:\n{self.container_state(name).describe()}"
            ) from err
        except _engine_errors(docker) as err:
            raise _unavailable(err) from err

    def find_containers(self, labels: Mapping[str, str] | None = None) -> list[ContainerInfo]:
        """Return every container (running or not) carrying ``mldeploy.managed=true`` and ``labels``.

        Examples
        --------
        >>> [c.name for c in DockerEngine().find_containers({"mldeploy.service": "ridge"})]  # doctest: +SKIP
        ['mldeploy-ridge']
        """
        docker = _docker()
        wanted = {LABEL_MANAGED: "true", **dict(labels or {})}
        filters = {"label": [f"{key}={value}" for key, value in wanted.items()]}
        try:
            found = self.client.containers.list(all=True, filters=filters)
        except _engine_errors(docker) as err:
            raise _unavailable(err) from err
        out = []
        for container in found:
            container_labels = dict(container.labels or {})
            port_text = container_labels.get(LABEL_PORT, "")
            out.append(
                ContainerInfo(
                    name=str(container.name),
                    id=str(container.id),
                    status=str(container.status),
                    image=str((container.attrs.get("Config") or {}).get("Image", "")),
                    labels=container_labels,
                    port=int(port_text) if port_text.isdigit() else None,
                )
            )
        return sorted(out, key=lambda info: info.name)

    def container_state(self, name: str, *, tail: int = 50) -> ContainerState:
        """Return what container ``name`` is doing, with its last ``tail`` log lines.

        Raises
        ------
        ServiceNotFoundError
            No container ``name``.
        """
        container = self._container(name)
        state = container.attrs.get("State") or {}
        health = state.get("Health") or {}
        running = bool(state.get("Running"))
        return ContainerState(
            name=name,
            status=str(state.get("Status", container.status)),
            running=running,
            exit_code=None if running else int(state.get("ExitCode", 0)),
            health=health.get("Status"),
            oom_killed=bool(state.get("OOMKilled")),
            error=str(state.get("Error") or ""),
            started_at=str(state.get("StartedAt", "")),
            finished_at=str(state.get("FinishedAt", "")),
            logs=self._logs(container, tail),
        )

    def logs(self, name: str, tail: int | str = 200) -> str:
        """Return the last ``tail`` lines (or ``"all"``) of container ``name``'s stdout and stderr.

        Raises
        ------
        ServiceNotFoundError
            No container ``name``.
        """
        return self._logs(self._container(name), tail)

    def follow_logs(self, name: str, *, tail: int | str = "all") -> Iterator[str]:
        """Yield container ``name``'s log lines as they come (``docker logs -f``), until it stops.

        Close the generator to stop following; the connection to the engine is closed with it.

        Raises
        ------
        ServiceNotFoundError
            No container ``name``.

        Examples
        --------
        >>> for line in DockerEngine().follow_logs("mldeploy-ridge", tail=10):  # doctest: +SKIP
        ...     print(line)
        """
        docker = _docker()
        container = self._container(name)
        try:
            stream = container.logs(stream=True, follow=True, tail=tail, stdout=True, stderr=True)
        except _engine_errors(docker) as err:
            raise _unavailable(err) from err
        buffer = b""
        try:
            for chunk in stream:
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    yield line.decode("utf-8", errors="replace")
            if buffer:
                yield buffer.decode("utf-8", errors="replace")
        finally:
            stream.close()
            # CancellableStream.close() leaves the HTTP response (and its socket file) open
            response = getattr(stream, "_response", None)
            if response is not None:
                response.close()

    def wait_ready(self, name: str, port: int, *, timeout: float = 60.0, path: str = "/ready") -> float:
        """Wait until ``http://127.0.0.1:port{path}`` answers 200; return the seconds waited.

        Raises
        ------
        DeploymentError
            The container stopped first (the message has its exit code and last logs).
        DeploymentTimeoutError
            It did not answer within ``timeout`` seconds.
        """
        import http.client

        started = time.monotonic()
        deadline = started + timeout
        checks = 0
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", path)
                response = conn.getresponse()
                status, body = response.status, response.read()
                conn.close()
                if status == 200:
                    return time.monotonic() - started
                if b"InitFailed" in body:  # the server runs but init() failed: waiting cannot help
                    state = self.container_state(name)
                    raise DeploymentError(
                        f"service container {name} started but its entry script failed to load or "
                        f"init(): {_error_message(body)}\n{state.describe()}\n"
                        "Fix the entry script, then reload() or redeploy.",
                        logs=state.logs,
                    )
            except (OSError, http.client.HTTPException):
                pass
            checks += 1
            if checks % 10 == 0 or time.monotonic() >= deadline:
                state = self.container_state(name)
                if not state.running:
                    raise DeploymentError(
                        f"service container {name} stopped before it was ready: {state.describe()}\n"
                        "Fix the entry script or environment, then redeploy (or reload()).",
                        logs=state.logs,
                    )
                if time.monotonic() >= deadline:
                    raise DeploymentTimeoutError(
                        f"service container {name} was not ready on port {port} within {timeout:.0f} s: "
                        f"{state.describe()}\nRaise the timeout if init() is slow.",
                        logs=state.logs,
                    )
            time.sleep(0.1)

    def remove(self, name: str, *, delete_image: bool = False) -> bool:
        """Remove container ``name`` (force: stops it) and, with ``delete_image``, its image.

        Returns whether a container was removed. The port is free again when this returns.
        The image is kept when another container still uses it.
        """
        docker = _docker()
        container = self._container_or_none(name)
        if container is None:
            return False
        image_ref = str((container.attrs.get("Config") or {}).get("Image") or container.attrs.get("Image", ""))
        port = self._published_port(container)
        try:
            container.remove(force=True)
        except docker.errors.NotFound:
            pass
        except _engine_errors(docker) as err:
            raise _unavailable(err) from err
        if delete_image and image_ref:
            self.remove_image(image_ref)
        if port:
            self._wait_port_released(port)
        return True

    # --- helpers ------------------------------------------------------------------------

    def port_holder(self, port: int) -> str | None:
        """Return the name of a container of ours (or any container) publishing ``port``, if any."""
        for info in self.find_containers({LABEL_PORT: str(port)}):
            if info.status in {"running", "restarting", "created"}:
                return info.labels.get(LABEL_SERVICE) or info.name
        return None

    def _check_port(self, port: int) -> None:
        holder = self.port_holder(port)
        if holder is not None or not port_is_free(port):
            raise PortInUseError(self._port_message(port, holder))

    def _port_message(self, port: int, holder: str | None = None) -> str:
        holder = holder if holder is not None else self.port_holder(port)
        if holder is not None:
            return (
                f"port {port} on 127.0.0.1 is in use by service {holder!r}; delete that service "
                "or pass another port (port=None picks a free one)"
            )
        return (
            f"port {port} on 127.0.0.1 is in use by another program (see `ss -ltnp | grep :{port}`); "
            "stop it or pass another port (port=None picks a free one)"
        )

    def _container_or_none(self, name: str) -> Any:
        docker = _docker()
        try:
            return self.client.containers.get(name)
        except docker.errors.NotFound:
            return None
        except _engine_errors(docker) as err:
            raise _unavailable(err) from err

    def _container(self, name: str) -> Any:
        container = self._container_or_none(name)
        if container is None:
            raise ServiceNotFoundError(
                f"no container called {name!r}; list services with find_containers() or deploy it again"
            )
        return container

    def _remove_quietly(self, name: str) -> None:
        docker = _docker()
        with contextlib.suppress(docker.errors.NotFound):
            self.client.containers.get(name).remove(force=True)

    def _logs(self, container: Any, tail: int | str) -> str:
        docker = _docker()
        try:
            raw = container.logs(stdout=True, stderr=True, tail=tail)
        except _engine_errors(docker) as err:
            return f"(logs unavailable: {err})"
        return bytes(raw).decode("utf-8", errors="replace")

    def _image_env(self, image: str) -> dict[str, str]:
        docker = _docker()
        try:
            attrs = self.client.images.get(image).attrs
        except _engine_errors(docker):
            return {}
        return _env_dict((attrs.get("Config") or {}).get("Env") or [])

    @staticmethod
    def _published_port(container: Any) -> int:
        bindings = ((container.attrs.get("HostConfig") or {}).get("PortBindings") or {}).get(
            f"{CONTAINER_PORT}/tcp"
        ) or []
        for binding in bindings:
            text = str(binding.get("HostPort", ""))
            if text.isdigit():
                return int(text)
        label = str((container.labels or {}).get(LABEL_PORT, ""))
        return int(label) if label.isdigit() else 0

    @staticmethod
    def _wait_port_released(port: int, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while not port_is_free(port) and time.monotonic() < deadline:
            time.sleep(0.02)


# --- module helpers ------------------------------------------------------------------------


def _docker() -> Any:
    """Import the docker SDK (only here, only when needed)."""
    try:
        import docker
        import docker.errors
    except ImportError as err:
        raise DockerUnavailableError(
            'the docker SDK is not installed; run: pip install "jupyter-mldeploy[docker]"'
        ) from err
    return docker


def _engine_errors(docker: Any) -> tuple[type[BaseException], ...]:
    """What an SDK call raises when the engine fails or goes away (caught and mapped in one place).

    The SDK's own ``DockerException`` and the transport errors it lets through when the
    daemon restarts or its socket vanishes mid-call: ``requests`` and ``urllib3`` errors,
    a refused or reset connection, a timeout. Every call site turns them into
    :class:`DockerUnavailableError` (via :func:`_unavailable`) or its own error.
    """
    import requests
    import urllib3

    return (
        docker.errors.DockerException,
        requests.exceptions.RequestException,
        urllib3.exceptions.HTTPError,
        ConnectionError,
        TimeoutError,
    )


def docker_start_fix() -> str:
    """The one step that gets a Docker engine answering on this machine."""
    script = repo_script("ensure-docker.sh")
    if script is not None:
        return f"run {script} (installs and starts a Docker engine), or start Docker yourself"
    return (
        "start Docker (Docker Desktop, or `sudo systemctl start docker`; "
        "https://docs.docker.com/engine/install/) and check DOCKER_HOST"
    )


def _unix_socket_path(host: str) -> str | None:
    """The socket file of a ``unix://`` Docker host (``None`` for TCP and SSH hosts)."""
    return host[len("unix://"):] if host.startswith("unix://") else None


def _unavailable(err: BaseException) -> DockerUnavailableError:
    host = os.environ.get("DOCKER_HOST") or "the local socket (unix:///var/run/docker.sock)"
    first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return DockerUnavailableError(f"no Docker engine answers at {host} ({first}); {docker_start_fix()}")


def _base_image_fix(tag: str) -> str:
    script = repo_script("build-base-image.sh")
    offline = (
        f"build one offline with `{script} {tag}`"
        if script is not None
        else "build or load one (`docker load`, `docker build`)"
    )
    return (
        f"base image {tag!r} is not present and builds never pull; run `docker pull {tag}`, "
        f"or {offline}, or set MLDEPLOY_BASE_IMAGE to an image you have "
        "(e.g. scripts/build-base-image.sh mldeploy/python-base:bookworm && "
        "export MLDEPLOY_BASE_IMAGE=mldeploy/python-base:bookworm)"
    )


def _from_images(dockerfile: Path) -> list[str]:
    """Return the external images a Dockerfile's ``FROM`` lines name (not earlier stages)."""
    images: list[str] = []
    stages: set[str] = set()
    try:
        text = dockerfile.read_text(encoding="utf-8")
    except OSError as err:
        raise ImageBuildError(f"cannot read {dockerfile}: {err}; write the build context first") from err
    for line in text.splitlines():
        parts = line.strip().split()
        if len(parts) >= 2 and parts[0].upper() == "FROM":
            args = [p for p in parts[1:] if not p.startswith("--")]
            image = args[0]
            if len(args) >= 3 and args[1].upper() == "AS":
                stages.add(args[2].lower())
            if image.lower() not in stages and image not in images and "$" not in image:
                images.append(image)
    return images


def _build_failure(tag: str, step: str, detail: str, lines: list[str]) -> str:
    tail = "".join(lines[-20:]).rstrip()
    where = step or "before the first step"
    return (
        f"building image {tag} failed at {where}: {detail.strip()}\n"
        f"last output:\n{tail}\n"
        "Fix that step's input (a missing wheel means the wheelhouse lacks a package for the image's "
        "Python/platform) and deploy again."
    )


def _is_port_conflict(err: Any) -> bool:
    text = str(getattr(err, "explanation", "") or err).lower()
    return "port is already allocated" in text or "address already in use" in text


def _error_message(body: bytes) -> str:
    """Return ``error.message`` of a JSON error body, or the body's start."""
    import json

    try:
        return str(json.loads(body)["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return body[:500].decode("utf-8", errors="replace")


def _env_dict(items: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, _, value = str(item).partition("=")
        out[key] = value
    return out


def iter_log_lines(text: str) -> Iterator[str]:
    """Yield the non-empty lines of a build or container log."""
    for line in text.splitlines():
        if line.strip():
            yield line
