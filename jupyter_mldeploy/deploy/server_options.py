"""The scoring server's options every target shares (batching, capture, tracing), defined once.

:class:`ServerOptions` holds them, checked; every
:class:`~jupyter_mldeploy.deploy.config.DeploymentConfiguration` is one. A target's
``deploy_configuration`` gets their keywords from :func:`takes_server_options` (so its
signature, ``help()`` and completion show them without repeating them), and the process,
Docker and Kubernetes targets all start their servers with :func:`server_env`, the one
function that turns a saved configuration into the server's variables. A new option is a
field here plus its line in :func:`server_env`. :func:`with_tracing_packages` gives an
image's environment the OpenTelemetry packages when tracing is on.
"""

from __future__ import annotations

import copy
import inspect
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from ..errors import InvalidArgumentError
from ..scoring.batching import BATCH_SETTING, BatchOptions, parse_batch
from ..scoring.options import settings_from_env

__all__ = [
    "DEFAULT_OTEL_ENDPOINT",
    "TRACING_PACKAGES",
    "ServerOptions",
    "pick_server_options",
    "server_env",
    "takes_server_options",
    "tracing_on",
    "with_tracing_packages",
]

#: Where spans go when tracing is on and no endpoint is named (an OTLP/HTTP collector's default).
DEFAULT_OTEL_ENDPOINT = "http://localhost:4318"
#: What a server needs installed to export traces (the ``otel`` extra's packages).
TRACING_PACKAGES = ("opentelemetry-sdk", "opentelemetry-exporter-otlp-proto-http")
_LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(kw_only=True)
class ServerOptions:
    """The scoring server's options that mean the same on every target.

    Parameters
    ----------
    batch
        Adaptive batching for an entry script whose ``run`` is already vectorised (a list of
        request bodies in, a list of answers out), without ``@batched`` in the script:
        ``"max_batch_size=32,max_latency_ms=5"`` (``,max_queue=N`` too), or a
        :class:`~jupyter_mldeploy.scoring.batching.BatchOptions`. The server gets it as
        ``MLDEPLOY_BATCH``. ``None``: as the script says.
    collect_model_data
        Keep requests and answers of ``/score`` and OIP ``infer`` in the service's
        ``capture.jsonl`` (read them with ``service.get_captured(n)``); Azure's name.
    capture_sample_rate, capture_max_kb
        The share of requests kept (0-1) and the largest body kept whole (bigger ones
        are truncated with a marker).
    tracing, otel_endpoint
        Trace requests with OpenTelemetry, exported over OTLP/HTTP to ``otel_endpoint``
        (default ``http://localhost:4318``). ``localhost`` is this machine for the process
        and Docker targets (a container reaches it through the Docker host gateway); on
        Kubernetes, name the collector as the pods see it. Image targets add
        ``opentelemetry-sdk`` and ``opentelemetry-exporter-otlp-proto-http`` to the
        environment themselves.
    """

    batch: str | None = None
    collect_model_data: bool = False
    capture_sample_rate: float = 1.0
    capture_max_kb: float = 64.0
    tracing: bool = False
    otel_endpoint: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.batch, BatchOptions):
            self.batch = self.batch.spec
        elif self.batch is not None:
            if not isinstance(self.batch, str):
                raise InvalidArgumentError(
                    f"batch must be text like 'max_batch_size=32,max_latency_ms=5' or None, got {self.batch!r}.")
            self.batch = parse_batch(self.batch).spec
        if not isinstance(self.capture_sample_rate, (int, float)) or not 0 <= self.capture_sample_rate <= 1:
            raise InvalidArgumentError(
                f"capture_sample_rate must be from 0 to 1 (the share of requests kept), got {self.capture_sample_rate!r}."
            )
        if not isinstance(self.capture_max_kb, (int, float)) or self.capture_max_kb <= 0:
            raise InvalidArgumentError(f"capture_max_kb must be a positive number of KiB, got {self.capture_max_kb!r}.")
        if self.otel_endpoint is not None and not str(self.otel_endpoint).startswith(("http://", "https://")):
            raise InvalidArgumentError(
                f"otel_endpoint must be an http:// or https:// URL (an OTLP/HTTP receiver), got {self.otel_endpoint!r}."
            )

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """The options' keyword names, in order."""
        return tuple(f.name for f in fields(ServerOptions))


def takes_server_options(method: F) -> F:
    """Give a ``deploy_configuration(..., **server_options)`` the options' keywords in its signature.

    The method's ``**server_options`` stays how they arrive; ``inspect.signature``,
    ``help()`` and completion show each :class:`ServerOptions` field as a keyword with its
    default, so the options are listed in one place and every target takes them.
    """
    signature = inspect.signature(method)
    kept = [p for p in signature.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
    taken = {p.name for p in kept}
    added = [inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default, annotation=f.type)
             for f in fields(ServerOptions) if f.name not in taken]
    method.__signature__ = signature.replace(parameters=[*kept, *added])  # type: ignore[attr-defined]
    return method


