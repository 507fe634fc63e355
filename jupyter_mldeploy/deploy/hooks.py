"""What a deployment target implements: the hooks the pipeline calls, in one place.

``Webservice`` derives from :class:`TargetHooks`; a target (``ProcessWebservice``,
``LocalWebservice``, the next one) subclasses ``Webservice`` and fills in the
``_target_*`` methods below. ``deploy/pipeline.py`` calls them in phase order
(resolve, environment, build, start, init, ready); ``Webservice`` calls the rest
(state, logs, delete). Everything else a user sees is written once, in ``service.py``.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from ..client.client import ScoringClient
from ..environment.changes import EnvChange
from ..errors import ScoringRequestError
from ..registry.layout import LaidOutModels
from ..source_copy import SourceCopy
from .config import DeploymentConfiguration
from .progress import DeploymentProgress
from .records import ServiceRecord, new_key
from .server_options import pick_server_options, takes_server_options

__all__ = ["TargetHooks"]


class TargetHooks:
    """The target's part of a ``Webservice`` (see the module docstring)."""

    #: The service's record (what is saved under ``$MLDEPLOY_HOME/services/NAME``).
    _record: ServiceRecord

    @property
    def scoring_uri(self) -> str | None:
        """``http://127.0.0.1:PORT/score`` (``Webservice`` defines it)."""
        raise NotImplementedError

    @property
    def _base_url(self) -> str | None:
        """Where the server answers from this machine (``None`` until known): ``http://127.0.0.1:PORT`` for local targets."""
        port = self._record.port
        return f"http://127.0.0.1:{port}" if port else None

    #: The configuration class of this target (what ``deploy_configuration`` returns).
    configuration_class: ClassVar[type[DeploymentConfiguration]] = DeploymentConfiguration
    #: Whether the server runs from an image this target builds (a ``build`` phase).
    builds_images: ClassVar[bool] = False
    #: Whether the source folder is copied where the server reads it (``reload`` re-copies it).
    copies_source: ClassVar[bool] = False
    #: Whether the source folder is inside the image (a code change or ``reload`` rebuilds it).
    bakes_source: ClassVar[bool] = False
    #: Whether ``debug()`` can run the server with debugpy on 127.0.0.1 (the local targets).
    debuggable: ClassVar[bool] = False

    @classmethod
    @takes_server_options
    def deploy_configuration(
        cls,
        port: int | None = None,
        auth_enabled: bool = False,
        workers: int = 1,
        timeout_ms: int = 60_000,
        debug: bool = True,
        environment_variables: dict[str, str] | None = None,
        **server_options: Any,
    ) -> DeploymentConfiguration:
        """Settings for a deployment of this target (``port=None`` picks a free port on 127.0.0.1).

        ``server_options`` are :class:`~jupyter_mldeploy.deploy.server_options.ServerOptions`'
        keywords: ``collect_model_data=True`` keeps requests and answers
        (``service.get_captured(n)``); ``tracing=True`` (or an ``otel_endpoint``) traces them
        with OpenTelemetry; ``batch="max_batch_size=32,max_latency_ms=5"`` batches concurrent
        requests into one call of a vectorised ``run``.

        Examples
        --------
        >>> from jupyter_mldeploy import LocalWebservice
        >>> LocalWebservice.deploy_configuration(port=6789).port
        6789
        """
        return cls.configuration_class(
            port=port,
            auth_enabled=auth_enabled,
            workers=workers,
            timeout_ms=timeout_ms,
            debug=debug,
            environment_variables=dict(environment_variables or {}),
            **pick_server_options(server_options, f"{cls.__name__}.deploy_configuration"),
        )

    @classmethod
    def _discover(cls, name: str | None = None) -> builtins.list[ServiceRecord]:
        """Records of services this target finds without a record file (Docker: container labels)."""
        return []

    def _target_model_dir(self, laid_out: LaidOutModels) -> str:
        """``AZUREML_MODEL_DIR`` as the server will see it."""
        raise NotImplementedError

    def _target_sync_source(self) -> SourceCopy:
        """Copy the source folder where the server reads it (if ``copies_source``) with ``source_copy.copy_source``."""
        raise NotImplementedError

    def _target_swap_ended(self, swapped: bool) -> None:
        """A code swap ended: the new version serves (``swapped``), or its ``init()`` failed and the old one does."""

    def _target_environment(self, progress: DeploymentProgress, env: Any, inference_config: Any) -> tuple[str, bool]:
        """Make the environment ready (``inference_config=None``: keep the current one); return ``(detail, changed)``."""
        raise NotImplementedError

    def _target_env_change(self, old: dict[str, Any] | None) -> tuple[EnvChange, list[str]]:
        """How the record's (new) environment differs from ``old``, the one the server runs, and the
        package folders (as the server sees them) that a swap puts on its ``sys.path``.

        By default every change restarts the server.
        """
        return EnvChange((), "the environment changed"), []

    def _target_build(self, progress: DeploymentProgress) -> str:
        """Build what the server runs (if ``builds_images``); return the phase detail."""
        raise NotImplementedError

    def _target_needs_build(self) -> bool:
        """Whether what the server runs is missing (an image removed meanwhile)."""
        return False

    def _target_start(self, port: int | None) -> str:
        """Start the server on ``port`` (``None``: a free one), replacing a running one; return the phase detail."""
        raise NotImplementedError

    def _target_swap_target(self) -> dict[str, str]:
        """The entry script, source folder and model folder as the server sees them (the body of a swap)."""
        raise NotImplementedError

    def _target_models_folder(self) -> Path:
        """Where the service's models are laid out (``NAME/VERSION/...``) for its server."""
        return self._record.folder / "azureml-models"

    def _target_exited(self) -> str | None:
        """How the server ended if it no longer runs (``None`` while it runs)."""
        raise NotImplementedError

    def _target_settled(self) -> bool:
        """Whether every replica serves the new version once ``/ready`` answers (a rollout is done).

        One server: once each of its workers has run ``init()`` (``mldeploy_workers_ready`` of
        ``/metrics``), so that a service is not Healthy at half its workers, and an edit made
        right after the deploy is not loaded by a worker that is still starting. Each look is a
        new connection, which may land on a worker whose ``init()`` failed: its ``/ready``
        raises :class:`~jupyter_mldeploy.errors.InitError` then.
        """
        workers = int(self._record.config.get("workers") or 1)
        if workers <= 1 or not self._base_url:
            return True
        key = self._record.auth_keys[0] if self._record.auth_keys else None
        with ScoringClient(str(self._base_url), auth_key=key, timeout=2.0) as probe:
            probe.wait_ready(timeout=0.0)
            try:
                answer = probe.request("GET", "/metrics")
            except ScoringRequestError:
                return False  # look again
        if answer.status != 200:
            return True  # /metrics behind another key: the first ready worker has to do
        ready = next((line.split()[-1] for line in answer.text.splitlines()
                      if line.startswith("mldeploy_workers_ready ")), None)
        return ready is None or float(ready) >= workers

    def _target_state(self) -> str:
        raise NotImplementedError

    def _target_logs(self, num_lines: int) -> str:
        raise NotImplementedError

    def _target_follow(self, poll_s: float) -> Iterator[str]:
        raise NotImplementedError

    def _target_delete(self, delete_image: bool) -> None:
        raise NotImplementedError

    def _apply_deployment_config(self, config: DeploymentConfiguration | None) -> int | None:
        """Take a new configuration into the record (keys made or dropped); return the port to use."""
        record = self._record
        if config is None:
            return record.port
        record.config = config.to_dict()
        if config.auth_enabled and not record.auth_keys:
            record.auth_keys = [new_key(), new_key()]
        elif not config.auth_enabled:
            record.auth_keys = []
        return config.port or record.port
