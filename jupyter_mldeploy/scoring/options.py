"""Fill :class:`~.settings.ServeSettings` from the command line and the environment.

Every option has a command-line flag (``mldeploy serve`` and
``python -m jupyter_mldeploy.scoring`` share :func:`add_arguments`) and
environment names (:data:`~.settings.ENV_NAMES`): our own ``MLDEPLOY_*`` name
first, then Azure's. A flag beats an environment name, which beats the default.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import InvalidArgumentError
from . import azmlinfsrv
from .settings import (
    DEFAULT_HOST,
    DEFAULT_MAX_BODY_MB,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_HEADER_KB,
    DEFAULT_MAX_HEADERS,
    DEFAULT_PORT,
    DEFAULT_READ_TIMEOUT_S,
    DEFAULT_TIMEOUT_MS,
    ENV_NAMES,
    ServeSettings,
)

__all__ = ["add_arguments", "parse_args", "settings_from_args", "settings_from_env"]


def _split(raw: str) -> tuple[str, ...]:
    return tuple(part for part in raw.replace(",", " ").split() if part)


def _truthy(raw: str) -> bool:
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def _env(name: str, environ: Mapping[str, str]) -> str | None:
    for env_name in ENV_NAMES[name]:
        value = environ.get(env_name)
        if value not in (None, ""):
            return value
    return None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the server options (each defaulting to ``None`` so environment names can fill them)."""

    def env_help(name: str) -> str:
        return "env " + " / ".join(ENV_NAMES[name])

    parser.add_argument("--entry-script", "--entry_script", help=f"entry script with init() and run() ({env_help('entry_script')})")
    parser.add_argument("--source-dir", help=f"folder put on sys.path and watched by --reload ({env_help('source_dir')})")
    parser.add_argument("--model-dir", "--model_dir", help=f"folder for Model.get_model_path ({env_help('model_dir')})")
    parser.add_argument("--host", help=f"address to listen on, default {DEFAULT_HOST} ({env_help('host')})")
    parser.add_argument("--port", type=int, help=f"port, default {DEFAULT_PORT}, 0 picks one ({env_help('port')})")
    parser.add_argument(
        "--health-port", "--health_port", type=int, metavar="PORT",
        help="also listen on PORT for the probes only (GET / liveness, GET /ready readiness), as azmlinfsrv's "
             f"SEPERATE_HEALTH_ENDPOINT=true (port 5000 unless given) ({env_help('health_port')})",
    )
    parser.add_argument("--workers", "--worker_count", type=int, help=f"worker processes, default 1 ({env_help('workers')})")
    parser.add_argument(
        "--timeout-ms", type=int, help=f"longest run(), default {DEFAULT_TIMEOUT_MS} ({env_help('timeout_ms')})"
    )
    parser.add_argument(
        "--max-body-mb", type=float, help=f"largest body, default {DEFAULT_MAX_BODY_MB:g} ({env_help('max_body_mb')})"
    )
    parser.add_argument(
        "--max-header-kb", type=float,
        help=f"largest request line + headers, default {DEFAULT_MAX_HEADER_KB:g} KiB, else 431 ({env_help('max_header_kb')})",
    )
    parser.add_argument(
        "--max-headers", type=int, help=f"most headers, default {DEFAULT_MAX_HEADERS}, else 431 ({env_help('max_headers')})"
    )
    parser.add_argument(
        "--read-timeout-s", type=float,
        help=f"longest a request may take to arrive, default {DEFAULT_READ_TIMEOUT_S:g} s, else 408 "
             f"({env_help('read_timeout_s')})",
    )
    parser.add_argument(
        "--max-connections", type=int,
        help=f"open connections per worker, default {DEFAULT_MAX_CONNECTIONS}, beyond: 503 ({env_help('max_connections')})",
    )
    parser.add_argument(
        "--drain-s", type=float,
        help=f"after SIGTERM keep serving this long with Connection: close, /ready 503, then stop ({env_help('drain_s')})",
    )
    parser.add_argument(
        "--auth-key", dest="auth_keys", action="append", metavar="KEY",
        help=f"require Authorization: Bearer KEY on /score (repeatable) ({env_help('auth_keys')})",
    )
    parser.add_argument(
        "--auth-keys-file", metavar="FILE",
        help=f"read keys from FILE (one per line), then delete it, before the script loads ({env_help('auth_keys_file')})",
    )
    parser.add_argument(
        "--metrics-auth", action="store_true", default=None,
        help=f"ask /metrics for one of the --auth-key keys too (default: open) ({env_help('metrics_auth')})",
    )
    parser.add_argument(
        "--cors-origins", "--access_control_allow_origins", help=f"comma-separated allowed origins or * ({env_help('cors_origins')})"
    )
    parser.add_argument(
        "--reload", action="store_true", default=None,
        help=f"reload the script when it or a source file changes ({env_help('reload')})",
    )
    parser.add_argument(
        "--model-name", dest="models", action="append", metavar="NAME[:VERSION]",
        help="a model name (and version) the Open Inference Protocol routes /v2/models/NAME answer to "
             f"(repeatable; default: the service or script name) ({env_help('models')})",
    )
    parser.add_argument(
        "--stay-up", action="store_true", default=None,
        help="when the script fails to load or init(), keep serving 503 with the traceback instead of exiting 1 "
             f"({env_help('stay_up')})",
    )
    parser.add_argument(
        "--batch", metavar="KNOBS",
        help="group concurrent requests into one call of a vectorised run() (a list of bodies in, a list of "
             "answers out), as @batched does: max_batch_size=32,max_latency_ms=5[,max_queue=N] "
             f"({env_help('batch')})",
    )
    parser.add_argument(
        "--otel", action="store_true", default=None,
        help="trace each request with OpenTelemetry, exported over OTLP/HTTP (needs jupyter-mldeploy[otel]) "
             f"({env_help('otel')})",
    )
    parser.add_argument(
        "--otel-endpoint", metavar="URL",
        help=f"OTLP/HTTP endpoint, default http://localhost:4318; giving one turns tracing on ({env_help('otel_endpoint')})",
    )
    parser.add_argument(
        "--capture", action="store_true", default=None,
        help=f"keep requests and answers in DATA_DIR/capture.jsonl (JSON lines, 0600) ({env_help('capture')})",
    )
    parser.add_argument(
        "--capture-sample", type=float, metavar="RATE",
        help=f"share of requests captured, 0-1, default 1 ({env_help('capture_sample')})",
    )
    parser.add_argument(
        "--capture-max-kb", type=float, metavar="KB",
        help=f"bodies larger than this are truncated with a marker, default 64 ({env_help('capture_max_kb')})",
    )
    parser.add_argument(
        "--capture-rotate-mb", type=float, metavar="MB",
        help=f"rotate capture.jsonl at this size, default 50 ({env_help('capture_rotate_mb')})",
    )
    parser.add_argument(
        "--data-dir", metavar="DIR",
        help=f"folder of capture.jsonl and collected.jsonl, default ./mldeploy-data ({env_help('data_dir')})",
    )
    parser.add_argument("--fd", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--debug", action="store_true", default=False, help="put run() tracebacks in 500 answers")
    azmlinfsrv.add_arguments(parser)


def settings_from_args(
    args: argparse.Namespace | None = None, environ: Mapping[str, str] | None = None
) -> ServeSettings:
    """Merge parsed arguments, environment names and defaults into :class:`ServeSettings`.

    Raises
    ------
    InvalidArgumentError
        No entry script was given, or an environment value is not a number where one is needed.

    Examples
    --------
    >>> settings_from_args(None, {"AZUREML_ENTRY_SCRIPT": "score.py", "WORKER_COUNT": "2"}).workers
    2
    """
    environ = os.environ if environ is None else environ
    given = vars(args) if args is not None else {}
    known = {n for names in ENV_NAMES.values() for n in names} | {"SCORING_TIMEOUT_MS"}
    environ, unknown_keys = azmlinfsrv.config_environ(given.get("config_file"), environ, known)
    values: dict[str, Any] = {}
    for name in ENV_NAMES:
        value = given.get(name)
        if value is None:
            raw = _env(name, environ)
            if raw is None:
                continue
            value = raw
        values[name] = value
    if "health_port" not in values:
        separate = azmlinfsrv.separate_health_port(environ)
        if separate is not None:
            values["health_port"] = separate
    for name, cast in (("port", int), ("health_port", int), ("workers", int), ("timeout_ms", int), ("max_body_mb", float),
                       ("max_header_kb", float), ("max_headers", int), ("read_timeout_s", float),
                       ("max_connections", int), ("drain_s", float), ("capture_sample", float),
                       ("capture_max_kb", float), ("capture_rotate_mb", float)):
        if name in values:
            try:
                values[name] = cast(values[name])
            except ValueError as err:
                flag = "--" + name.replace("_", "-")
                raise InvalidArgumentError(
                    f"{name} must be a number, got {values[name]!r}; fix {flag} or the environment "
                    f"variable ({' / '.join(ENV_NAMES[name])})"
                ) from err
    if isinstance(values.get("auth_keys"), str):
        values["auth_keys"] = _split(str(values["auth_keys"]))
    elif "auth_keys" in values:
        values["auth_keys"] = tuple(str(k) for k in values["auth_keys"])
    if "models" in values:
        raw = values["models"]
        values["models"] = _split(raw) if isinstance(raw, str) else tuple(str(m) for m in raw)
    if "cors_origins" in values:
        raw = values["cors_origins"]
        values["cors_origins"] = _split(raw) if isinstance(raw, str) else tuple(raw)
    for flag in ("reload", "stay_up", "debugpy_wait", "metrics_auth", "otel", "capture"):
        if isinstance(values.get(flag), str):
            values[flag] = _truthy(str(values[flag]))
    if not values.get("entry_script"):
        raise InvalidArgumentError(
            "no entry script given; pass --entry-script PATH (azmlinfsrv: --entry_script) or set AZUREML_ENTRY_SCRIPT"
        )
    values["notes"] = tuple(azmlinfsrv.notes(given, unknown_keys))
    if given.get("fd") is not None:
        values["fd"] = int(given["fd"])
    if given.get("debug"):
        values["debug"] = True
    return ServeSettings(**values)


def settings_from_env(environ: Mapping[str, str], **fixed: Any) -> ServeSettings:
    """Settings read from ``environ`` (a deployment's own variables, by any of their names), with ``fixed`` on top.

    What a deployment target starts its server with: the user's ``environment_variables``
    may set any option by its environment name (``MLDEPLOY_RELOAD``, ``AML_CORS_ORIGINS``,
    ``MLDEPLOY_MAX_BODY_MB``, ...), and the target's own values (entry script, folders,
    host, port, workers, timeout, keys) win over them.

    Examples
    --------
    >>> settings_from_env({"MLDEPLOY_RELOAD": "1", "WORKER_COUNT": "4"}, entry_script="score.py", workers=2)
    ... # doctest: +ELLIPSIS
    ServeSettings(entry_script='score.py', ..., workers=2, ..., reload=True, ...)
    """
    merged = dict(environ)
    if "entry_script" in fixed:
        merged[ENV_NAMES["entry_script"][0]] = str(fixed["entry_script"])
    return dataclasses.replace(settings_from_args(None, merged), **fixed)


def parse_args(argv: Sequence[str] | None = None) -> ServeSettings:
    """Parse ``python -m jupyter_mldeploy.scoring`` arguments into settings."""
    parser = argparse.ArgumentParser(prog="python -m jupyter_mldeploy.scoring", description="Run the scoring server.")
    add_arguments(parser)
    return settings_from_args(parser.parse_args(argv))
