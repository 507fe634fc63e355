"""Service records: what a deployment is, kept on disk so services are found again after a restart.

Each service has a folder ``$MLDEPLOY_HOME/services/NAME/`` holding
``service.json`` (the :class:`ServiceRecord`, written atomically), the
server's log and, for the process target, the laid-out model folder. This
module is the only one that builds those paths.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .._config import mldeploy_home
from .._names import validate_name
from ..errors import DeploymentError, MLDeployError, ServiceNotFoundError

RECORD_FILE = "service.json"
LOG_FILE = "server.log"
EXIT_FILE = "exit-code"


def services_dir() -> Path:
    """``$MLDEPLOY_HOME/services``, created if needed."""
    path = mldeploy_home() / "services"
    path.mkdir(parents=True, exist_ok=True)
    return path


def service_dir(name: str) -> Path:
    """The folder of service ``name`` (not created)."""
    return services_dir() / validate_name(name, "service")


def now_iso() -> str:
    """The current UTC time as ISO 8601."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass
class ServiceRecord:
    """Everything needed to find, describe and restart a deployed service.

    ``compute_type`` is ``"process"``, ``"docker"`` or ``"kubernetes"``; the target-specific
    fields (``pid``/``pid_start`` for processes, ``container_id``/``image``
    for Docker, ``image`` and ``target`` for Kubernetes) are empty for the others. ``entry_script`` is relative
    to ``source_dir`` (the user's folder) on every target.
    """

    name: str
    compute_type: str
    port: int | None = None
    models: list[dict[str, Any]] = field(default_factory=list)
    entry_script: str = ""
    source_dir: str = ""
    model_dir: str = ""
    environment: dict[str, Any] | None = None
    python: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    auth_keys: list[str] = field(default_factory=list)
    #: the key of the server's POST /-/reload (code swaps): handed over like the auth keys
    control_key: str = ""
    #: debugpy's port on 127.0.0.1 while the service runs in debug mode (0: off)
    debug_port: int = 0
    #: whether a debug run waits for a debugger before loading the script
    debug_wait: bool = False
    pid: int | None = None
    pid_start: str | None = None
    container_id: str | None = None
    image: str | None = None
    created_time: str = field(default_factory=now_iso)
    updated_time: str = field(default_factory=now_iso)
    phases: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    #: what a cluster target keeps of its objects (namespace, address, revision)
    target: dict[str, Any] = field(default_factory=dict)

    @property
    def folder(self) -> Path:
        """The service's folder."""
        return service_dir(self.name)

    @property
    def entry_script_path(self) -> Path:
        """The entry script on this machine: ``entry_script`` is relative to ``source_dir``."""
        return (Path(self.source_dir) / self.entry_script).resolve() if self.source_dir else Path(self.entry_script)

    @property
    def data_path(self) -> Path:
        """The folder of the server's ``capture.jsonl`` and ``collected.jsonl``."""
        return self.folder / "data"

    @property
    def log_path(self) -> Path:
        """The server's log file."""
        return self.folder / LOG_FILE

    def to_dict(self) -> dict[str, Any]:
        """Return the record as JSON-ready data."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ServiceRecord:
        """Build a record from :meth:`to_dict` output (unknown keys from newer versions are ignored)."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@contextmanager
def service_lock(name: str) -> Iterator[None]:
    """Hold an exclusive lock on service ``name`` (deploy, update and delete take it)."""
    # named by a hash: a 255-character service name is a valid folder name but not a valid "NAME.lock"
    digest = hashlib.sha256(validate_name(name, "service").encode()).hexdigest()[:32]
    lock_path = services_dir() / f".lock-{digest}"
    with open(lock_path, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def save(record: ServiceRecord) -> None:
    """Write ``record`` atomically (a reader never sees a half-written file)."""
    folder = record.folder
    folder.mkdir(parents=True, exist_ok=True)
    record.updated_time = now_iso()
    fd, temp = tempfile.mkstemp(dir=folder, prefix=".service-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(record.to_dict(), handle, indent=2)
        os.replace(temp, folder / RECORD_FILE)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def load(name: str) -> ServiceRecord:
    """Read the record of service ``name``; :class:`ServiceNotFoundError` lists the services there are."""
    path = service_dir(name) / RECORD_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        existing = names()
        listing = ", ".join(existing[:10]) + (f" (+{len(existing) - 10} more)" if len(existing) > 10 else "")
        raise ServiceNotFoundError(
            f"no service named {name!r}. "
            + (f"Services here: {listing}." if existing else "No service is deployed yet.")
            + " Deploy one with Model.deploy(...) or 'mldeploy deploy'."
        ) from None
    except (OSError, ValueError) as err:
        raise DeploymentError(f"cannot read {path}: {err}. Delete the service folder to start over.") from err
    return ServiceRecord.from_dict(data)


def names() -> list[str]:
    """Names of all services with a record, sorted."""
    return sorted(p.parent.name for p in services_dir().glob(f"*/{RECORD_FILE}"))


def remove(name: str) -> None:
    """Remove the folder of service ``name`` (record, logs, laid-out models)."""
    shutil.rmtree(service_dir(name), ignore_errors=True)


def holder_of_port(port: int, exclude: str = "") -> str | None:
    """Name of the service of ours (any target) whose record holds ``port``, if any."""
    for name in names():
        if name == exclude:
            continue
        try:
            if load(name).port == port:
                return name
        except MLDeployError:
            continue  # deleted meanwhile, or a broken record: it holds no port
    return None


def new_key() -> str:
    """A new random auth key (URL-safe, 256 bits)."""
    return secrets.token_urlsafe(32)
