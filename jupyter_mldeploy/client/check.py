"""Check an entry script, and try it on one sample, in a fresh Python process (for ``%%score_script``).

:func:`check_entry_script` finds syntax errors, a missing or unusable
``init()``/``run()`` and bad schema decorators without running ``init()``.
:func:`try_entry_script` also lays out the models under a temporary
``AZUREML_MODEL_DIR``, runs ``init()`` and one request through ``run()`` exactly
as the scoring server would, and returns the script's output, the answer and
the times. Both work in a child process so the notebook's kernel never imports
the script (no stale modules, no ``sys.path`` changes).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import errors
from ..errors import EntryScriptError, EntryScriptLoadError, InvalidArgumentError

__all__ = ["CheckResult", "TryResult", "check_entry_script", "try_entry_script"]

# The child: load the script as the server does, optionally init() and one POST /score.
_CHILD = r"""
import inspect, json, sys, time
from jupyter_mldeploy.errors import MLDeployError
out_path, script, source_dir, sample = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
def done(**report):
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(report, f)
    sys.exit(0)
from jupyter_mldeploy.scoring.entry_script import load_entry_script
from jupyter_mldeploy.scoring.contract import ScoringRequest
try:
    loaded = load_entry_script(script, source_dir, debug=True)
except MLDeployError as err:
    done(error=type(err).__name__, message=str(err), traceback=getattr(err, "traceback_text", ""))
