"""Load an Azure ML v1 entry script (``init()``/``run()``) and inspect its ``run()`` once.

:func:`load_entry_script` imports the script as a fresh module; :class:`EntryScript`
inspects ``run()`` once (``request_headers``? ``@rawhttp``? inference_schema
decorators? declared Content-Types?), calls ``init()``, and describes the
service in ``swagger.json``. Running a request through the script
(:meth:`EntryScript.handle`) is :mod:`.handling`'s job, which ``EntryScript``
inherits: :class:`~jupyter_mldeploy.scoring.contract.ScoringRequest` in,
:class:`~jupyter_mldeploy.scoring.contract.ScoringResponse` out.

Examples
--------
>>> from jupyter_mldeploy.scoring.entry_script import load_entry_script     # doctest: +SKIP
>>> from jupyter_mldeploy.scoring.contract import ScoringRequest              # doctest: +SKIP
>>> script = load_entry_script("score.py")                                  # doctest: +SKIP
>>> script.init()                                                           # doctest: +SKIP
>>> req = ScoringRequest("POST", "/score", "", [("content-type", "application/json")], b'{"data": [[1, 2]]}', "r1")
>>> script.handle(req).body                                                 # doctest: +SKIP
b'{"predictions": [5.0]}'
"""

from __future__ import annotations

import importlib.util
import inspect
import itertools
import json
import os
import re
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from ..errors import (
    EntryScriptError,
    EntryScriptLoadError,
    InitError,
)
from . import azureml_shim, fresh_source
from .aml import is_rawhttp
from .batching import BATCH_SETTING, BatchOptions, batch_options
from .fresh_source import FreshSourceLoader
from .handling import ScriptHandler
from .schema import inspect_run_schema
from .swagger import build_swagger, normalize_version, read_user_swagger
from .tracebacks import describe_error, format_user_traceback, user_location

__all__ = ["CONTENT_TYPES_ATTR", "EntryScript", "load_entry_script"]

#: Optional module attribute of a script: the Content-Types its ``run()`` accepts for POST bodies.
CONTENT_TYPES_ATTR = "CONTENT_TYPES"

#: Methods ``/score`` passes to a ``@rawhttp`` script (azmlinfsrv: GET and POST only).
RAWHTTP_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
DEFAULT_METHODS = frozenset({"GET", "POST"})

_module_counter = itertools.count(1)
_load_lock = threading.Lock()
# Real Azure modules whose @rawhttp sets a process-wide flag instead of marking the function.
_REAL_RAWHTTP_MODULES = ("azureml.contrib.services.aml_request", "azureml_inference_server_http.api.aml_request")


# --- the entry script --------------------------------------------------------------------


