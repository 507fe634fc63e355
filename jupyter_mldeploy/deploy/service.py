"""The one ``Webservice`` interface that every deployment target implements.

Azure ML v1 names and behaviour: ``state``, ``scoring_uri``, ``swagger_uri``,
``run``, ``get_logs``, ``wait_for_deployment``, ``update``, ``reload``,
``delete``, ``get_keys`` / ``regen_key``, ``Webservice(name)`` and
``Webservice.list()``. A target (the local process, Docker) subclasses
:class:`Webservice` and implements the ``_target_*`` hooks; everything users
see is defined once, here.

Deployments run in a background thread so that ``Model.deploy`` returns at
once (as in Azure) and ``wait_for_deployment(show_output=True)`` or a notebook
panel can show the phases as they happen.
"""

from __future__ import annotations

import builtins
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, ClassVar

from ..client.client import ScoringClient
from ..errors import (
    DeploymentError,
    DeploymentTimeoutError,
    InvalidArgumentError,
    ScoringRequestError,
    ServiceExistsError,
    ServiceNotFoundError,
)
from ..scoring.keys import check_auth_key
from . import pipeline
from . import records as _state
from .captured import CapturedData
from .config import DeploymentConfiguration
from .debugger import debug_run
from .progress import DeploymentProgress, follow
from .records import ServiceRecord, new_key
from .service_facts import ServiceFacts


class WebserviceState:
    """The states a service can be in (Azure ML's names)."""

    TRANSITIONING = "Transitioning"
    HEALTHY = "Healthy"
    UNHEALTHY = "Unhealthy"
    FAILED = "Failed"
    DELETED = "Deleted"


