"""``LabBackend``: the one object the server extension keeps, answering each route with one core call.

The handlers (``handlers.py``) parse a request and call one method here through
:meth:`LabBackend.call`, which runs it on the backend's own thread pool, so that a slow
registry, Docker or scoring call never blocks the Jupyter server's event loop. Each method
calls the core (``Model``, ``Webservice``, ``deploy_from_files``, ``send_request``, ...) and
returns JSON-ready data made from the core objects' ``to_dict()``.

Deployments (and reloads) started here are remembered by name: their live
:class:`~jupyter_mldeploy.deploy.progress.DeploymentProgress` answers
``GET deployments/NAME/progress``; for a service deployed elsewhere (a notebook, the CLI)
the phases saved with it are answered instead.
"""

from __future__ import annotations

import asyncio
import functools
import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypeVar

from .._version import __version__
from ..api import Model
from ..client.sending import fetch_swagger, send_request, swagger_example
from ..deploy import Webservice, choose_target, deploy_from_files, models_from_specs
from ..deploy.targets import target_names
from ..errors import InvalidArgumentError, ScoringRequestError
from ..registry.tags import parse_tag_filter
from . import views
from .config import MLDeployLabConfig
from .parse import DeployRequest, ScoreRequest
from .paths import RootPaths

__all__ = ["API_VERSION", "LABEXTENSION", "LabBackend"]

#: Bumped when a route's answer changes in a way the sidebar must know about.
API_VERSION = 1
#: The name of the JupyterLab extension (``labextension/package.json``).
LABEXTENSION = "jupyter-mldeploy"

T = TypeVar("T")


