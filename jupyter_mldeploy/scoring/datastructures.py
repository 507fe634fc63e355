"""The werkzeug-style containers entry scripts get, without werkzeug: headers, multi-value args, uploads.

:class:`Headers` is what ``request_headers`` is (a dict, as azmlinfsrv's
``dict(request.headers)``); :class:`HeaderList` is werkzeug's ``Headers``, what
``AMLRequest.headers`` (read-only) and ``AMLResponse.headers`` are: iterating
yields ``(name, value)`` pairs. :class:`MultiDict` holds query and form
arguments; :class:`FileStorage` is one uploaded file; :func:`parse_multipart`
fills the last two from a ``multipart/form-data`` body. The request and response
objects in :mod:`.aml` hand these out; tests/scoring/test_werkzeug_parity.py
checks them against werkzeug's own.
"""

from __future__ import annotations

import email.parser
import email.policy
import io
import shutil
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

__all__ = ["FileStorage", "HeaderList", "Headers", "MultiDict", "parse_multipart"]


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

    def listvalues(self) -> Iterator[list[Any]]:
        """Yield the list of values of each key."""
        for values in self._lists.values():
            yield list(values)

    def items(self, multi: bool = False) -> Iterator[tuple[str, Any]]:  # type: ignore[override]
        """Yield ``(key, first value)``, or every ``(key, value)`` pair with ``multi=True`` (as werkzeug)."""
        for key, values in self._lists.items():
            if multi:
                for value in values:
                    yield key, value
            else:
                yield key, values[0]

    def values(self) -> Iterator[Any]:  # type: ignore[override]
        """Yield the first value of each key."""
        for values in self._lists.values():
            yield values[0]

    def __repr__(self) -> str:
        return f"MultiDict({list(self.items(multi=True))!r})"

    def to_dict(self, flat: bool = True) -> dict[str, Any]:
        """Return a plain dict: first values (``flat=True``) or lists of values."""
        return dict(self) if flat else {k: list(v) for k, v in self._lists.items()}


class FileStorage:
    """An uploaded file of a multipart form (``request.files["image"]``), like werkzeug's."""

    def __init__(self, data: bytes, filename: str | None, name: str, content_type: str | None,
                 headers: Iterable[tuple[str, str]] = ()) -> None:
        self.filename = filename
        self.name = name
        self.content_type = content_type
        self.mimetype = (content_type or "").split(";", 1)[0].strip().lower()
        self.headers = HeaderList(headers, readonly=True)
        self.content_length = len(data)
        self.stream = io.BytesIO(data)

    @property
    def mimetype_params(self) -> dict[str, str]:
        """The parameters of the part's Content-Type (``{"charset": "utf-8"}``)."""
        return content_type_params(self.content_type or "")

    def __getattr__(self, name: str) -> Any:
        # readline, seek, tell, ... come from the stream, as werkzeug's FileStorage does
        if name == "stream":
            raise AttributeError(name)
        return getattr(self.stream, name)

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.stream)

    def __bool__(self) -> bool:
        return bool(self.filename)

    def close(self) -> None:
        """Close the underlying stream."""
        self.stream.close()

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
            files.append((name, FileStorage(payload, filename, name, part.get("content-type"),
                                            [(k, str(v)) for k, v in part.items()])))
        else:
            charset = part.get_content_charset() or "utf-8"
            form.append((name, payload.decode(charset, errors="replace")))
    return MultiDict(form), MultiDict(files)


def content_type_params(content_type: str) -> dict[str, str]:
    """The parameters of a Content-Type header (``{"charset": "utf-8"}``), names lower-cased."""
    params: dict[str, str] = {}
    for piece in content_type.split(";")[1:]:
        key, sep, value = piece.partition("=")
        if sep:
            params[key.strip().lower()] = value.strip().strip('"')
    return params


