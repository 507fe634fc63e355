"""azmlinfsrv's command line and script environment, so ``azmlinfsrv ARGS`` becomes ``mldeploy serve ARGS``.

Azure's inference server (``azureml-inference-server-http``) spells its flags with
underscores and sets a few variables for entry scripts. This module is where those
spellings live: :func:`add_arguments` adds the flags that exist only there
(``--appinsights_instrumentation_key``, ``--config_file``, ``--rest``;
the underscore aliases of our own flags, ``--health_port`` among them, sit beside them in :mod:`.options`),
:func:`separate_health_port` reads ``SEPERATE_HEALTH_ENDPOINT`` (azmlinfsrv's spelling),
:func:`swagger_title` gives the swagger title azmlinfsrv gives when no service is named,
:func:`config_environ` reads a ``--config_file`` (a JSON object of environment names),
:func:`notes` says once what was accepted and ignored, and :func:`script_environment`
gives the variables azmlinfsrv sets before the script loads (``AML_APP_ROOT``,
``AZUREML_ENTRY_SCRIPT`` as a real path, ``AML_APP_INSIGHTS_ENABLED``), and
:func:`server_version_headers` the ``x-ms-server-version`` header every answer carries.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .._version import __version__
from ..errors import InvalidArgumentError

__all__ = ["add_arguments", "config_environ", "notes", "script_environment", "separate_health_port",
           "server_version_headers", "swagger_title"]

#: the title azmlinfsrv gives its swagger document when no service name is set
DEFAULT_SWAGGER_TITLE = "ML service"

#: azmlinfsrv's health port when ``SEPERATE_HEALTH_ENDPOINT=true`` and no ``--health_port``
DEFAULT_HEALTH_PORT = 5000

#: our flag -> azmlinfsrv's spelling of it (accepted as an alias)
ALIASES = {
    "--entry-script": "--entry_script",
    "--model-dir": "--model_dir",
    "--workers": "--worker_count",
    "--cors-origins": "--access_control_allow_origins",
    "--health-port": "--health_port",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the azmlinfsrv flags that have no counterpart here (accepted; each says what happens)."""
    group = parser.add_argument_group("azmlinfsrv spellings", "accepted so azmlinfsrv command lines run unchanged")
    group.add_argument("--appinsights_instrumentation_key", metavar="KEY",
                       help="accepted and ignored with a note (no Application Insights here; logs stay local)")
    group.add_argument("--config_file", metavar="FILE",
                       help="a JSON object of environment names (AZUREML_ENTRY_SCRIPT, SCORING_TIMEOUT_MS, ...)")
    group.add_argument("--rest", action="store_true", default=False, help=argparse.SUPPRESS)


def config_environ(path: str | None, environ: Mapping[str, str], known: set[str]) -> tuple[dict[str, str], list[str]]:
    """``environ`` with the names of ``--config_file`` added where ``environ`` has none; and the unknown keys.

    Raises
    ------
    InvalidArgumentError
        The file is missing, not JSON, or not an object.
    """
    merged = dict(environ)
    if not path:
        return merged, []
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as err:
        raise InvalidArgumentError(f"--config_file {path}: cannot read it ({err.strerror}); give an existing JSON file.") from err
    except ValueError as err:
        raise InvalidArgumentError(f"--config_file {path} is not JSON ({err}); fix it.") from err
    if not isinstance(data, dict):
        raise InvalidArgumentError(f"--config_file {path} must hold a JSON object of environment names, not {type(data).__name__}.")
    unknown = []
    for key, value in data.items():
        if key not in known:
            unknown.append(str(key))
            continue
        text = ("true" if value else "false") if isinstance(value, bool) else str(value).strip()
        merged.setdefault(str(key), text)
    if "AZUREML_ENTRY_SCRIPT" in data and not os.path.isabs(str(data["AZUREML_ENTRY_SCRIPT"])):
        merged.setdefault("MLDEPLOY_ENTRY_SCRIPT", str(data["AZUREML_ENTRY_SCRIPT"]))
    return merged, sorted(unknown)


def notes(given: Mapping[str, Any], unknown_config_keys: list[str]) -> list[str]:
    """One line per azmlinfsrv option that was accepted but changes nothing here."""
    out = []
    if given.get("appinsights_instrumentation_key"):
        out.append("--appinsights_instrumentation_key is accepted and ignored: no Application Insights here "
                   "(the access log and the script's prints stay in this server's log).")
    if given.get("rest"):
        out.append("--rest is accepted and ignored: this server always speaks HTTP/REST.")
    if unknown_config_keys:
        out.append(f"--config_file: {', '.join(unknown_config_keys)} ignored (not a setting of this server).")
    return out


def separate_health_port(environ: Mapping[str, str]) -> int | None:
    """Port 5000 when ``SEPERATE_HEALTH_ENDPOINT`` is ``true`` (azmlinfsrv's spelling, typo included), else None.

    Examples
    --------
    >>> separate_health_port({"SEPERATE_HEALTH_ENDPOINT": "true"}), separate_health_port({})
    (5000, None)
    """
    return DEFAULT_HEALTH_PORT if environ.get("SEPERATE_HEALTH_ENDPOINT") == "true" else None


def swagger_title(service_name: str, default_name: str = "mldeploy") -> str:
    """The swagger document's title: the service's name, or azmlinfsrv's ``ML service`` when none was set.

    Examples
    --------
    >>> swagger_title("mldeploy"), swagger_title("diabetes")
    ('ML service', 'diabetes')
    """
    return DEFAULT_SWAGGER_TITLE if service_name == default_name else service_name


def script_environment(entry_script: str, model_dir: str | None, environ: Mapping[str, str]) -> dict[str, str]:
    """The variables azmlinfsrv sets for entry scripts, given what ``environ`` has already.

    ``AML_APP_ROOT`` (the working folder unless set), ``AZUREML_ENTRY_SCRIPT`` (the script's
    real path), ``AZUREML_MODEL_DIR`` (as given, only when given), and
    ``AML_APP_INSIGHTS_ENABLED=false`` (there is no Application Insights here).

    Examples
    --------
    >>> script_environment("score.py", None, {"AML_APP_ROOT": "/app"})["AML_APP_ROOT"]
    '/app'
    """
    env = {
        "AML_APP_ROOT": environ.get("AML_APP_ROOT") or os.getcwd(),
        "AZUREML_ENTRY_SCRIPT": os.path.realpath(entry_script),
        "AML_APP_INSIGHTS_ENABLED": "false",
    }
    if model_dir:
        env["AZUREML_MODEL_DIR"] = model_dir
    return env


def server_version_headers(environ: Mapping[str, str]) -> list[tuple[bytes, bytes]]:
    """``x-ms-server-version: mldeploy/VERSION``, unless ``SERVER_VERSION_LOG_RESPONSE_ENABLED`` is set and not ``true``.

    Examples
    --------
    >>> server_version_headers({"SERVER_VERSION_LOG_RESPONSE_ENABLED": "false"})
    []
    """
    flag = environ.get("SERVER_VERSION_LOG_RESPONSE_ENABLED")
    if flag is not None and flag.strip().lower() != "true":
        return []
    return [(b"x-ms-server-version", f"mldeploy/{__version__}".encode())]