class LabBackend:
    """What the ``/mldeploy/api/`` routes do, over the core API.

    Parameters
    ----------
    root_dir
        The Jupyter server's ``root_dir``: client paths are resolved inside it, never outside.
    config
        The extension's settings (threads, timeouts).
    """

    def __init__(self, root_dir: str | Path, config: MLDeployLabConfig | None = None) -> None:
        self.config = config or MLDeployLabConfig()
        self.paths = RootPaths(root_dir)
        self.executor = ThreadPoolExecutor(self.config.workers, thread_name_prefix="mldeploy-lab")
        self._lock = threading.Lock()
        self._operations: dict[str, Webservice] = {}

    async def call(self, method: Callable[..., T], *args: Any) -> T:
        """Run ``method(*args)`` on the backend's threads and await its result (its exception, if any)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, functools.partial(method, *args))

    def close(self) -> None:
        """Stop taking work (calls under way finish)."""
        self.executor.shutdown(wait=False, cancel_futures=True)

    # --- the server ---------------------------------------------------------------------------

    def version(self) -> dict[str, Any]:
        """``GET version``: this package's version and the installed JupyterLab extension's."""
        return {"server": __version__, "frontend": installed_labextension_version(), "api": API_VERSION}

    def targets(self) -> dict[str, Any]:
        """``GET targets``: where a deployment without a chosen target runs, and why."""
        choice = choose_target()
        return {
            "default": choice.compute_type,
            "docker_available": choice.compute_type == "docker",
            "reason": choice.reason,
            "message": views.target_message(choice.compute_type, choice.reason),
            "targets": target_names(),
        }

    # --- models -------------------------------------------------------------------------------

    def models(self, contains: str = "", tags: str = "") -> dict[str, Any]:
        """``GET models?q=TEXT&tags=stage=prod,team``: models grouped by name (newest version first).

        ``q`` keeps names containing it (any case); ``tags`` is the CLI's tag filter
        (``key`` or ``key=value`` terms, comma-separated). ``total`` counts every model.
        """
        wanted = parse_tag_filter(tags)
        everything = Model.list()
        found = Model.list(tags=wanted) if wanted else everything
        needle = contains.strip().lower()
        return {
            "models": views.model_groups(m.record for m in found if needle in m.name.lower()),
            "total": len({m.name for m in everything}),
        }

    def model(self, name: str) -> dict[str, Any]:
        """``GET models/NAME``: every version of a model, newest first, with its files."""
        Model.get(name)  # the core's 404 (or 400 for a bad name) when there is no such model
        return {"name": name, "versions": [views.model_version(m.record) for m in Model.list(name=name)]}

    def model_version(self, name: str, version: str) -> dict[str, Any]:
        """``GET models/NAME/VERSION``: one version with its files."""
        if not (version.isascii() and version.isdecimal()):
            raise InvalidArgumentError(f"a model version is a whole number such as 2, got {version!r}.")
        return views.model_version(Model.get(name, int(version)).record)

    # --- services -----------------------------------------------------------------------------

    def services(self) -> dict[str, Any]:
        """``GET services``: every deployed service with its state probed now."""
        found = Webservice.list()
        with self._lock:
            live = dict(self._operations)
        return {"services": [live.get(s.name, s).to_dict() for s in found]}

    def service(self, name: str) -> dict[str, Any]:
        """``GET services/NAME``: the service, the phases of its last operation, its entry script."""
        return self._detail(self._service(name))

    def logs(self, name: str, tail: int) -> dict[str, Any]:
        """``GET services/NAME/logs?tail=N``: the last ``tail`` lines of the scoring server's log."""
        return {"name": name, "tail": tail, "text": self._service(name).get_logs(tail)}

    def swagger(self, name: str) -> dict[str, Any]:
        """``GET services/NAME/swagger.json``: the service's own ``swagger.json``."""
        return fetch_swagger(self._service(name), self.config.example_timeout)

    def example(self, name: str) -> dict[str, Any]:
        """``GET services/NAME/example``: the body the test request starts with, and where it came from."""
        service = self._service(name)
        try:
            example = swagger_example(fetch_swagger(service, self.config.example_timeout))
        except (ScoringRequestError, InvalidArgumentError) as err:
            return {"example": None, "body": views.DEFAULT_BODY, "note": f"No swagger example ({err})."}
        if example is None:
            return {"example": None, "body": views.DEFAULT_BODY,
                    "note": "The service's swagger.json has no input example (decorate run() with "
                            "inference_schema's @input_schema to get one); type the body."}
        return {"example": example, "body": json.dumps(example, indent=2),
                "note": "From the service's swagger.json."}

    def snippet(self, name: str) -> dict[str, Any]:
        """``GET services/NAME/snippet``: a notebook cell that calls the service."""
        example = self.example(name)["example"]
        return {"name": name, "code": views.code_cell(name, example)}

    def score(self, name: str, request: ScoreRequest) -> dict[str, Any]:
        """``POST services/NAME/score``: send one request; answer its status, latency, headers and body."""
        answer = send_request(self._service(name), request.encoded(), request.send_headers(),
                              method=request.method, timeout=self.config.score_timeout)
        return answer.to_dict()

    def reload(self, name: str) -> dict[str, Any]:
        """``POST services/NAME/reload``: restart the server on the current code and models; wait."""
        service = self._service(name)
        self._remember(service)  # GET deployments/NAME/progress follows the reload meanwhile
        service.reload(wait=True)
        return self._detail(service)

    def delete(self, name: str) -> dict[str, Any]:
        """``DELETE services/NAME``: stop the service and remove it."""
        self._service(name).delete()
        with self._lock:
            self._operations.pop(name, None)
        return {"deleted": name}

    # --- deployments --------------------------------------------------------------------------

    def deploy(self, request: DeployRequest) -> dict[str, Any]:
        """``POST deployments``: start a deployment (``deploy_from_files``, as ``%deploy_local``); return at once."""
        entry = self.paths.file(request.entry_script, "entry script")
        source = self.paths.folder(request.source_dir, "source folder") if request.source_dir else None
        env_file = self.paths.file(request.env_file, "environment file") if request.env_file else None
        script = str(entry)
        if source is not None:
            if not entry.is_relative_to(source):
                raise InvalidArgumentError(
                    f"entry script {request.entry_script!r} is not inside the source folder "
                    f"{request.source_dir!r}: pick a script in that folder, or leave the folder blank."
                )
            script = entry.relative_to(source).as_posix()
        service = deploy_from_files(
            request.name, models_from_specs(request.models, local_paths=False), script,
            source_dir=str(source) if source is not None else None,
            env_file=str(env_file) if env_file is not None else None,
            target=request.target, port=request.port, auth_enabled=request.auth_enabled,
            overwrite=request.overwrite,
        )
        self._remember(service)
        return {"service": service.to_dict(), "progress": f"deployments/{service.name}/progress"}

    def progress(self, name: str, since: int) -> dict[str, Any]:
        """``GET deployments/NAME/progress?since=N``: phases, events from number ``since`` on, and the outcome."""
        with self._lock:
            service = self._operations.get(name)
        progress = service.progress if service is not None else None
        if service is None or progress is None:
            found = Webservice(name)  # 404 when there is no such service
            return {"name": name, "live": False, "done": True, "ok": found.error is None,
                    "error": found.error, "state": found.state, "phases": found.phases,
                    "events": [], "next": since}
        events = progress.events_since(since)[: self.config.max_events]
        done, error = progress.done, progress.error
        return {
            "name": name,
            "live": True,
            "done": done,
            "ok": (error is None) if done else None,
            "error": (str(error) or type(error).__name__) if error is not None else None,
            "state": service.state,
            "phases": [phase.to_dict() for phase in list(progress.phases)],
            "events": [asdict(event) for event in events],
            "next": since + len(events),
        }

    # --- helpers ------------------------------------------------------------------------------

    def _service(self, name: str) -> Webservice:
        """The service ``name``: the object of an operation started here (it knows its progress), else found again."""
        with self._lock:
            service = self._operations.get(name)
        if service is not None and service.state != "Deleted":
            return service
        return Webservice(name)

    def _remember(self, service: Webservice) -> None:
        with self._lock:
            self._operations[service.name] = service

    def _detail(self, service: Webservice) -> dict[str, Any]:
        return {**service.to_dict(), "phases": service.phases,
                "entry_script": self.paths.show(service.entry_script_path)}


def installed_labextension_version() -> str | None:
    """The version of the ``jupyter-mldeploy`` JupyterLab extension JupyterLab would load, if installed."""
    from jupyter_core.paths import jupyter_path

    for folder in jupyter_path("labextensions"):
        manifest = Path(folder) / LABEXTENSION / "package.json"
        try:
            return str(json.loads(manifest.read_text(encoding="utf-8"))["version"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return None
