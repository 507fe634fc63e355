"""The werkzeug-style containers entry scripts get, without werkzeug: headers, multi-value args, uploads.

:class:`Headers` is what ``request_headers`` and ``AMLRequest.headers`` are;
:class:`MultiDict` holds query and form arguments; :class:`FileStorage` is one
uploaded file; :func:`parse_multipart` fills the last two from a
``multipart/form-data`` body. The request objects in :mod:`.aml` hand these out.
"""

from __future__ import annotations

import email.parser
import email.policy
import io
import shutil
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

__all__ = ["FileStorage", "Headers", "MultiDict", "parse_multipart"]


class Headers(dict):  # type: ignore[type-arg]
    """Request headers as a dict with werkzeug-style names (``Content-Type``) and case-insensitive lookups.

    ``dict(request.headers)`` in azmlinfsrv gives title-cased names; this does too, and
    ``headers.get("content-type")`` works as well. Repeated headers are joined with ``", "``.

    Examples
    --------
    >>> h = Headers([("content-type", "application/json"), ("x-custom", "1")])
    >>> h["Content-Type"], h.get("CONTENT-TYPE"), "x-custom" in h
    ('application/json', 'application/json', True)
    """

    def __init__(self, items: Iterable[tuple[str, str]] | Mapping[str, str] = ()) -> None:
        pairs = items.items() if hasattr(items, "items") else items
        merged: dict[str, str] = {}
        get = merged.get
        for name, value in pairs:
            key = name.title()  # str.title() lower-cases the rest: "CONTENT-TYPE" -> "Content-Type"
            old = get(key)
            merged[key] = value if old is None else f"{old}, {value}"
        super().__init__(merged)

    def __getitem__(self, key: str) -> str:
        return dict.__getitem__(self, key.title() if isinstance(key, str) else key)

    def __contains__(self, key: object) -> bool:
        return dict.__contains__(self, key.title() if isinstance(key, str) else key)

    def get(self, key: str, default: Any = None, type: Callable[[str], Any] | None = None) -> Any:
        """Return the header ``key`` (any case), converted with ``type`` when given, else ``default``."""
        try:
            value = self[key]
        except KeyError:
            return default
        if type is None:
            return value
        try:
            return type(value)
        except (TypeError, ValueError):
            return default

    def getlist(self, key: str) -> list[str]:
        """Return the values of header ``key`` as a list (empty when absent)."""
        value = self.get(key)
        return [] if value is None else [v.strip() for v in value.split(",")]


class MultiDict(dict):  # type: ignore[type-arg]
    """Query or form arguments: ``args["k"]`` is the first value, ``getlist("k")`` all of them (as werkzeug)."""

    def __init__(self, pairs: Iterable[tuple[str, Any]] = ()) -> None:
        super().__init__()
        self._lists: dict[str, list[Any]] = {}
        for key, value in pairs:
            self._lists.setdefault(key, []).append(value)
            if key not in self:
                dict.__setitem__(self, key, value)

    def getlist(self, key: str, type: Callable[[Any], Any] | None = None) -> list[Any]:
        """Return every value given for ``key``."""
        values = list(self._lists.get(key, []))
        return values if type is None else [type(v) for v in values]

    def get(self, key: str, default: Any = None, type: Callable[[Any], Any] | None = None) -> Any:
        """Return the first value for ``key`` (converted with ``type`` when given), else ``default``."""
        if key not in self:
            return default
        value = dict.__getitem__(self, key)
        if type is None:
            return value
        try:
            return type(value)
        except (TypeError, ValueError):
            return default

    def lists(self) -> Iterator[tuple[str, list[Any]]]:
        """Yield ``(key, [values])`` pairs."""
        for key, values in self._lists.items():
            yield key, list(values)

    def to_dict(self, flat: bool = True) -> dict[str, Any]:
        """Return a plain dict: first values (``flat=True``) or lists of values."""
        return dict(self) if flat else {k: list(v) for k, v in self._lists.items()}


class FileStorage:
    """An uploaded file of a multipart form (``request.files["image"]``), like werkzeug's."""

    def __init__(self, data: bytes, filename: str | None, name: str, content_type: str | None) -> None:
        self.filename = filename
        self.name = name
        self.content_type = content_type
        self.mimetype = (content_type or "").split(";", 1)[0].strip()
        self.stream = io.BytesIO(data)

    def read(self, size: int = -1) -> bytes:
        """Read bytes from the uploaded file."""
        return self.stream.read(size)

    def save(self, dst: str | Path | io.IOBase, buffer_size: int = 16384) -> None:
        """Write the uploaded file to a path or an open binary file."""
        self.stream.seek(0)
        if isinstance(dst, (str, Path)):
            with open(dst, "wb") as fh:
                shutil.copyfileobj(self.stream, fh, buffer_size)
        else:
            shutil.copyfileobj(self.stream, dst, buffer_size)  # type: ignore[misc]

    def __repr__(self) -> str:
        return f"<FileStorage: {self.filename!r} ({self.content_type!r})>"


def parse_multipart(body: bytes, content_type: str) -> tuple[MultiDict, MultiDict]:
    """Split a multipart/form-data body into (form fields, files) with the stdlib email parser."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    form: list[tuple[str, Any]] = []
    files: list[tuple[str, Any]] = []
    if not message.is_multipart():
        return MultiDict(), MultiDict()
    for part in message.iter_parts():  # type: ignore[attr-defined]
        raw_name = part.get_param("name", header="content-disposition")
        if raw_name is None:
            continue
        name = str(raw_name if isinstance(raw_name, str) else raw_name[2])
        payload: bytes = part.get_payload(decode=True) or b""  # type: ignore[assignment]
        filename = part.get_filename()
        if filename is not None:
            files.append((name, FileStorage(payload, filename, name, part.get("content-type"))))
        else:
            charset = part.get_content_charset() or "utf-8"
            form.append((name, payload.decode(charset, errors="replace")))
    return MultiDict(form), MultiDict(files)
