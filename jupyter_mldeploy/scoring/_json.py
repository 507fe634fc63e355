"""JSON in and out of entry scripts: strict parsing with helpful errors, fast serialisation.

:func:`encode_result` turns what ``run()`` returned into JSON bytes the way
azmlinfsrv does (``json.dumps`` with its defaults) with a fallback for numpy,
pandas, dates and sets, which azmlinfsrv cannot send at all.
:func:`parse_body` reads a request body as JSON and says where it is broken.
"""

from __future__ import annotations

import base64
import datetime as _dt
import decimal
import enum
import json
import uuid
from pathlib import PurePath
from typing import Any

from ..errors import ScoringInputError

__all__ = ["UnserializableResultError", "encode_result", "json_example", "parse_body"]

_dumps = json.dumps
#: Example bodies shown in error messages.
DEFAULT_EXAMPLE = '{"data": [[1.0, 2.0]]}'


class UnserializableResultError(TypeError):
    """``run()`` returned a value that cannot be written as JSON (internal: becomes a 500)."""


def _default(obj: Any, orient: str | None = None) -> Any:
    """``json.dumps`` fallback for values scripts commonly return (numpy, pandas, dates, sets)."""
    module = type(obj).__module__ or ""
    if module.startswith("pandas"):
        to_json = getattr(obj, "to_json", None)
        if to_json is not None:
            if hasattr(obj, "columns"):  # DataFrame
                return json.loads(to_json(orient=orient or "records", date_format="iso"))
            return json.loads(to_json(orient="values", date_format="iso"))
        if hasattr(obj, "isoformat"):  # Timestamp
            return obj.isoformat()
    if module.startswith("numpy"):
        tolist = getattr(obj, "tolist", None)
        if tolist is not None:
            return tolist()
    if isinstance(obj, (_dt.datetime, _dt.date, _dt.time)):
        return obj.isoformat()
    if isinstance(obj, (set, frozenset)):
        return sorted(obj, key=repr)
    if isinstance(obj, decimal.Decimal):
        return float(obj)
    if isinstance(obj, (uuid.UUID, PurePath)):
        return str(obj)
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, (bytes, bytearray)):
        raise UnserializableResultError(
            f"run() returned bytes inside a {type(obj).__name__} container; return the bytes on their own "
            f"(sent as application/octet-stream) or put base64 text in the JSON "
            f"(e.g. {base64.b64encode(b'...').decode()!r})"
        )
    raise UnserializableResultError(
        f"run() returned a value of type {module + '.' if module != 'builtins' else ''}{type(obj).__qualname__} "
        "that cannot be written as JSON; return a dict, list, str or number (numpy arrays and pandas "
        "objects are converted), or an AMLResponse for other content"
    )


def encode_result(value: Any, orient: str | None = None) -> bytes:
    """Return ``value`` as JSON bytes; raise :class:`UnserializableResultError` when it cannot be.

    Plain Python values take the C encoder's fast path; numpy arrays and
    scalars become lists and numbers, pandas DataFrames use ``orient``
    (``"records"`` unless the output schema says otherwise).

    Examples
    --------
    >>> encode_result({"a": [1, 2]})
    b'{"a": [1, 2]}'
    >>> import numpy as np
    >>> encode_result(np.array([1.5, 2.0]))
    b'[1.5, 2.0]'
    """
    try:
        return _dumps(value).encode()
    except TypeError:
        pass
    except ValueError as err:  # circular reference
        raise UnserializableResultError(f"run() returned a value that cannot be written as JSON: {err}") from err
    try:
        return _dumps(value, default=lambda obj: _default(obj, orient)).encode()
    except UnserializableResultError:
        raise
    except (TypeError, ValueError) as err:
        raise UnserializableResultError(f"run() returned a value that cannot be written as JSON: {err}") from err


def parse_body(text: str, example: str = DEFAULT_EXAMPLE) -> Any:
    """Parse ``text`` as JSON, raising :class:`ScoringInputError` (400 InvalidJSON) with the position.

    Examples
    --------
    >>> parse_body('{"data": [1]}')
    {'data': [1]}
    >>> parse_body('{"data": }')
    Traceback (most recent call last):
    ...
    jupyter_mldeploy.errors.ScoringInputError: Invalid JSON at line 1 column 10: Expecting value. Send a JSON document like {"data": [[1.0, 2.0]]}
    """
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise ScoringInputError(invalid_json_message(err, example), 400, "InvalidJSON") from err
    except RecursionError as err:
        raise ScoringInputError(
            f"Invalid JSON: the document is nested too deeply to read. Send a flatter JSON document like {example}",
            400,
            "InvalidJSON",
        ) from err
    except ValueError as err:  # e.g. integers longer than Python's digit limit
        raise ScoringInputError(f"Invalid JSON: {err}. Send a JSON document like {example}", 400, "InvalidJSON") from err


def invalid_json_message(err: json.JSONDecodeError, example: str = DEFAULT_EXAMPLE) -> str:
    """Say where a JSON document is broken and what a good one looks like."""
    if not err.doc.strip():
        return f"The request body is empty. Send a JSON document like {example}"
    return f"Invalid JSON at line {err.lineno} column {err.colno}: {err.msg}. Send a JSON document like {example}"


def json_example(value: Any, limit: int = 200) -> str:
    """Return ``value`` as compact JSON for messages, cut to ``limit`` characters."""
    try:
        text = json.dumps(value, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
