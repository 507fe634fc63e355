"""The ``/mldeploy/api/`` routes: tornado handlers that parse, call one backend method, and answer JSON.

Every verb is ``@tornado.web.authenticated`` (Jupyter's token or login; ``APIHandler`` also
checks XSRF on POST and DELETE). Errors answer ``{"message", "reason"}``: the core's
:class:`~jupyter_mldeploy.errors.NotFoundError` family is 404, bad input
(:class:`~jupyter_mldeploy.errors.InvalidArgumentError`, entry-script and model-path
errors) 400, a name or port already taken (``ServiceExistsError``, ``PortInUseError``)
409, and anything else 500; ``reason`` is the error's class name. ``docs/jupyterlab.md``
lists each route with its parameters and answers.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

import tornado.web
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join

from ..errors import (
    EntryScriptError,
    InvalidArgumentError,
    MLDeployError,
    ModelPathError,
    NotFoundError,
    PortInUseError,
    ServiceExistsError,
)
from .backend import LabBackend
from .parse import DeployRequest, ScoreRequest, json_object, whole_number

__all__ = ["NAMESPACE", "SETTINGS_KEY", "ApiError", "setup_handlers", "status_of"]

#: Where the routes live, below the server's base URL.
NAMESPACE = "mldeploy/api"
#: The key of the :class:`LabBackend` in the tornado application's settings.
SETTINGS_KEY = "jupyter_mldeploy"
#: Longest log tail one request may ask for.
MAX_TAIL = 100_000


def status_of(err: MLDeployError) -> int:
    """The HTTP status of a core error: 404 not found, 409 taken, 400 bad input, 500 otherwise."""
    if isinstance(err, NotFoundError):
        return 404
    if isinstance(err, (ServiceExistsError, PortInUseError)):
        return 409
    if isinstance(err, (InvalidArgumentError, EntryScriptError, ModelPathError)):
        return 400
    return 500


class ApiError(tornado.web.HTTPError):
    """An error answer: ``status`` with the JSON body ``{"message", "reason"}``."""

    def __init__(self, status: int, message: str, reason: str) -> None:
        super().__init__(status)
        self.message = message
        self.error_reason = reason

    @classmethod
    def of(cls, err: MLDeployError) -> ApiError:
        """The answer for a core error (its message as it is: it says what to do next)."""
        return cls(status_of(err), str(err) or type(err).__name__, type(err).__name__)


class MLDeployHandler(APIHandler):
    """Base of every route: the backend, the one way to call it, JSON answers and errors."""

    @property
    def backend(self) -> LabBackend:
        """The extension's one :class:`LabBackend` (stored in the web app's settings at load)."""
        backend: LabBackend = self.settings[SETTINGS_KEY]
        return backend

    async def call(self, method: Any, *args: Any) -> Any:
        """Run a backend method off the event loop; a core error becomes its JSON error answer."""
        try:
            return await self.backend.call(method, *args)
        except MLDeployError as err:
            raise ApiError.of(err) from err

    def parsed(self, request_type: Any) -> Any:
        """The JSON body checked by ``request_type.from_json`` (400 naming the wrong field)."""
        try:
            return request_type.from_json(json_object(self.request.body))
        except MLDeployError as err:
            raise ApiError.of(err) from err

    def number(self, name: str, default: int, low: int, high: int) -> int:
        """A whole-number query argument (400 when it is not one in range)."""
        try:
            return whole_number(self.get_query_argument(name, None), name, default, low, high)
        except MLDeployError as err:
            raise ApiError.of(err) from err

    def answer(self, data: Any, status: int = 200) -> None:
        """Finish with ``data`` as JSON."""
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(data, default=str))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Every error as ``{"message", "reason"}``; an unexpected one is logged with its traceback."""
        exc = kwargs.get("exc_info", (None, None, None))[1]
        try:
            phrase = HTTPStatus(status_code).phrase
        except ValueError:
            phrase = "Error"
        if isinstance(exc, ApiError):
            reply = {"message": exc.message, "reason": exc.error_reason}
        elif isinstance(exc, tornado.web.HTTPError):
            reply = {"message": exc.log_message or phrase, "reason": exc.reason or phrase}
        else:
            reply = {
                "message": f"internal error in the ML Deploy server extension ({type(exc).__name__}: {exc}); "
                           "the Jupyter server's log has the traceback.",
                "reason": "InternalError",
            }
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(reply))