class HeaderList:
    """werkzeug's ``Headers``: ordered ``(name, value)`` pairs, case-insensitive lookups.

    Iterating yields ``(name, value)`` pairs, as in werkzeug (scripts written for
    azmlinfsrv do ``for name, value in request.headers``); ``headers["X"]`` and
    ``get`` give the first value, ``getlist``/``get_all`` every value; ``dict(headers)``
    maps each name to its first value. ``AMLRequest.headers`` is read-only (as Flask's);
    ``AMLResponse.headers`` can be changed with ``headers["X"] = v``, ``add``, ``set``,
    ``extend``, ``remove`` and ``del``.

    Examples
    --------
    >>> h = HeaderList([("Content-Type", "text/plain"), ("X-A", "1"), ("x-a", "2")])
    >>> list(h)[:1], h["content-type"], h.getlist("X-A")
    ([('Content-Type', 'text/plain')], 'text/plain', ['1', '2'])
    """

    def __init__(self, items: Iterable[tuple[str, Any]] | Mapping[str, Any] | None = (), *,
                 readonly: bool = False) -> None:
        self._items: list[tuple[str, str]] = []
        self._readonly = False
        if items:
            self.extend(items)
        self._readonly = readonly

    # --- reading -----------------------------------------------------------------------

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(list(self._items))

    def __len__(self) -> int:
        return len(self._items)

    def __bool__(self) -> bool:
        return bool(self._items)

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        low = key.lower()
        return any(k.lower() == low for k, _ in self._items)

    def __getitem__(self, key: str) -> str:
        if isinstance(key, int):
            return self._items[key]  # type: ignore[return-value]  # werkzeug allows headers[0]
        low = key.lower()
        for k, v in self._items:
            if k.lower() == low:
                return v
        raise KeyError(key)

    def get(self, key: str, default: Any = None, type: Callable[[str], Any] | None = None) -> Any:
        """The first value of ``key`` (any case), converted with ``type`` when given, else ``default``."""
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

    def getlist(self, key: str, type: Callable[[str], Any] | None = None) -> list[Any]:
        """Every value of ``key`` (empty when absent)."""
        low = key.lower()
        values = [v for k, v in self._items if k.lower() == low]
        if type is None:
            return values
        out = []
        for value in values:
            try:
                out.append(type(value))
            except (TypeError, ValueError):
                continue
        return out

    def get_all(self, key: str) -> list[str]:
        """Every value of ``key`` (werkzeug's older name for :meth:`getlist`)."""
        return self.getlist(key)

    def keys(self, lower: bool = False) -> list[str]:
        """The names in order (repeated names repeat, as werkzeug)."""
        return [k.lower() if lower else k for k, _ in self._items]

    def values(self) -> list[str]:
        """The values in order."""
        return [v for _, v in self._items]

    def items(self, lower: bool = False) -> list[tuple[str, str]]:
        """The ``(name, value)`` pairs in order."""
        return [(k.lower() if lower else k, v) for k, v in self._items]

    def to_wsgi_list(self) -> list[tuple[str, str]]:
        """The pairs as a list (what WSGI servers take)."""
        return list(self._items)

    def copy(self) -> HeaderList:
        """A mutable copy."""
        return HeaderList(self._items)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, HeaderList):
            return self._items == other._items
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __str__(self) -> str:
        return "".join(f"{k}: {v}\r\n" for k, v in self._items) + "\r\n"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._items!r})"

    # --- changing (responses only) ------------------------------------------------------

    def _check(self) -> None:
        if self._readonly:
            raise TypeError("request headers are read-only (as in Flask); copy them with headers.copy()")

    def add(self, key: str, value: Any) -> None:
        """Add a header, keeping others of that name."""
        self._check()
        self._items.append((str(key), str(value)))

    add_header = add

    def set(self, key: str, value: Any) -> None:
        """Replace every header ``key`` with one of ``value`` (in the place of the first)."""
        self._check()
        low = str(key).lower()
        out: list[tuple[str, str]] = []
        placed = False
        for k, v in self._items:
            if k.lower() == low:
                if not placed:
                    out.append((str(key), str(value)))
                    placed = True
            else:
                out.append((k, v))
        if not placed:
            out.append((str(key), str(value)))
        self._items = out

    def __setitem__(self, key: str, value: Any) -> None:
        self.set(key, value)

    def setdefault(self, key: str, default: Any) -> str:
        """The first value of ``key``; set it to ``default`` first when absent."""
        if key not in self:
            self.add(key, default)
        return self[key]

    def remove(self, key: str) -> None:
        """Remove every header ``key`` (none: nothing happens)."""
        self._check()
        low = key.lower()
        self._items = [(k, v) for k, v in self._items if k.lower() != low]

    def __delitem__(self, key: str) -> None:
        self.remove(key)

    def pop(self, key: str, default: Any = KeyError) -> Any:
        """Remove ``key`` and return its first value (``default`` when absent, else KeyError)."""
        try:
            value = self[key]
        except KeyError:
            if default is KeyError:
                raise
            return default
        self.remove(key)
        return value

    def extend(self, items: Iterable[tuple[str, Any]] | Mapping[str, Any] | HeaderList) -> None:
        """Add pairs from a mapping, a list of pairs or other headers."""
        self._check()
        pairs = items.items() if isinstance(items, Mapping) else items
        for key, value in pairs:
            self._items.append((str(key), str(value)))

    def update(self, items: Iterable[tuple[str, Any]] | Mapping[str, Any]) -> None:
        """Replace the headers named in ``items`` with their new values."""
        pairs = list(items.items() if isinstance(items, Mapping) else items)
        for key, _ in pairs:
            self.remove(key)
        self.extend(pairs)

    def clear(self) -> None:
        """Remove every header."""
        self._check()
        self._items = []