def pick_server_options(given: Mapping[str, Any], where: str) -> dict[str, Any]:
    """``given`` if each name is a :class:`ServerOptions` field, else the error naming the unknown ones.

    Examples
    --------
    >>> pick_server_options({"tracing": True}, "deploy_configuration")
    {'tracing': True}
    """
    unknown = sorted(set(given) - set(ServerOptions.names()))
    if unknown:
        raise InvalidArgumentError(
            f"{where}() got unknown keyword{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; "
            f"its server options are {', '.join(ServerOptions.names())} (see help({where.split('(')[0]}))."
        )
    return dict(given)


def tracing_on(config: Mapping[str, Any]) -> bool:
    """Whether a saved configuration (``to_dict()``) traces requests (``tracing`` or an ``otel_endpoint``)."""
    return bool(config.get("tracing") or config.get("otel_endpoint"))


def server_env(config: Mapping[str, Any], data_dir: str, *, loopback_as: str | None = None,
               **settings: Any) -> dict[str, str]:
    """The scoring server's variables for a saved configuration (``to_dict()``): the one writer every target uses.

    The user's ``environment_variables`` first (they may set any server option by its
    variable name), then the shared options (batching, capture into ``data_dir``, tracing),
    then ``settings``, the target's own :class:`~jupyter_mldeploy.scoring.settings.ServeSettings`
    fields (entry script, folders, port, keys file, ...). ``loopback_as`` replaces
    ``localhost``/``127.0.0.1`` in the OTLP endpoint with the name the server reaches this
    machine by (a container: the Docker host gateway).

    Examples
    --------
    >>> env = server_env({"batch": "max_batch_size=8,max_latency_ms=5", "collect_model_data": True}, "/data",
    ...                  entry_script="score.py")
    >>> env["MLDEPLOY_BATCH"], env["MLDEPLOY_CAPTURE"], env["MLDEPLOY_DATA_DIR"]
    ('max_batch_size=8,max_latency_ms=5', '1', '/data')
    >>> server_env({"tracing": True}, "/data", loopback_as="host.docker.internal",
    ...            entry_script="score.py")["MLDEPLOY_OTEL_ENDPOINT"]
    'http://host.docker.internal:4318'
    """
    env = {str(k): str(v) for k, v in (config.get("environment_variables") or {}).items()}
    if config.get("batch"):
        env[BATCH_SETTING] = str(config["batch"])
    signals: dict[str, Any] = {"data_dir": data_dir}
    if config.get("collect_model_data"):
        signals.update(capture=True, capture_sample=float(config.get("capture_sample_rate", 1.0)),
                       capture_max_kb=float(config.get("capture_max_kb", 64.0)))
    if tracing_on(config):
        signals["otel"] = True
        if config.get("otel_endpoint"):
            signals["otel_endpoint"] = str(config["otel_endpoint"])
    served = settings_from_env(env, **signals, **settings)
    if loopback_as and served.tracing:
        served = replace(served, otel_endpoint=_with_host(served.otel_endpoint or DEFAULT_OTEL_ENDPOINT, loopback_as))
    env.update(served.to_env())
    return env


def _with_host(url: str, loopback_as: str) -> str:
    """``url`` with a loopback host replaced by ``loopback_as`` (other hosts kept)."""
    parts = urlsplit(url)
    if (parts.hostname or "") not in _LOOPBACK_HOSTS:
        return url
    netloc = loopback_as + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def with_tracing_packages(env: Any, config: Mapping[str, Any], log: Callable[[str], None]) -> Any:
    """``env`` (a copy) with :data:`TRACING_PACKAGES` added when the configuration traces; ``env`` itself otherwise.

    The packages are resolved from the wheelhouse or the package index like any other
    requirement; the deploy log says they were added. A package the environment already
    lists is kept as the user pinned it.
    """
    if not tracing_on(config):
        return env
    listed = {_requirement_name(r) for r in env.get_pip_requirements()}
    missing = [p for p in TRACING_PACKAGES if p not in listed]
    if not missing:
        return env
    traced = copy.deepcopy(env)
    for package in missing:
        traced.python.conda_dependencies.add_pip_package(package)
    log(f"tracing is on: added {', '.join(missing)} to environment {env.name!r} (resolved like its other "
        "requirements; list them yourself to pin versions)")
    return traced


def _requirement_name(requirement: str) -> str:
    """The normalised distribution name of a requirement line (``Foo_Bar[x]>=1`` -> ``foo-bar``)."""
    name = re.split(r"[\s\[<>=!~;@]", requirement.strip(), maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()