class VersionHandler(MLDeployHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        self.answer(await self.call(self.backend.version))


class TargetsHandler(MLDeployHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        self.answer(await self.call(self.backend.targets))


class ModelsHandler(MLDeployHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        contains, tags = self.get_query_argument("q", ""), self.get_query_argument("tags", "")
        self.answer(await self.call(self.backend.models, contains, tags))


class ModelHandler(MLDeployHandler):
    @tornado.web.authenticated
    async def get(self, name: str) -> None:
        self.answer(await self.call(self.backend.model, name))


class ModelVersionHandler(MLDeployHandler):
    @tornado.web.authenticated
    async def get(self, name: str, version: str) -> None:
        self.answer(await self.call(self.backend.model_version, name, version))


class ServicesHandler(MLDeployHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        self.answer(await self.call(self.backend.services))


class ServiceHandler(MLDeployHandler):
    @tornado.web.authenticated
    async def get(self, name: str) -> None:
        self.answer(await self.call(self.backend.service, name))

    @tornado.web.authenticated
    async def delete(self, name: str) -> None:
        self.answer(await self.call(self.backend.delete, name))


class LogsHandler(MLDeployHandler):
    @tornado.web.authenticated
    async def get(self, name: str) -> None:
        tail = self.number("tail", 100, 1, MAX_TAIL)
        self.answer(await self.call(self.backend.logs, name, tail))


class SwaggerHandler(MLDeployHandler):
    @tornado.web.authenticated
    async def get(self, name: str) -> None:
        self.answer(await self.call(self.backend.swagger, name))


class ExampleHandler(MLDeployHandler):
    @tornado.web.authenticated
    async def get(self, name: str) -> None:
        self.answer(await self.call(self.backend.example, name))


class SnippetHandler(MLDeployHandler):
    @tornado.web.authenticated
    async def get(self, name: str) -> None:
        self.answer(await self.call(self.backend.snippet, name))


class ScoreHandler(MLDeployHandler):
    @tornado.web.authenticated
    async def post(self, name: str) -> None:
        request = self.parsed(ScoreRequest)
        self.answer(await self.call(self.backend.score, name, request))


class ReloadHandler(MLDeployHandler):
    @tornado.web.authenticated
    async def post(self, name: str) -> None:
        self.answer(await self.call(self.backend.reload, name))


class DeploymentsHandler(MLDeployHandler):
    @tornado.web.authenticated
    async def post(self) -> None:
        request = self.parsed(DeployRequest)
        self.answer(await self.call(self.backend.deploy, request), status=202)


class ProgressHandler(MLDeployHandler):
    @tornado.web.authenticated
    async def get(self, name: str) -> None:
        since = self.number("since", 0, 0, 2**31)
        self.answer(await self.call(self.backend.progress, name, since))


class NoRouteHandler(MLDeployHandler):
    """Any other path under the namespace: a JSON 404 naming the routes (not Jupyter's HTML page)."""

    def _missing(self, path: str) -> None:
        raise ApiError(
            404,
            f"no route {self.request.method} /{NAMESPACE}/{path}: see docs/jupyterlab.md for the routes "
            "(version, targets, models, services, deployments).",
            "NoSuchRoute",
        )

    @tornado.web.authenticated
    def get(self, path: str) -> None:
        self._missing(path)

    @tornado.web.authenticated
    def post(self, path: str) -> None:
        self._missing(path)

    @tornado.web.authenticated
    def put(self, path: str) -> None:
        self._missing(path)

    @tornado.web.authenticated
    def patch(self, path: str) -> None:
        self._missing(path)

    @tornado.web.authenticated
    def delete(self, path: str) -> None:
        self._missing(path)


_NAME = r"(?P<name>[^/]+)"

#: (path below the namespace, handler), in matching order.
ROUTES: tuple[tuple[str, type[MLDeployHandler]], ...] = (
    ("version", VersionHandler),
    ("targets", TargetsHandler),
    ("models", ModelsHandler),
    (f"models/{_NAME}", ModelHandler),
    (f"models/{_NAME}/(?P<version>[^/]+)", ModelVersionHandler),
    ("services", ServicesHandler),
    (f"services/{_NAME}", ServiceHandler),
    (f"services/{_NAME}/logs", LogsHandler),
    (f"services/{_NAME}/swagger.json", SwaggerHandler),
    (f"services/{_NAME}/example", ExampleHandler),
    (f"services/{_NAME}/snippet", SnippetHandler),
    (f"services/{_NAME}/score", ScoreHandler),
    (f"services/{_NAME}/reload", ReloadHandler),
    ("deployments", DeploymentsHandler),
    (f"deployments/{_NAME}/progress", ProgressHandler),
    ("(?P<path>.*)", NoRouteHandler),
)


def setup_handlers(web_app: Any) -> None:
    """Add the routes to Jupyter's tornado application, under its base URL."""
    base_url = web_app.settings["base_url"]
    handlers = [(url_path_join(base_url, NAMESPACE, path), handler) for path, handler in ROUTES]
    web_app.add_handlers(".*$", handlers)
