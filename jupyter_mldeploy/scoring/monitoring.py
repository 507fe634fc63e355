"""``azureml.monitoring.ModelDataCollector`` and ``azureml.core.run.Run`` for entry scripts that import them.

Azure samples collect a model's inputs and predictions with::

    from azureml.monitoring import ModelDataCollector
    inputs_dc = ModelDataCollector("best_model", designation="inputs", feature_names=["a", "b"])
    inputs_dc.collect(data, user_correlation_id="order-17")

and log metrics with ``Run.get_context().log("accuracy", 0.93)``. Under the scoring
server (through :mod:`.azureml_shim`, when the real packages are not installed) the
collector appends one JSON line per ``collect()`` to ``DATA_DIR/collected.jsonl``
(0600, rotated like ``capture.jsonl``, data over ``capture_max_kb`` truncated with a
marker)::

    {"time": "...", "request_id": "...", "model_name": "best_model", "designation": "inputs",
     "feature_names": ["a", "b"], "user_correlation_id": "order-17", "data": [[1, 2]]}

and ``Run.log``/``log_list``/``log_row``/``log_table`` write ``run`` lines to the service
log (``... run rid=... log accuracy=0.93``). Read the collected lines with
``service.get_collected(n)``. The worker calls :func:`configure` with its settings and
log writer; outside a server the file goes to ``$MLDEPLOY_DATA_DIR`` (default
``./mldeploy-data``) and run lines to stdout.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .contract import current_request_id
from .jsonl import JsonLinesFile
from .logs import timestamp

__all__ = ["COLLECTED_FILE", "ModelDataCollector", "Run", "close", "configure"]

COLLECTED_FILE = "collected.jsonl"


class _Sink:
    """Where collected data and run lines of this process go (set by the worker with :func:`configure`)."""

    def __init__(self) -> None:
        self.folder = Path(os.environ.get("MLDEPLOY_DATA_DIR") or "mldeploy-data")
        self.limit = 64 * 1024
        self.rotate_bytes = 50 * 1024 * 1024
        self.log_line: Callable[[str], None] = print
        self._file: JsonLinesFile | None = None
        self._lock = threading.Lock()

    def file(self) -> JsonLinesFile:
        with self._lock:
            if self._file is None:
                self._file = JsonLinesFile(self.folder / COLLECTED_FILE, self.rotate_bytes)
            return self._file

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


_sink = _Sink()


def configure(folder: str | os.PathLike[str], limit_bytes: int, rotate_bytes: int,
              log_line: Callable[[str], None]) -> None:
    """Send this process's collected data to ``folder/collected.jsonl`` and run lines to ``log_line``."""
    _sink.close()
    _sink.folder = Path(folder)
    _sink.limit = int(limit_bytes)
    _sink.rotate_bytes = int(rotate_bytes)
    _sink.log_line = log_line


def close() -> None:
    """Write what is pending (when a worker stops)."""
    _sink.close()


def _plain(value: Any) -> Any:
    """numpy arrays, pandas frames and other objects as JSON-ready data."""
    if hasattr(value, "to_dict") and hasattr(value, "columns"):  # a pandas DataFrame
        return value.to_dict(orient="records")
    if hasattr(value, "tolist"):  # numpy arrays and scalars, pandas Series
        return value.tolist()
    if isinstance(value, (bytes, bytearray)):
        return {"binary": True, "size": len(value)}
    return str(value)


class ModelDataCollector:
    """Azure ML v1's model data collector, writing to the service's ``collected.jsonl`` (module docstring).

    Parameters
    ----------
    model_name
        The model whose data this is.
    designation
        What the data is (``"inputs"``, ``"predictions"``, ...).
    feature_names
        Names of the columns of the collected data.
    workspace, webservice_name, model_version, identifier
        Accepted as in Azure; ``model_version`` and ``identifier`` are written with each line.

    Examples
    --------
    >>> import tempfile
    >>> configure(tempfile.mkdtemp(), 1 << 16, 1 << 20, print)
    >>> dc = ModelDataCollector("ridge", designation="inputs", feature_names=["a"])
    >>> dc.collect([[1.0]], user_correlation_id="r1")
    'r1'
    """

    def __init__(self, model_name: str, designation: str = "default", feature_names: Sequence[str] | None = None,
                 workspace: str = "default/default/default", webservice_name: str = "default",
                 model_version: str = "default", identifier: str = "default") -> None:
        self.model_name = str(model_name)
        self.designation = str(designation)
        self.feature_names = list(feature_names) if feature_names is not None else None
        self.workspace = workspace
        self.webservice_name = webservice_name
        self.model_version = str(model_version)
        self.identifier = str(identifier)

    def collect(self, input_data: Any, user_correlation_id: str = "") -> str:
        """Append ``input_data`` (lists, numpy arrays, pandas frames, ...) as one line; return the correlation id."""
        correlation = str(user_correlation_id or current_request_id.get() or uuid.uuid4())
        text = json.dumps(input_data, default=_plain, ensure_ascii=False)
        data: Any = json.loads(text)
        if len(text) > _sink.limit:
            data = {"truncated": True, "size": len(text), "head": text[:_sink.limit]}
        _sink.file().add({
            "time": timestamp(), "request_id": current_request_id.get(), "model_name": self.model_name,
            "model_version": self.model_version, "designation": self.designation,
            "feature_names": self.feature_names, "identifier": self.identifier,
            "user_correlation_id": user_correlation_id or None, "data": data,
        })
        return correlation


class Run:
    """Azure ML v1's ``Run`` as an offline run: metrics logged by a scoring script go to the service log.

    Examples
    --------
    >>> run = Run.get_context()
    >>> run.log("accuracy", 0.93)    # doctest: +SKIP
    """

    _offline: Run | None = None

    def __init__(self) -> None:
        self.id = f"OfflineRun_{uuid.uuid4()}"
        self._metrics: dict[str, list[Any]] = {}
        self.tags: dict[str, str] = {}

    @classmethod
    def get_context(cls, allow_offline: bool = True, **_: Any) -> Run:
        """The run of this process: always the one offline run (there is no Azure experiment here)."""
        if cls._offline is None:
            cls._offline = cls()
        return cls._offline

    def _line(self, kind: str, name: str, value: Any) -> None:
        self._metrics.setdefault(name, []).append(value)
        shown = json.dumps(value, default=_plain, ensure_ascii=False)
        _sink.log_line(f"{timestamp()} run rid={current_request_id.get()} {kind} {name}={shown}")

    def log(self, name: str, value: Any, description: str = "", step: int | None = None) -> None:
        """Log one metric value."""
        self._line("log", name, value)

    def log_list(self, name: str, value: Sequence[Any], description: str = "") -> None:
        """Log a list of values."""
        self._line("log_list", name, list(value))

    def log_row(self, name: str, description: str | None = None, **kwargs: Any) -> None:
        """Log one row of named values."""
        self._line("log_row", name, dict(kwargs))

    def log_table(self, name: str, value: dict[str, Sequence[Any]], description: str = "") -> None:
        """Log a table: column name -> values."""
        self._line("log_table", name, {k: list(v) for k, v in value.items()})

    def tag(self, key: str, value: str | None = None) -> None:
        """Tag the run (kept in memory)."""
        self.tags[str(key)] = "" if value is None else str(value)

    def get_metrics(self, name: str | None = None) -> dict[str, Any]:
        """What was logged in this process: name -> value (a list when logged more than once)."""
        metrics = {k: v[0] if len(v) == 1 else list(v) for k, v in self._metrics.items()}
        return {name: metrics[name]} if name is not None and name in metrics else ({} if name else metrics)