class EntryScript(ScriptHandler):
    """A loaded entry script: call :meth:`init` once, then :meth:`handle` for each request.

    Attributes
    ----------
    path, source_dir : Path
        The script file and the folder put first on ``sys.path``.
    module : ModuleType
        The imported script module (a unique name per load).
    is_rawhttp : bool
        ``run()`` is decorated with ``@rawhttp`` and receives an :class:`~.aml.AMLRequest`.
    has_schema : bool
        ``run()`` has inference_schema decorators; bodies are parsed into typed arguments.
    allowed_methods : frozenset[str]
        Methods ``/score`` passes to this script.
    debug : bool
        Put tracebacks into 500 answers (the default for local deployments).
    """

    def __init__(self, module: ModuleType, path: Path, source_dir: Path, *, debug: bool = False,
                 real_rawhttp: bool = False, batch: BatchOptions | None = None) -> None:
        self.module = module
        self.path = path
        self.source_dir = source_dir
        self._swagger_cache: dict[tuple[Any, ...], dict[str, Any]] = {}

        run = getattr(module, "run", None)
        driver = getattr(module, "driver_module", None)  # Azure SDK driver scripts forward to the real one
        if isinstance(driver, ModuleType) and callable(getattr(driver, "run", None)):
            run = driver.run
        if not callable(run):
            raise EntryScriptError(
                f"{path} has no run() function. Define one that takes the request data and returns the "
                "prediction, e.g.\n\ndef run(raw_data):\n    data = json.loads(raw_data)[\"data\"]\n    return model.predict(data).tolist()"
            )
        user_init = getattr(module, "init", None)
        if user_init is not None and not callable(user_init):
            raise EntryScriptError(f"{path}: init is not a function ({type(user_init).__name__}); define def init(): ...")
        self._user_init: Callable[[], Any] | None = user_init

        try:
            params = list(inspect.signature(run).parameters.values())
        except (TypeError, ValueError):
            params = [inspect.Parameter("raw_data", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
        accepts_headers = any(p.name == "request_headers" for p in params)
        data_params = [p for p in params if p.name != "request_headers" and p.kind is not p.VAR_KEYWORD]
        if not data_params:
            raise EntryScriptError(
                f"run() in {path} takes no argument for the input data; declare one, e.g. def run(raw_data): ..."
                + (" (request_headers alone is not enough)" if accepts_headers else "")
            )

        raw = is_rawhttp(run) or real_rawhttp
        schema = inspect_run_schema(run, exclude=frozenset({"request_headers"}))
        self.has_schema = schema is not None
        if raw and self.has_schema:
            raise EntryScriptError(
                f"run() in {path} is decorated with both @rawhttp and @input_schema; use one: @rawhttp to read "
                "the raw request yourself, or the schema decorators to get typed arguments."
            )
        self.allowed_methods = RAWHTTP_METHODS if raw else DEFAULT_METHODS
        if batch is not None and (raw or self.has_schema):
            raise EntryScriptError(
                f"{BATCH_SETTING} (--batch) asks to batch run() in {path}, which is "
                f"{'@rawhttp' if raw else 'schema-decorated'}: batching works on run(raw_data) scripts (a list of "
                f"request bodies in, a list of answers out); unset {BATCH_SETTING} or make run() take raw bodies."
            )
        if batch_options(run) is not None and (raw or self.has_schema):
            raise EntryScriptError(
                f"run() in {path} is @batched and {'@rawhttp' if raw else 'schema-decorated'}: @batched works on "
                "run(raw_data) scripts (a list of request bodies in, a list of answers out); drop one of them."
            )

        accept = getattr(module, CONTENT_TYPES_ATTR, None)
        if isinstance(accept, str):
            accept = [accept]
        first = data_params[0]
        super().__init__(
            run,
            schema=schema,
            is_rawhttp=raw,
            accepts_headers=accepts_headers,
            data_name=first.name,
            data_keyword=first.kind is first.KEYWORD_ONLY,
            accept=tuple(str(a).split(";", 1)[0].strip().lower() for a in accept) if accept else None,
            debug=debug,
            batch=batch,
        )

    @property
    def kind(self) -> str:
        """``"rawhttp"``, ``"schema"`` or ``"plain"``: how ``run()`` gets its input (for logs and UIs)."""
        return "rawhttp" if self.is_rawhttp else "schema" if self.has_schema else "plain"

    def __repr__(self) -> str:
        return f"<EntryScript {self.path} ({self.kind})>"

    # --- lifecycle ---------------------------------------------------------------------------

    def init(self) -> None:
        """Call the script's ``init()`` (if it has one).

        Raises
        ------
        InitError
            ``init()`` raised; ``traceback_text`` holds the traceback from the script's frames on.
        """
        if self._user_init is None:
            return
        try:
            self._user_init()
        except (Exception, SystemExit) as err:
            tb = format_user_traceback(err)
            raise InitError(
                f"init() in {self.path} failed with {describe_error(err)}{user_location(err)}. Fix the script "
                "(see the traceback) and deploy or reload again.",
                tb,
            ) from err

    # --- swagger -------------------------------------------------------------------------------

    def swagger(self, version: int | str = 2, *, service_name: str = "mldeploy", host: str | None = None,
                auth: bool = False) -> dict[str, Any]:
        """Return the ``swagger.json`` document (OpenAPI 2 for ``version=2``, 3 for ``version=3``).

        Generated from the inference_schema decorators (a minimal valid spec
        without them); a ``swagger.json``/``swagger2.json``/``swagger3.json``
        next to the script is returned instead, as azmlinfsrv does.

        Raises
        ------
        InvalidArgumentError
            Unknown version, or Swagger 2 cannot describe the schema (mixed-type arrays): ask for 3.
        """
        v = normalize_version(version)
        user = read_user_swagger(self.source_dir, v)
        if user is not None:
            return user
        key = (v, service_name, host, auth)
        doc = self._swagger_cache.get(key)
        if doc is None:
            doc = build_swagger(self.schema, v, service_name=service_name, host=host, auth=auth)
            self._swagger_cache[key] = doc
        return json.loads(json.dumps(doc))  # a copy the caller may change


# --- loading ---------------------------------------------------------------------------------


def _reset_real_rawhttp_flags() -> None:
    for name in _REAL_RAWHTTP_MODULES:
        module = sys.modules.get(name)
        if module is not None and not azureml_shim.is_shim(module) and hasattr(module, "_rawHttpRequested"):
            setattr(module, "_rawHttpRequested", False)  # noqa: B010 - third-party module global


def _real_rawhttp_requested() -> bool:
    for name in _REAL_RAWHTTP_MODULES:
        module = sys.modules.get(name)
        if module is not None and not azureml_shim.is_shim(module) and getattr(module, "_rawHttpRequested", False):
            return True
    return False


def _module_name(script: Path) -> str:
    stem = re.sub(r"\W", "_", script.stem) or "script"
    return f"mldeploy_entry_{next(_module_counter)}_{stem}"


def load_entry_script(path: str | Path, source_dir: str | Path | None = None, *, debug: bool = False,
                      batch: BatchOptions | None = None) -> EntryScript:
    """Import an entry script as a fresh module and inspect its ``run()``.

    Parameters
    ----------
    path
        The entry script (``score.py``).
    source_dir
        Folder put first on ``sys.path`` so the script can import its neighbours
        (default: the script's folder).
    debug
        Put tracebacks into 500 answers (local deployments do).
    batch
        Batch requests into one call of the (vectorised) ``run`` as ``@batched`` does, with these
        options (the ``MLDEPLOY_BATCH`` setting; wins over the decorator's).

    Raises
    ------
    EntryScriptError
        The file is missing, has no ``run()``, or ``run()`` is unusable.
    EntryScriptLoadError
        Importing the script failed (syntax error, missing package, exception);
        ``traceback_text`` holds the details.

    Examples
    --------
    >>> script = load_entry_script("tests/scoring/scripts/plain_json.py")   # doctest: +SKIP
    >>> script.init(); script.has_schema                                     # doctest: +SKIP
    False
    """
    script = Path(path).expanduser()
    if not script.is_absolute():
        script = Path.cwd() / script
    if not script.exists():
        raise EntryScriptError(
            f"Entry script not found: {script} does not exist (working folder {os.getcwd()}). "
            "Pass the path of your score.py, relative to the working folder or absolute."
        )
    if script.is_dir():
        raise EntryScriptError(
            f"{script} is a folder, not an entry script; pass the script inside it, e.g. {script / 'score.py'}."
        )
    src = Path(source_dir).expanduser() if source_dir is not None else script.parent
    if not src.is_absolute():
        src = Path.cwd() / src
    if not src.is_dir():
        raise EntryScriptError(f"source_dir {src} is not a folder; pass the folder that holds the script's code.")

    azureml_shim.install()
    with _load_lock:
        fresh_source.install(src)
        if not sys.path or sys.path[0] != str(src):
            sys.path.insert(0, str(src))
        name = _module_name(script)
        spec = importlib.util.spec_from_file_location(name, script, loader=FreshSourceLoader(name, str(script)))
        if spec is None or spec.loader is None:
            raise EntryScriptError(f"{script} cannot be imported as Python code; the entry script must be a .py file.")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        _reset_real_rawhttp_flags()
        try:
            spec.loader.exec_module(module)
        except SyntaxError as err:
            sys.modules.pop(name, None)
            where = f"line {err.lineno}" if err.filename == str(script) else f"{err.filename}, line {err.lineno}"
            code_line = f"\n    {err.text.strip()}" if err.text else ""
            raise EntryScriptLoadError(
                f"Entry script {script} has a syntax error at {where}: {err.msg}. Fix it and deploy or reload "
                f"again.{code_line}",
                format_user_traceback(err),
            ) from err
        except (Exception, SystemExit) as err:
            sys.modules.pop(name, None)
            hint = (
                " Add the missing package to the environment (requirements) or fix the import."
                if isinstance(err, ImportError)
                else " Fix the script (see the traceback) and deploy or reload again."
            )
            raise EntryScriptLoadError(
                f"Importing entry script {script} failed with {describe_error(err)}{user_location(err)}.{hint}",
                format_user_traceback(err),
            ) from err
        real_rawhttp = _real_rawhttp_requested()
    try:
        return EntryScript(module, script, src, debug=debug, real_rawhttp=real_rawhttp, batch=batch)
    except EntryScriptError:
        sys.modules.pop(name, None)
        raise