class Webservice(ServiceFacts, CapturedData):
    """A deployed scoring service (base of every target).

    ``Webservice(name)`` (or Azure's ``Webservice(workspace, name)``) finds a
    deployed service again, after a kernel or process restart too, and returns
    the object of its target class.

    Examples
    --------
    >>> service = Webservice("diabetes")          # doctest: +SKIP
    >>> service.state, service.scoring_uri        # doctest: +SKIP
    ('Healthy', 'http://127.0.0.1:6789/score')
    >>> service.run({"data": [[0.1] * 10]})       # doctest: +SKIP
    [151.2]
    """

    compute_type: ClassVar[str] = ""
    _targets: ClassVar[dict[str, type[Webservice]]] = {}

    _record: ServiceRecord
    progress: DeploymentProgress | None
    _operation: threading.Thread | None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.compute_type:
            Webservice._targets[cls.compute_type] = cls

    def __new__(cls, *args: Any, **kwargs: Any) -> Webservice:  # noqa: PYI034 - returns the target's class
        if cls is Webservice:
            name = _name_from_args(args, kwargs)
            record = _load_record(name)
            target = Webservice._targets.get(record.compute_type)
            if target is None:
                raise DeploymentError(
                    f"service {name!r} was deployed with target {record.compute_type!r}, which this "
                    "version of jupyter-mldeploy does not know. Upgrade jupyter-mldeploy."
                )
            return super().__new__(target)
        return super().__new__(cls)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if getattr(self, "_record", None) is not None:
            return
        name = _name_from_args(args, kwargs)
        record = _load_record(name)
        if self.compute_type and record.compute_type != self.compute_type:
            raise InvalidArgumentError(
                f"service {name!r} is a {record.compute_type!r} service, not {self.compute_type!r}: "
                f"use Webservice({name!r}) to get it whatever its target."
            )
        self._attach(record)

    @classmethod
    def _from_record(cls, record: ServiceRecord) -> Webservice:
        target = Webservice._targets[record.compute_type]
        obj = object.__new__(target)
        obj._attach(record)
        return obj

    @classmethod
    def _create(cls, name: str, config: DeploymentConfiguration) -> Webservice:
        """Write the new service's record (with keys when auth is on) and return its object.

        Under the service lock the name is checked again: of two deploys of one name
        racing, the second gets :class:`ServiceExistsError` instead of orphaning the first.
        """
        record = ServiceRecord(name=name, compute_type=cls.compute_type, config=config.to_dict())
        if config.auth_enabled:
            record.auth_keys = [new_key(), new_key()]
        with _state.service_lock(name):
            if name in _state.names():
                raise ServiceExistsError(
                    f"a service named {name!r} was just deployed by another process; pass "
                    "overwrite=True (--overwrite in the CLI and %deploy_local) to replace it, or choose another name."
                )
            _state.save(record)
        return Webservice._from_record(record)

    @classmethod
    def _deploy(
        cls,
        name: str,
        models: Sequence[Any],
        inference_config: Any,
        config: DeploymentConfiguration,
        note: str = "",
    ) -> Webservice:
        """Record a new service of this target and start deploying it in the background.

        ``note`` (e.g. why this target was chosen) is logged first. The target's
        :meth:`_full_deploy` runs the phases.
        """
        service = cls._create(name, config)
        service._start_operation(lambda p: pipeline.deploy(service, p, models, inference_config, config, note))
        return service

    def _attach(self, record: ServiceRecord) -> None:
        self._record = record
        self.progress = None
        self._operation = None
        self._deleted = False

    # --- discovery ------------------------------------------------------------------------

    @staticmethod
    def list(workspace: object = None, compute_type: str | None = None, **_: Any) -> builtins.list[Webservice]:
        """All deployed services (optionally of one ``compute_type``: ``"process"`` or ``"docker"``)."""
        services = []
        for name in _state.names():
            try:
                record = _state.load(name)
            except ServiceNotFoundError:
                continue  # deleted meanwhile
            if compute_type and record.compute_type != compute_type.lower():
                continue
            if record.compute_type in Webservice._targets:
                services.append(Webservice._from_record(record))
        known = {s.name for s in services} | set(_state.names())
        for target in list(Webservice._targets.values()):
            if compute_type and target.compute_type != compute_type.lower():
                continue
            for record in target._discover():
                if record.name not in known:
                    _state.save(record)  # found from its container's labels: remember it again
                    known.add(record.name)
                    services.append(Webservice._from_record(record))
        return sorted(services, key=lambda s: s.name)

    # --- description (the rest: service_facts.ServiceFacts) ----------------------------------

    @property
    def state(self) -> str:
        """The true state now: ``Transitioning``, ``Healthy``, ``Unhealthy``, ``Failed`` or ``Deleted``."""
        if self._deleted:
            return WebserviceState.DELETED
        if self._operation is not None and self._operation.is_alive():
            return WebserviceState.TRANSITIONING
        if not self._refresh_record():
            return WebserviceState.DELETED
        return self._target_state()

    def _refresh_record(self) -> bool:
        """Re-read the service's record, which another object or process may have changed.

        Another kernel, the CLI or another object may deploy, reload or delete the service
        meanwhile: this object then sees the new process, port and error. Returns False
        when the service is gone (no record, and its target no longer finds it).
        """
        try:
            self._record = _state.load(self.name)
        except ServiceNotFoundError:
            return bool(self._discover(self.name))
        return True

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description (state probed now)."""
        return {
            "name": self.name,
            "compute_type": self.compute_type,
            "state": self.state,
            "scoring_uri": self.scoring_uri,
            "swagger_uri": self.swagger_uri,
            "port": self.port,
            "models": self.models,
            "auth_enabled": self.auth_enabled,
            "debug": self.debug_tracebacks,
            "debugger": self.debugger,
            "created_time": self.created_time,
            "updated_time": self._record.updated_time,
            "error": self.error,
        }

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(name={self.name!r}, state={self.state!r}, "
            f"scoring_uri={self.scoring_uri!r}, models={self.models!r})"
        )

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        """Readable lines in a terminal; the DeploymentPanel in a Jupyter kernel."""
        from ..display import mimebundle
        from .describe import service_text

        return mimebundle(self, "service", service_text, include, exclude)

    # --- using it -------------------------------------------------------------------------

    def run(self, input_data: Any) -> Any:
        """Score ``input_data`` (a JSON string, bytes, or a JSON-able object) and return the parsed answer.

        The body goes with ``Content-Type: application/json`` whatever its type, as Azure ML v1's
        ``Webservice.run`` sent it (v1 code passes ``bytes(json.dumps(...), encoding="utf-8")``).

        Raises
        ------
        ScoringRequestError
            The service answered with an error status; ``status`` and ``body`` hold the answer.
        """
        self._require_port("run")
        key = self._record.auth_keys[0] if self._record.auth_keys else None
        # wait as long as the server lets run() take, plus a margin (its 504 then says why)
        timeout_s = int(self._record.config.get("timeout_ms", 60_000)) / 1000 + 10
        with ScoringClient(str(self._base_url), auth_key=key, timeout=timeout_s) as client:
            return client.score(input_data, headers={"Content-Type": "application/json"})

    def get_logs(self, num_lines: int = 5000) -> str:
        """The last ``num_lines`` lines of the scoring server's log."""
        return self._target_logs(num_lines)

    def iter_logs(self, tail: int = 100, follow: bool = False, poll_s: float = 0.2) -> Iterator[str]:
        """Yield the last ``tail`` log lines, then (with ``follow``) new lines as they are written.

        With ``follow`` the iterator ends when the service is deleted; stop it earlier by
        leaving the loop (or Ctrl-C).
        """
        yield from self._target_logs(tail).splitlines()
        if not follow:
            return
        yield from self._target_follow(poll_s)

    def get_keys(self) -> tuple[str, str]:
        """The primary and secondary auth keys.

        Raises
        ------
        InvalidArgumentError
            Auth is off for this service.
        """
        if not self._record.auth_keys:
            if self._record.config.get("auth_enabled"):
                raise InvalidArgumentError(
                    f"the keys of service {self.name!r} were not kept (it was found again from its container, "
                    "which never shows them): call service.regen_key('Primary') to make new ones."
                )
            raise InvalidArgumentError(
                f"service {self.name!r} has no keys: auth is off. Deploy or update it with "
                "deploy_configuration(auth_enabled=True) to require keys."
            )
        primary, secondary = (self._record.auth_keys + ["", ""])[:2]
        return primary, secondary

    def regen_key(self, key: str, set_key: str | None = None) -> None:
        """Replace the ``"Primary"`` or ``"Secondary"`` key (with ``set_key`` or a new random one).

        The server restarts with the new keys; the old key stops working.
        """
        which = {"primary": 0, "secondary": 1}.get(str(key).lower())
        if which is None:
            raise InvalidArgumentError(f"key must be 'Primary' or 'Secondary', got {key!r}.")
        if not self._record.auth_keys and self._record.config.get("auth_enabled"):
            keys = [new_key(), new_key()]  # lost with its record: both are made again
        else:
            keys = list(self.get_keys())
        keys[which] = check_auth_key(set_key) if set_key is not None else new_key()
        self._record.auth_keys = keys
        _state.save(self._record)
        self._check_alive("regen_key")
        self._start_operation(lambda p: pipeline.restart(self, p, f"new {str(key).lower()} key"))
        self.wait_for_deployment()

    # --- waiting ----------------------------------------------------------------------------

    def wait_for_deployment(self, show_output: bool = False, timeout_sec: float = 600) -> None:
        """Wait until the service is Healthy; raise :class:`DeploymentError` (with the cause) if it fails.

        With ``show_output=True`` the phases, their timings and the build output
        are printed as they happen. A failing ``init()`` raises at once with its
        traceback and the last log lines.
        """
        deadline = time.monotonic() + timeout_sec
        op, progress = self._operation, self.progress
        if op is not None and progress is not None:
            # raises the operation's own error: ModelPathError, PortInUseError, DeploymentError, ...
            if not follow(op, progress, show_output=show_output, timeout_sec=timeout_sec, what=f"deploying {self.name!r}"):
                raise DeploymentTimeoutError(
                    f"service {self.name!r} was not deployed within {timeout_sec:g}s (phases so far: "
                    f"{progress.summary()}). Wait longer, or look at service.get_logs()."
                )
            if show_output:
                print(f"{self.name}: {self.state} at {self.scoring_uri} ({progress.summary()})")
            return
        # no operation of ours under way (a service found again): poll its true state
        while True:
            state = self.state
            if state == WebserviceState.HEALTHY:
                return
            if state in (WebserviceState.FAILED, WebserviceState.DELETED):
                raise DeploymentError(
                    f"service {self.name!r} is {state}: {self.error or 'see the logs'}\n"
                    f"Last log lines:\n{self.get_logs(30)}",
                    logs=self.get_logs(200),
                )
            if time.monotonic() >= deadline:
                raise DeploymentTimeoutError(
                    f"service {self.name!r} is still {state} after {timeout_sec:g}s; look at service.get_logs()."
                )
            time.sleep(0.1)

    # --- changing it ----------------------------------------------------------------------

    def update(
        self,
        models: Sequence[Any] | None = None,
        inference_config: Any = None,
        deployment_config: DeploymentConfiguration | None = None,
        *,
        wait: bool = True,
        **_: Any,
    ) -> None:
        """Change models, code/environment or settings, redoing only the phases that need it.

        Editing ``score.py`` or source files needs no rebuild and no restart: ``update(inference_config=...)``
        or :meth:`reload` swaps the new code into the running server, which keeps serving the old
        version until every worker's new ``init()`` succeeded (a failing one raises
        :class:`~jupyter_mldeploy.errors.InitError` and the old version keeps serving). New
        models, another environment or other settings restart it (and rebuild what needs it).
        """
        self._check_alive("update")
        self._start_operation(lambda p: pipeline.update(self, p, models, inference_config, deployment_config))
        if wait:
            self.wait_for_deployment()

    def reload(self, wait: bool = True) -> None:
        """Serve the current code: swapped into the running server (re-running ``init()``), or a restart if it is down."""
        self._check_alive("reload")
        self._start_operation(lambda p: pipeline.reload(self, p))
        if wait:
            self.wait_for_deployment()

    def debug(
        self, enable: bool = True, *, wait_for_client: bool = False, port: int | None = None, wait: bool = True,
        show: bool = True,
    ) -> dict[str, Any] | None:
        """Restart the service with debugpy listening on ``127.0.0.1`` (``enable=False``: without); return the
        VS Code ``launch.json`` "attach" entry (also printed with ``show``).

        Breakpoints in ``score.py`` then stop a ``/score`` request. The server runs one worker
        meanwhile; with ``wait_for_client=True`` it waits for the debugger before loading the
        script (breakpoints in ``init()`` stop too), so the service is ready only once one attached.
        """
        self._check_alive("debug")
        return debug_run(self, enable, wait_for_client=wait_for_client, port=port, wait=wait, show=show)

    def delete(self, delete_image: bool = False) -> None:
        """Stop the service and remove it (frees its port; with ``delete_image`` also its image)."""
        if self._deleted:
            return
        if self._operation is not None and self._operation.is_alive():
            self._operation.join(timeout=600)
        with _state.service_lock(self.name):
            try:
                self._record = _state.load(self.name)
            except ServiceNotFoundError:
                pass  # removed meanwhile; still stop what this object knows of
            self._target_delete(delete_image)
            _state.remove(self.name)
        self._deleted = True

    def _ready_state(self) -> str:
        """The state ``/ready`` reports for a server whose process or container runs."""
        try:
            with ScoringClient(str(self._base_url), timeout=2.0) as client:
                answer = client.request("GET", "/ready", auth=False)
        except ScoringRequestError:
            return WebserviceState.UNHEALTHY
        if answer.status == 200:
            return WebserviceState.HEALTHY
        if (answer.error or {}).get("code") == "InitFailed":
            return WebserviceState.FAILED
        return WebserviceState.TRANSITIONING if answer.status == 503 else WebserviceState.UNHEALTHY


    # --- helpers --------------------------------------------------------------------------

    def _start_operation(self, work: Callable[[DeploymentProgress], None]) -> None:
        """Run ``work(progress)`` in a background thread, recording its failure on the service."""
        if self._operation is not None and self._operation.is_alive():
            raise DeploymentError(
                f"service {self.name!r} is busy with another operation; call wait_for_deployment() first."
            )
        progress = DeploymentProgress()

        def main() -> None:
            error: BaseException | None = None
            try:
                with _state.service_lock(self.name):
                    # another object (another kernel, the CLI) may have changed the service:
                    # act on what is on disk now, not on this object's copy
                    self._record = _state.load(self.name)
                    work(progress)
                    self._record.error = None
                    self._record.phases = [p.to_dict() for p in progress.phases]
                    _state.save(self._record)
            except BaseException as err:  # noqa: BLE001 - reported through wait_for_deployment
                error = err
                self._record.error = str(err).splitlines()[0] if str(err) else type(err).__name__
                self._record.phases = [p.to_dict() for p in progress.phases]
                if _state.service_dir(self.name).exists():
                    _state.save(self._record)
            progress.finish(error)

        self.progress = progress
        self._operation = threading.Thread(target=main, name=f"mldeploy-{self.name}", daemon=True)
        self._operation.start()

    def _check_alive(self, what: str) -> None:
        if self._deleted:
            raise ServiceNotFoundError(f"service {self.name!r} was deleted; deploy it again to {what} it.")

    def _require_port(self, what: str) -> None:
        if not self._base_url:
            raise DeploymentError(
                f"service {self.name!r} has no port yet; call wait_for_deployment() before {what}()."
            )


def _name_from_args(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> str:
    """Accept ``Webservice(name)``, ``Webservice(workspace, name)`` and ``name=`` keywords."""
    if "name" in kwargs:
        name = kwargs["name"]
    else:
        strings = [a for a in args if isinstance(a, str)]
        if not strings:
            raise InvalidArgumentError("Webservice(name): give the name of a deployed service.")
        name = strings[-1]
    if not isinstance(name, str):
        raise InvalidArgumentError(f"a service name is a string, got {name!r}.")
    return name


def _load_record(name: str) -> ServiceRecord:
    """The record of service ``name``; when its file is gone, rebuilt by a target that still finds it."""
    try:
        return _state.load(name)
    except ServiceNotFoundError:
        for target in list(Webservice._targets.values()):
            for record in target._discover(name):
                if record.name == name:
                    _state.save(record)  # remember it again
                    return record
        raise