init = loaded._user_init
if init is not None:
    try:
        required = [p for p in inspect.signature(init).parameters.values()
                    if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    except (TypeError, ValueError):
        required = []
    if required:
        done(error="EntryScriptError", traceback="", message=(
            f"init() in {script} takes required arguments ({', '.join(p.name for p in required)}); "
            "the server calls init() with none: define def init(): ..."))
report = {"kind": loaded.kind, "has_init": init is not None}
if not sample:
    done(**report)
t0 = time.perf_counter()
try:
    loaded.init()
except MLDeployError as err:
    done(error=type(err).__name__, message=str(err), traceback=getattr(err, "traceback_text", ""))
report["init_seconds"] = time.perf_counter() - t0
request = ScoringRequest(method="POST", path="/score", query_string="",
                         headers=[("content-type", "application/json")],
                         body=sample[0].encode("utf-8"), request_id="try")
t0 = time.perf_counter()
response = loaded.handle(request)
body = response.body if isinstance(response.body, bytes) else b"".join(response.body)
report.update(run_seconds=time.perf_counter() - t0, status=response.status,
              content_type=response.content_type, body=body.decode("utf-8", "replace"))
done(**report)
"""


@dataclass(frozen=True)
class CheckResult:
    """A script that loads: how ``run()`` takes its input and whether ``init()`` exists.

    Attributes
    ----------
    path : Path
        The checked script.
    kind : str
        ``"plain"``, ``"schema"`` or ``"rawhttp"``.
    has_init : bool
        The script defines ``init()``.
    output : str
        What importing the script printed.
    """

    path: Path
    kind: str
    has_init: bool
    output: str


@dataclass(frozen=True)
class TryResult:
    """One sample run through a fresh copy of the script.

    Attributes
    ----------
    output : str
        What the script printed (stdout and stderr) while loading, in ``init()`` and ``run()``.
    status : int
        The HTTP status the server would answer with (200, or 4xx/5xx with an error body).
    result : Any
        The answer: parsed JSON when it is JSON, else the text.
    init_seconds, run_seconds, seconds : float
        Time in ``init()``, in ``run()`` and overall (process start included).
    models : list[str]
        The models laid out under ``AZUREML_MODEL_DIR`` (``NAME:VERSION``).
    """

    output: str
    status: int
    result: Any
    init_seconds: float
    run_seconds: float
    seconds: float
    models: list[str]

    @property
    def ok(self) -> bool:
        """Whether ``run()`` answered with a 2xx status."""
        return 200 <= self.status < 300


def _run_child(
    path: Path, source_dir: Path, args: list[str], env: dict[str, str], timeout: float
) -> tuple[dict[str, Any], str]:
    with tempfile.TemporaryDirectory(prefix="mldeploy-check-") as tmp:
        out = Path(tmp) / "report.json"
        try:
            proc = subprocess.run(
                [sys.executable, "-c", _CHILD, str(out), str(path), str(source_dir), *args],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=str(source_dir),
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as err:
            raise EntryScriptError(
                f"trying {path} took longer than {timeout:g}s (init() or run() hangs?); make it faster "
                "or pass a larger timeout."
            ) from err
        output = proc.stdout.decode("utf-8", "replace")
        if not out.exists():
            raise EntryScriptLoadError(
                f"the check of {path} ended with exit code {proc.returncode} before reporting (the script "
                "called os._exit or crashed the interpreter); its output:\n" + output[-2000:],
                output,
            )
        return json.loads(out.read_text(encoding="utf-8")), output


def _raise(report: dict[str, Any], output: str) -> None:
    cls = getattr(errors, report["error"], None)
    if not (isinstance(cls, type) and issubclass(cls, EntryScriptError)):
        cls = EntryScriptError
    message = report["message"]
    if output.strip():
        message += "\nOutput of the script:\n" + output.rstrip()[-2000:]
    if cls in (errors.InitError, EntryScriptLoadError):
        raise cls(message, report.get("traceback", ""))
    raise cls(message)


def _paths(
    path: str | os.PathLike[str], source_dir: str | os.PathLike[str] | None
) -> tuple[Path, Path]:
    script = Path(path).expanduser().resolve()
    folder = Path(source_dir).expanduser().resolve() if source_dir is not None else script.parent
    return script, folder


def _syntax_check(script: Path) -> None:
    if not script.is_file():
        raise EntryScriptError(f"Entry script not found: {script}; pass the path of your score.py.")
    source = script.read_bytes()
    try:
        compile(source, str(script), "exec")
    except SyntaxError as err:
        code_line = f"\n    {err.text.strip()}" if err.text else ""
        raise EntryScriptLoadError(
            f"Entry script {script} has a syntax error at line {err.lineno}: {err.msg}. Fix it and run the "
            f"cell again.{code_line}"
        ) from err


def check_entry_script(
    path: str | os.PathLike[str],
    source_dir: str | os.PathLike[str] | None = None,
    *,
    timeout: float = 60,
) -> CheckResult:
    """Check that ``path`` loads as an entry script, without running ``init()``.

    Parameters
    ----------
    path
        The entry script.
    source_dir
        Folder put first on ``sys.path`` (default: the script's folder).
    timeout
        Seconds allowed for importing the script.

    Raises
    ------
    EntryScriptLoadError
        A syntax error (with its line) or importing failed.
    EntryScriptError
        No ``run()``, ``run()`` takes no input, ``init()`` takes arguments, bad schema decorators.

    Examples
    --------
    >>> check_entry_script("score.py").kind       # doctest: +SKIP
    'plain'
    """
    script, folder = _paths(path, source_dir)
    _syntax_check(script)
    report, output = _run_child(script, folder, [], dict(os.environ), timeout)
    if "error" in report:
        _raise(report, output)
    return CheckResult(script, report["kind"], report["has_init"], output)


def try_entry_script(
    path: str | os.PathLike[str],
    sample: str,
    models: Sequence[Any] = (),
    source_dir: str | os.PathLike[str] | None = None,
    *,
    timeout: float = 120,
) -> TryResult:
    """Run ``init()`` and ``run(sample)`` of ``path`` in a fresh process, as a deployment would.

    Parameters
    ----------
    path
        The entry script.
    sample
        The request body (JSON text, as a client would POST it to ``/score``).
    models
        Registered ``Model`` objects or local paths, laid out under a temporary
        ``AZUREML_MODEL_DIR`` the way a deployment lays them out.
    source_dir
        Folder put first on ``sys.path`` (default: the script's folder).
    timeout
        Seconds allowed for the whole try.

    Raises
    ------
    EntryScriptLoadError, EntryScriptError
        The script does not load (see :func:`check_entry_script`).
    InitError
        ``init()`` raised; the message holds the script's output.

    Examples
    --------
    >>> r = try_entry_script("score.py", '{"data": [1, 2]}', [Model.get("k")])   # doctest: +SKIP
    >>> r.status, r.result                                                       # doctest: +SKIP
    (200, [3.0, 6.0])
    """
    from ..registry.layout import lay_out_models

    if not isinstance(sample, str):
        raise InvalidArgumentError(
            f"sample must be the request body as JSON text, got {type(sample).__name__}."
        )
    script, folder = _paths(path, source_dir)
    _syntax_check(script)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="mldeploy-try-") as tmp:
        env = dict(os.environ)
        laid: list[str] = []
        if models:
            laid_out = lay_out_models(list(models), Path(tmp) / "azureml-models")
            env["AZUREML_MODEL_DIR"] = str(laid_out.model_dir)
            laid = [e["id"] for e in laid_out.entries]
        report, output = _run_child(script, folder, [sample], env, timeout)
    if "error" in report:
        _raise(report, output)
    body = report["body"]
    try:
        result: Any = json.loads(body) if "json" in report["content_type"] else body
    except ValueError:
        result = body
    return TryResult(
        output,
        report["status"],
        result,
        report["init_seconds"],
        report["run_seconds"],
        time.perf_counter() - start,
        laid,
    )
