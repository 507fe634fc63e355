"""The engine's container calls: run (127.0.0.1 only, non-root), find by labels, state, logs, remove.

A part of :class:`~jupyter_mldeploy.images.engine.DockerEngine`; the records these calls
return, and the labels they set, are in :mod:`._container_facts`.
"""

from __future__ import annotations

import contextlib
import io
import os
import tarfile
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from .._net import free_port, port_is_free
from ..errors import DeploymentError, PortInUseError, ServiceExistsError, ServiceNotFoundError
from ._builds import LABEL_MANAGED
from ._container_facts import (
    LABEL_PORT,
    LABEL_SERVICE,
    LABEL_SOURCE,
    ContainerInfo,
    ContainerState,
    RunningContainer,
)
from ._sdk import docker_sdk, engine_errors, env_dict, unavailable
from .dockerfile import CONTAINER_DATA, CONTAINER_PORT, SOURCE_ROOT, USER_UID

DEFAULT_USER = f"{USER_UID}:{USER_UID}"


class ContainerCalls:
    """Container methods of :class:`~jupyter_mldeploy.images.engine.DockerEngine`."""

    client: Any
    remove_image: Callable[[str], bool]  # from ImageCalls, the engine's other half

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
        group_add: list[str] | None = None,
        nano_cpus: int | None = None,
        pids_limit: int | None = None,
        files: Mapping[str, bytes] | None = None,
        extra_ports: Mapping[int, int] | None = None,
        data_dir: str | os.PathLike[str] | None = None,
        extra_hosts: Mapping[str, str] | None = None,
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
        group_add
            Supplementary groups of the container's user (a group that may read a mounted folder).
        mem_limit, nano_cpus, pids_limit
            Resource limits (``"2048m"``; 1e9 per CPU core; processes and threads).
        files
            ``{path in the container: bytes}`` put into it before it starts, private to ``user``
            (0400): secrets that must not show in its environment or labels.
        extra_ports
            ``{container port: host port}`` also published on 127.0.0.1 (a debug run's debugpy).
        data_dir
            A host folder mounted read-write at ``/var/lib/mldeploy``: where the server writes
            ``capture.jsonl`` and ``collected.jsonl`` for the host to read.
        extra_hosts
            ``{name: address}`` lines of the container's ``/etc/hosts`` (``"host-gateway"``:
            the host as the container reaches it, e.g. for an OTLP collector on this machine).

        Raises
        ------
        PortInUseError
            ``port`` is taken; the message names the service holding it when it is ours.
        ServiceExistsError
            A container called ``name`` exists already.
        """
        docker = docker_sdk()
        from docker.types import Mount

        all_mounts = [
            Mount(target=target, source=str(Path(host).resolve()), type="bind", read_only=True)
            for host, target in (mounts or {}).items()
        ]
        if source_dir is not None:
            all_mounts.append(
                Mount(target=SOURCE_ROOT, source=str(Path(source_dir).resolve()), type="bind", read_only=True)
            )
        if data_dir is not None:
            all_mounts.append(
                Mount(target=CONTAINER_DATA, source=str(Path(data_dir).resolve()), type="bind", read_only=False)
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
                container = self.client.containers.create(
                    image,
                    name=name,
                    ports={f"{CONTAINER_PORT}/tcp": ("127.0.0.1", host_port),
                           **{f"{c}/tcp": ("127.0.0.1", h) for c, h in (extra_ports or {}).items()}},
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
                    group_add=group_add,
                    nano_cpus=nano_cpus,
                    pids_limit=pids_limit,
                    extra_hosts=dict(extra_hosts) if extra_hosts else None,
                )
                if files:
                    _put_files(container, files, user)
                container.start()
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
            except engine_errors(docker) as err:
                raise unavailable(err) from err
            return RunningContainer(
                name=name, id=str(container.id), port=host_port, image=image, labels=all_labels
            )
        raise PortInUseError(
            f"no free port could be published after {attempts} tries ({last_error}); pass port=NUMBER"
        )


    def find_containers(self, labels: Mapping[str, str] | None = None) -> list[ContainerInfo]:
        """Return every container (running or not) carrying ``mldeploy.managed=true`` and ``labels``.

        Examples
        --------
        >>> [c.name for c in DockerEngine().find_containers({"mldeploy.service": "ridge"})]  # doctest: +SKIP
        ['mldeploy-ridge']
        """
        docker = docker_sdk()
        wanted = {LABEL_MANAGED: "true", **dict(labels or {})}
        filters = {"label": [f"{key}={value}" for key, value in wanted.items()]}
        try:
            found = self.client.containers.list(all=True, filters=filters)
        except engine_errors(docker) as err:
            raise unavailable(err) from err
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
        docker = docker_sdk()
        container = self._container(name)
        try:
            stream = container.logs(stream=True, follow=True, tail=tail, stdout=True, stderr=True)
        except engine_errors(docker) as err:
            raise unavailable(err) from err
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


    def remove(self, name: str, *, delete_image: bool = False) -> bool:
        """Remove container ``name`` (force: stops it) and, with ``delete_image``, its image.

        Returns whether a container was removed. The port is free again when this returns.
        The image is kept when another container still uses it.
        """
        docker = docker_sdk()
        container = self._container_or_none(name)
        if container is None:
            return False
        image_ref = str((container.attrs.get("Config") or {}).get("Image") or container.attrs.get("Image", ""))
        port = self._published_port(container)
        try:
            container.remove(force=True)
        except docker.errors.NotFound:
            pass
        except engine_errors(docker) as err:
            raise unavailable(err) from err
        if delete_image and image_ref:
            self.remove_image(image_ref)
        if port:
            self._wait_port_released(port)
        return True


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
        docker = docker_sdk()
        try:
            return self.client.containers.get(name)
        except docker.errors.NotFound:
            return None
        except engine_errors(docker) as err:
            raise unavailable(err) from err


    def _container(self, name: str) -> Any:
        container = self._container_or_none(name)
        if container is None:
            raise ServiceNotFoundError(
                f"no container called {name!r}; list services with find_containers() or deploy it again"
            )
        return container


    def _remove_quietly(self, name: str) -> None:
        docker = docker_sdk()
        with contextlib.suppress(docker.errors.NotFound):
            self.client.containers.get(name).remove(force=True)


    def _logs(self, container: Any, tail: int | str) -> str:
        docker = docker_sdk()
        try:
            raw = container.logs(stdout=True, stderr=True, tail=tail)
        except engine_errors(docker) as err:
            return f"(logs unavailable: {err})"
        return bytes(raw).decode("utf-8", errors="replace")


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


    def container_attrs(self, name: str) -> dict[str, Any]:
        """The engine's full description of container ``name`` (``docker inspect``).

        Raises
        ------
        ServiceNotFoundError
            No container ``name``.
        """
        return dict(self._container(name).attrs)

    def container_env(self, name: str) -> dict[str, str]:
        """The environment variables container ``name`` runs with."""
        return env_dict((self.container_attrs(name).get("Config") or {}).get("Env") or [])

    def container_image_id(self, name: str) -> str | None:
        """The id of the image container ``name`` runs (``None`` when there is no such container)."""
        container = self._container_or_none(name)
        return None if container is None else str(container.image.id)


def _is_port_conflict(err: Any) -> bool:
    text = str(getattr(err, "explanation", "") or err).lower()
    return "port is already allocated" in text or "address already in use" in text


def _put_files(container: Any, files: Mapping[str, bytes], user: str) -> None:
    """Put ``files`` into a created (not yet started) container, owned by ``user`` and readable by it alone."""
    uid, _, gid = user.partition(":")
    for path, data in files.items():
        folder, _, name = path.rpartition("/")
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as archive:
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o400
            info.uid, info.gid = int(uid or 0), int(gid or uid or 0)
            archive.addfile(info, io.BytesIO(data))
        container.put_archive(folder or "/", buffer.getvalue())
