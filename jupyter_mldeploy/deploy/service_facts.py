"""What a deployed service says about itself, read from its record: name, port, URIs, models, auth, debugger, phases.

Mixed into :class:`~jupyter_mldeploy.deploy.service.Webservice` (with the target's hooks
under it), which adds the probed ``state`` and everything that acts on the service.
"""

from __future__ import annotations

import builtins
from pathlib import Path
from typing import Any

from ..client.history import RequestHistory
from .debugger import launch_entry
from .hooks import TargetHooks
from .progress import DeploymentProgress

__all__ = ["ServiceFacts"]


class ServiceFacts(TargetHooks):
    """The read-only facts of a service (see the module docstring)."""

    #: The live progress of this object's last operation (``None`` for a service found again).
    progress: DeploymentProgress | None

    @property
    def name(self) -> str:
        """The service name."""
        return self._record.name

    @property
    def port(self) -> int | None:
        """The host port on 127.0.0.1 (``None`` until known)."""
        return self._record.port

    @property
    def scoring_uri(self) -> str | None:
        """``http://127.0.0.1:PORT/score`` (a cluster's service: its Service's address, or the port-forward's)."""
        base = self._base_url
        return f"{base}/score" if base else None

    @property
    def swagger_uri(self) -> str | None:
        """``http://127.0.0.1:PORT/swagger.json``."""
        base = self._base_url
        return f"{base}/swagger.json" if base else None

    @property
    def entry_script_path(self) -> Path:
        """The entry script the service runs, on this machine (in its source folder)."""
        return self._record.entry_script_path

    @property
    def request_history(self) -> RequestHistory:
        """Requests sent to this service from the test-request panels (kept in its folder)."""
        return RequestHistory(self._record.folder / "requests.jsonl")

    @property
    def models(self) -> builtins.list[str]:
        """Ids (``name:version``) of the deployed models."""
        return [m["id"] for m in self._record.models]

    @property
    def debug_tracebacks(self) -> bool:
        """Whether ``run()`` tracebacks go into 500 answers (on by default for local deployments)."""
        return bool(self._record.config.get("debug", True))

    @property
    def debugger(self) -> dict[str, Any] | None:
        """The VS Code ``launch.json`` entry that attaches to this service's debugpy (``None``: not a debug run)."""
        if not self._record.debug_port or not self.debuggable:
            return None
        return launch_entry(self._record, self._target_swap_target()["source_dir"])

    @property
    def auth_enabled(self) -> bool:
        """Whether ``/score`` needs a key."""
        return bool(self._record.auth_keys)

    @property
    def created_time(self) -> str:
        """When the service was first deployed (ISO 8601, UTC)."""
        return self._record.created_time

    @property
    def error(self) -> str | None:
        """Why the last operation failed, if it did."""
        return self._record.error

    @property
    def phases(self) -> builtins.list[dict[str, Any]]:
        """The phases of the last operation with their timings (``name``, ``seconds``, ``ok``, ``detail``).

        Live while an operation of this object runs; for a service found again with
        ``Webservice(name)``, the phases saved when its last operation ended.
        """
        if self.progress is not None:
            return [p.to_dict() for p in builtins.list(self.progress.phases)]
        return [dict(p) for p in self._record.phases]
