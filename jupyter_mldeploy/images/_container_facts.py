"""What the engine reports about a container: the labels we set, and the records run/find/state hand back.

``RunningContainer`` (what :meth:`DockerEngine.run_container` started), ``ContainerInfo``
(one container found by labels) and ``ContainerState`` (status, exit code, health, last
log lines, and Azure's state name for them). The calls that make them are in
:mod:`._containers`; both are parts of :class:`~jupyter_mldeploy.images.engine.DockerEngine`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["LABEL_PORT", "LABEL_SERVICE", "LABEL_SOURCE", "ContainerInfo", "ContainerState", "RunningContainer"]

LABEL_SERVICE = "mldeploy.service"
LABEL_PORT = "mldeploy.port"
#: The host folder bind-mounted over the image's source folder (empty when none).
LABEL_SOURCE = "mldeploy.source"


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
