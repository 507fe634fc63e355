"""The scoring server's settings: one validated dataclass and the environment names of its options.

Each option has environment names: our own ``MLDEPLOY_*`` name first, then the
name that ``azmlinfsrv`` and Azure ML deployments use, so an Azure container's
environment works unchanged. Reading them (and the command line) into settings
is :mod:`.options`'s job; the keys' private files are :mod:`.keys`'s.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import InvalidArgumentError
from .batching import BatchOptions, parse_batch
from .keys import check_auth_key

__all__ = ["ENV_NAMES", "ServeSettings", "check_model_id"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5001
DEFAULT_TIMEOUT_MS = 60_000
DEFAULT_MAX_BODY_MB = 100.0
DEFAULT_MAX_HEADER_KB = 64.0
DEFAULT_MAX_HEADERS = 100
DEFAULT_READ_TIMEOUT_S = 30.0
DEFAULT_MAX_CONNECTIONS = 1000
DEFAULT_CAPTURE_MAX_KB = 64.0
DEFAULT_CAPTURE_ROTATE_MB = 50.0

#: option -> environment names read, in order (first set one wins)
ENV_NAMES: dict[str, tuple[str, ...]] = {
    "entry_script": ("MLDEPLOY_ENTRY_SCRIPT", "AZUREML_ENTRY_SCRIPT"),
    "source_dir": ("MLDEPLOY_SOURCE_DIR", "AZUREML_SOURCE_DIRECTORY", "AML_APP_ROOT"),
    "model_dir": ("MLDEPLOY_MODEL_DIR", "AZUREML_MODEL_DIR"),
    "host": ("MLDEPLOY_HOST",),
    "port": ("MLDEPLOY_PORT", "AZUREML_SERVER_PORT"),
    "health_port": ("MLDEPLOY_HEALTH_PORT",),
    "workers": ("MLDEPLOY_WORKERS", "WORKER_COUNT"),
    "timeout_ms": ("MLDEPLOY_TIMEOUT_MS", "SCORING_TIMEOUT_MS"),
    "max_body_mb": ("MLDEPLOY_MAX_BODY_MB",),
    "max_header_kb": ("MLDEPLOY_MAX_HEADER_KB",),
    "max_headers": ("MLDEPLOY_MAX_HEADERS",),
    "read_timeout_s": ("MLDEPLOY_READ_TIMEOUT_S",),
    "max_connections": ("MLDEPLOY_MAX_CONNECTIONS",),
    "drain_s": ("MLDEPLOY_DRAIN_S",),
    "auth_keys": ("MLDEPLOY_AUTH_KEYS",),
    "auth_keys_file": ("MLDEPLOY_AUTH_KEYS_FILE",),
    "metrics_auth": ("MLDEPLOY_METRICS_AUTH",),
    "cors_origins": ("MLDEPLOY_CORS_ORIGINS", "AML_CORS_ORIGINS"),
    "reload": ("MLDEPLOY_RELOAD",),
    "service_name": ("MLDEPLOY_SERVICE_NAME",),
    "models": ("MLDEPLOY_MODELS",),
    "stay_up": ("MLDEPLOY_STAY_UP",),
    "control_key_file": ("MLDEPLOY_CONTROL_KEY_FILE",),
    "debugpy": ("MLDEPLOY_DEBUGPY",),
    "debugpy_wait": ("MLDEPLOY_DEBUGPY_WAIT",),
    "batch": ("MLDEPLOY_BATCH",),
    # production signals (scoring/signals.py): traces, captured requests, the data folder
    "otel": ("MLDEPLOY_OTEL",),
    "otel_endpoint": ("MLDEPLOY_OTEL_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"),
    "capture": ("MLDEPLOY_CAPTURE",),
    "capture_sample": ("MLDEPLOY_CAPTURE_SAMPLE",),
    "capture_max_kb": ("MLDEPLOY_CAPTURE_MAX_KB",),
    "capture_rotate_mb": ("MLDEPLOY_CAPTURE_ROTATE_MB",),
    "data_dir": ("MLDEPLOY_DATA_DIR",),
}

#: Options whose Azure name is also written, because entry scripts written for Azure read it.
_AZURE_NAMES_FOR_SCRIPTS = {
    "entry_script": "AZUREML_ENTRY_SCRIPT",
    "source_dir": "AZUREML_SOURCE_DIRECTORY",
    "model_dir": "AZUREML_MODEL_DIR",
}


@dataclass
class ServeSettings:
    """Everything one scoring server needs to know.

    Parameters
    ----------
    entry_script
        Path of the entry script (``init()`` / ``run()``).
    source_dir
        Folder put first on ``sys.path`` and watched by ``reload`` (default: the script's folder).
    model_dir
        Folder exported as ``AZUREML_MODEL_DIR`` for ``Model.get_model_path``.
    host, port
        Where to listen; ``127.0.0.1`` by default (never all interfaces unless asked); port 0 picks a free one.
    health_port
        A second port on ``host`` that answers only the liveness (``GET /``) and readiness
        (``GET /ready``) probes, as azmlinfsrv's ``SEPERATE_HEALTH_ENDPOINT=true`` /
        ``--health_port``; None (the default): the probes are on ``port`` only.
    workers
        Worker processes, each importing the script and running ``init()`` once.
    timeout_ms
        Longest a ``run()`` may take; a longer one answers 504 and its worker is replaced.
    max_body_mb
        Largest request body accepted; a larger one answers 413.
    max_header_kb, max_headers
        Largest request line plus headers, and most headers, accepted; more answers 431.
    read_timeout_s
        Longest a request may take to arrive whole (from its first byte; for a new
        connection, from the connection); a slower one answers 408 and is closed.
    max_connections
        Open connections a worker serves at once; requests beyond answer 503.
    drain_s
        Seconds the server keeps serving after SIGTERM before it stops, answering every
        request with ``Connection: close`` and ``/ready`` with 503: a load balancer (a
        Kubernetes Service) stops sending it new connections meanwhile, so a rolling update
        loses no request. 0 (the default): stop at once (in-flight requests still finish).
    auth_keys
        Keys accepted as ``Authorization: Bearer KEY`` on ``/score`` and ``/swagger.json`` (none: auth off).
    auth_keys_file
        A file with more keys, one per line, that the server reads and then deletes before the
        entry script loads: how deployments hand keys over, so that neither the script's
        environment nor ``docker inspect`` shows them.
    metrics_auth
        Ask for one of the ``auth_keys`` on ``/metrics`` too (off: ``/metrics`` is open, as
        scrapers inside a cluster usually expect). Prometheus sends it with
        ``authorization: {credentials: KEY}`` in its scrape config.
    cors_origins
        Origins allowed by CORS (``*`` for any; none: CORS off).
    reload
        Reload the script and re-run ``init()`` when the script or a source file changes.
    models
        The deployed models as ``NAME:VERSION`` (or ``NAME``): the model names and versions the
        Open Inference Protocol routes (``/v2/models/NAME[/versions/V]``) answer to. None: one
        model named after the service (or, with the default service name, the entry script).
    control_key, control_key_file
        The key of ``POST /-/reload`` (swap in new code, see :mod:`.swap`), or a private file
        holding it (read, then removed, like ``auth_keys_file``); no key: no such route.
    debugpy, debugpy_wait
        ``HOST:PORT`` where each worker's debugpy listens (debug runs only), and whether a worker
        waits for a debugger before loading the script.
    batch
        Adaptive batching for a script whose ``run`` is already vectorised (a list of request
        bodies in, a list of answers out), without ``@batched``:
        ``max_batch_size=32,max_latency_ms=5[,max_queue=N]`` (see :func:`.batching.parse_batch`;
        wins over the decorator's knobs). ``None``: as the script says.
    otel, otel_endpoint
        OpenTelemetry tracing (off by default): on with ``otel`` or when an OTLP/HTTP endpoint
        is given (``OTEL_EXPORTER_OTLP_ENDPOINT``); needs ``jupyter-mldeploy[otel]``.
    capture, capture_sample, capture_max_kb, capture_rotate_mb
        Request/response capture (off by default): the share of requests kept (0-1), the
        largest body kept whole (bigger ones are truncated with a marker), and the size at
        which ``capture.jsonl`` is rotated.
    site_dirs
        Folders of packages put on ``sys.path`` (as site directories) before the script
        loads: set by a code swap whose environment change only added packages, so that a
        worker started after it (a replacement) sees them too. Not an option of the command line.
    data_dir
        Folder of ``capture.jsonl`` and ``collected.jsonl`` (``ModelDataCollector``);
        default ``./mldeploy-data`` (deployments: the service's folder).

    Examples
    --------
    >>> s = ServeSettings(entry_script="score.py", workers=2)
    >>> s.timeout_ms
    60000
    """

    entry_script: str = ""
    source_dir: str | None = None
    model_dir: str | None = None
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    health_port: int | None = None
    workers: int = 1
    timeout_ms: int = DEFAULT_TIMEOUT_MS
    max_body_mb: float = DEFAULT_MAX_BODY_MB
    max_header_kb: float = DEFAULT_MAX_HEADER_KB
    max_headers: int = DEFAULT_MAX_HEADERS
    read_timeout_s: float = DEFAULT_READ_TIMEOUT_S
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    drain_s: float = 0.0
    auth_keys: tuple[str, ...] = ()
    #: a private file holding the keys (one per line): read, then removed, before any script runs
    auth_keys_file: str | None = None
    metrics_auth: bool = False
    cors_origins: tuple[str, ...] = ()
    reload: bool = False
    control_key: str = ""
    control_key_file: str | None = None
    debugpy: str | None = None
    debugpy_wait: bool = False
    batch: str | None = None
    otel: bool = False
    otel_endpoint: str | None = None
    capture: bool = False
    capture_sample: float = 1.0
    capture_max_kb: float = DEFAULT_CAPTURE_MAX_KB
    capture_rotate_mb: float = DEFAULT_CAPTURE_ROTATE_MB
    data_dir: str | None = None
    site_dirs: tuple[str, ...] = ()
    #: an already listening socket handed over by the parent (ScoringServer), instead of host/port
    fd: int | None = None
    #: name the swagger document and the logs use
    service_name: str = "mldeploy"
    models: tuple[str, ...] = ()
    #: keep serving (503 with the traceback) when the script fails to load or init(); else exit 1
    stay_up: bool = False
    #: what the command line accepted and ignored (azmlinfsrv-only flags), said once at start
    notes: tuple[str, ...] = ()
    debug: bool = False
    extra: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise :class:`InvalidArgumentError` naming the bad option and how to fix it."""
        if not (0 <= int(self.port) <= 65535):
            raise InvalidArgumentError(f"port {self.port} is out of range; use 0-65535 (0 picks a free port)")
        if self.health_port is not None:
            if not (0 <= int(self.health_port) <= 65535):
                raise InvalidArgumentError(
                    f"health_port {self.health_port} is out of range; use 0-65535 (0 picks a free port)"
                )
            if int(self.health_port) == int(self.port) != 0:
                raise InvalidArgumentError(
                    f"health_port {self.health_port} is the scoring port too; pick another --health-port "
                    "(or leave it out: the probes are on the scoring port as well)"
                )
        if int(self.workers) < 1:
            raise InvalidArgumentError(f"workers must be at least 1, got {self.workers}; pass --workers 1 or more")
        if int(self.timeout_ms) <= 0:
            raise InvalidArgumentError(
                f"timeout_ms must be positive, got {self.timeout_ms}; pass --timeout-ms MS (e.g. 60000)"
            )
        if float(self.max_body_mb) <= 0:
            raise InvalidArgumentError(
                f"max_body_mb must be positive, got {self.max_body_mb}; pass --max-body-mb N (e.g. 100)"
            )
        for name, value in (("max_header_kb", self.max_header_kb), ("max_headers", self.max_headers),
                            ("read_timeout_s", self.read_timeout_s), ("max_connections", self.max_connections)):
            if float(value) <= 0:
                flag = "--" + name.replace("_", "-")
                raise InvalidArgumentError(f"{name} must be positive, got {value}; pass {flag} with a positive number")
        if not 0 <= float(self.drain_s) <= 600:
            raise InvalidArgumentError(f"drain_s must be from 0 to 600 seconds, got {self.drain_s}; pass --drain-s 5, say")
        for key in self.auth_keys:
            check_auth_key(key)
        if self.metrics_auth and not (self.auth_keys or self.auth_keys_file):
            raise InvalidArgumentError(
                "metrics_auth asks /metrics for a key, but no key is set; pass --auth-key KEY "
                "(env MLDEPLOY_AUTH_KEYS) too, or leave --metrics-auth off"
            )
        for model in self.models:
            check_model_id(model)
        if self.control_key:
            check_auth_key(self.control_key)
        if self.batch is not None:
            parse_batch(self.batch)
        if not 0 <= float(self.capture_sample) <= 1:
            raise InvalidArgumentError(
                f"capture_sample must be from 0 to 1 (the share of requests kept), got {self.capture_sample}; "
                "pass --capture-sample 0.1, say"
            )
        for name, value in (("capture_max_kb", self.capture_max_kb), ("capture_rotate_mb", self.capture_rotate_mb)):
            if float(value) <= 0:
                raise InvalidArgumentError(f"{name} must be positive, got {value}; pass --{name.replace('_', '-')} N")
        if self.debugpy is not None and not re.fullmatch(r"\[?[0-9A-Za-z.:-]+\]?:\d{1,5}", self.debugpy):
            raise InvalidArgumentError(
                f"debugpy must be HOST:PORT (e.g. 127.0.0.1:5678), got {self.debugpy!r}; fix MLDEPLOY_DEBUGPY"
            )

    @property
    def script_path(self) -> Path:
        """The entry script, resolved against the source folder when relative (as azmlinfsrv does)."""
        path = Path(self.entry_script).expanduser()
        if not path.is_absolute() and self.source_dir and not path.exists():
            candidate = Path(self.source_dir).expanduser() / path
            if candidate.exists():
                return candidate.resolve()
        return path.resolve()

    @property
    def loopback_only(self) -> bool:
        """Whether the server listens on this machine only (127.x, ::1, localhost)."""
        host = self.host.strip("[]").lower()
        return host == "localhost" or host == "::1" or host.startswith("127.")

    def exposure_warnings(self) -> list[str]:
        """What is risky about these settings when the server can be reached beyond this machine."""
        if self.loopback_only or self.fd is not None:
            return []
        warnings = []
        if not self.auth_keys:
            warnings.append(
                f"listening on {self.host}: anyone who can reach this machine can call /score; "
                "pass --auth-key KEY (or MLDEPLOY_AUTH_KEYS) to require a key"
            )
        if self.debug:
            warnings.append(
                f"--debug on {self.host}: run() tracebacks (source lines, values) go into 500 answers to "
                "anyone who can reach this machine; leave --debug off beyond loopback"
            )
        return warnings

    @property
    def batch_options(self) -> BatchOptions | None:
        """The batching the ``batch`` setting asks for (``None``: as the script says)."""
        return None if self.batch is None else parse_batch(self.batch)

    @property
    def tracing(self) -> bool:
        """Whether requests are traced (``--otel``, or an OTLP endpoint given)."""
        return self.otel or bool(self.otel_endpoint)

    @property
    def data_path(self) -> Path:
        """The folder of the capture and collector files."""
        return Path(self.data_dir or "mldeploy-data").expanduser()

    @property
    def timeout_s(self) -> float:
        """The ``run()`` timeout in seconds."""
        return self.timeout_ms / 1000.0

    @property
    def max_body_bytes(self) -> int:
        """The body limit in bytes."""
        return int(self.max_body_mb * 1024 * 1024)

    def to_env(self) -> dict[str, str]:
        """These settings as the environment names the server reads: the one writer of ``MLDEPLOY_*``.

        Every deployment target and :class:`~jupyter_mldeploy.client.server.ScoringServer`
        start the server with these variables (``--fd`` and ``--debug`` stay flags), and
        :func:`.options.settings_from_args` reads them back, from a container's environment too.
        Each option is written under our name, and the entry script, source folder and
        model folder also under Azure's (``AZUREML_ENTRY_SCRIPT``, ...) because entry
        scripts read those. Unset folders are left out.

        Examples
        --------
        >>> env = ServeSettings(entry_script="score.py", workers=2).to_env()
        >>> env["MLDEPLOY_WORKERS"], env["AZUREML_ENTRY_SCRIPT"]
        ('2', 'score.py')
        """
        values: dict[str, object] = {
            "entry_script": self.entry_script,
            "source_dir": self.source_dir,
            "model_dir": self.model_dir,
            "host": self.host,
            "port": self.port,
            "health_port": self.health_port,
            "workers": self.workers,
            "timeout_ms": self.timeout_ms,
            "max_body_mb": self.max_body_mb,
            "max_header_kb": self.max_header_kb,
            "max_headers": self.max_headers,
            "read_timeout_s": self.read_timeout_s,
            "max_connections": self.max_connections,
            "drain_s": self.drain_s,
            # keys go through auth_keys_file when there is one: never through the environment then
            "auth_keys": None if self.auth_keys_file else ",".join(self.auth_keys),
            "auth_keys_file": self.auth_keys_file,
            "metrics_auth": "1" if self.metrics_auth else None,
            "cors_origins": ",".join(self.cors_origins),
            "reload": "1" if self.reload else "0",
            "service_name": self.service_name,
            "models": ",".join(self.models) or None,
            "stay_up": "1" if self.stay_up else "0",
            "control_key_file": self.control_key_file,
            "debugpy": self.debugpy,
            "debugpy_wait": "1" if self.debugpy_wait else None,
            "batch": self.batch,
            "otel": "1" if self.otel else None,
            "otel_endpoint": self.otel_endpoint,
            "capture": "1" if self.capture else None,
            "capture_sample": self.capture_sample if self.capture else None,
            # the bounds of the collector's file (ModelDataCollector) too, so written with capture off
            "capture_max_kb": self.capture_max_kb,
            "capture_rotate_mb": self.capture_rotate_mb,
            "data_dir": self.data_dir,
        }
        env: dict[str, str] = {}
        for name, value in values.items():
            if value is None:
                continue
            env[ENV_NAMES[name][0]] = str(value)
            if name in _AZURE_NAMES_FOR_SCRIPTS:
                env[_AZURE_NAMES_FOR_SCRIPTS[name]] = str(value)
        return env

    def to_json(self) -> str:
        """Serialise for a worker process (sent through a pipe, ``MLDEPLOY_SETTINGS_FD``)."""
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ServeSettings:
        """Inverse of :meth:`to_json`."""
        data = json.loads(text)
        data["auth_keys"] = tuple(data.get("auth_keys") or ())
        data["cors_origins"] = tuple(data.get("cors_origins") or ())
        data["models"] = tuple(data.get("models") or ())
        data["notes"] = tuple(data.get("notes") or ())
        data["site_dirs"] = tuple(data.get("site_dirs") or ())
        return cls(**data)


_MODEL_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,254}(:[A-Za-z0-9][A-Za-z0-9._-]{0,63})?")


def check_model_id(model: str) -> str:
    """Return ``model`` (``NAME`` or ``NAME:VERSION``) if it can name an OIP model, else raise.

    Names and versions are letters, digits and ``._-`` (they appear in URL paths as they are).
    """
    if not isinstance(model, str) or not _MODEL_RE.fullmatch(model):
        raise InvalidArgumentError(
            f"model {model!r} is not NAME or NAME:VERSION of letters, digits and '._-'; "
            "pass e.g. --model-name diabetes-ridge:3 (env MLDEPLOY_MODELS, comma-separated)"
        )
    return model
