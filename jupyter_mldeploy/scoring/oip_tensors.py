"""Open Inference Protocol tensors on the wire: JSON ``data`` and the binary tensor extension, both ways.

An OIP request names tensors (``name``, ``datatype``, ``shape``, ``data``); with the
binary extension (what ``tritonclient.http`` sends by default) the JSON part is the
first ``Inference-Header-Content-Length`` bytes of the body and each tensor whose
``parameters.binary_data_size`` is set has its elements, little-endian, in the bytes
after it, in input order (``BYTES`` elements each prefixed by a 4-byte length).
:func:`decode_request` checks all of that and returns :class:`Tensor` objects;
:func:`encode_response` writes output tensors back, in JSON or binary as each was asked.
Standard library only (``struct``): no numpy in the runtime's default packages.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["DATATYPES", "FLOAT_TYPES", "HEADER_LENGTH", "INT_TYPES", "OipError", "Tensor", "decode_request", "encode_response"]

#: The header naming the length of the JSON part of a binary-extension body.
HEADER_LENGTH = b"inference-header-content-length"

#: OIP datatype -> struct code (little-endian, standard sizes); BYTES has its own framing.
DATATYPES: dict[str, str] = {
    "BOOL": "?", "UINT8": "B", "UINT16": "H", "UINT32": "I", "UINT64": "Q",
    "INT8": "b", "INT16": "h", "INT32": "i", "INT64": "q",
    "FP16": "e", "FP32": "f", "FP64": "d", "BYTES": "",
}
INT_TYPES = frozenset({"UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64"})
FLOAT_TYPES = frozenset({"FP16", "FP32", "FP64"})


class OipError(Exception):
    """A request the protocol refuses: answered ``{"error": message}`` with ``status``."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Tensor:
    """One named tensor: its datatype, shape and elements in row-major order (a flat list)."""

    name: str
    datatype: str
    shape: list[int]
    data: list[Any]
    #: the tensor's own ``parameters`` (``binary_data`` for requested outputs)
    parameters: dict[str, Any] = field(default_factory=dict)

    def value(self) -> Any:
        """The elements nested by the shape (a scalar for shape ``[]``); BYTES as text when UTF-8."""
        data = self.data
        if self.datatype == "BYTES":
            data = [_text(v) for v in data]
        if not self.shape:
            return data[0] if data else None
        return _nest(data, self.shape)


def _text(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return bytes(value)
    return value


def _nest(flat: list[Any], shape: Sequence[int]) -> list[Any]:
    if len(shape) == 1:
        return flat
    step = math.prod(shape[1:])
    return [_nest(flat[i * step:(i + 1) * step], shape[1:]) for i in range(shape[0])]


def _flatten(data: Any, shape: list[int], name: str) -> list[Any]:
    """The elements of ``data`` (flat, or nested as ``shape``) as one list; raises when the count is wrong."""
    want = math.prod(shape)
    if not isinstance(data, list):
        data = [data]
    if data and not isinstance(data[0], list):
        flat = data
    else:
        flat = []
        stack: list[Any] = [data]
        while stack:  # iterative, so deep nesting cannot blow the stack
            item = stack.pop()
            if isinstance(item, list):
                stack.extend(reversed(item))
            else:
                flat.append(item)
    if len(flat) != want:
        raise OipError(
            f"input {name!r} has {len(flat)} element(s) but its shape {shape} holds {want}: "
            "send as many values as the shape says"
        )
    return flat


def _check_elements(flat: list[Any], datatype: str, name: str) -> None:
    if datatype == "BOOL":
        ok = all(type(v) is bool for v in flat)
    elif datatype in INT_TYPES:
        ok = all(type(v) is int for v in flat)
    elif datatype in FLOAT_TYPES:
        ok = all(type(v) in (float, int) for v in flat)
    else:
        ok = all(type(v) is str for v in flat)
    if not ok:
        bad = next(v for v in flat if not (
            (datatype == "BOOL" and type(v) is bool) or (datatype in INT_TYPES and type(v) is int)
            or (datatype in FLOAT_TYPES and type(v) in (float, int)) or (datatype == "BYTES" and type(v) is str)))
        raise OipError(f"input {name!r} is {datatype} but holds {json.dumps(bad)[:40]} ({type(bad).__name__}): "
                       f"send {_kind(datatype)} values, or the datatype that matches them")


def _kind(datatype: str) -> str:
    if datatype == "BOOL":
        return "true/false"
    if datatype in INT_TYPES:
        return "integer"
    if datatype in FLOAT_TYPES:
        return "number"
    return "string"


def _shape(raw: Any, name: str) -> list[int]:
    if not isinstance(raw, list) or not all(type(d) is int and d >= 0 for d in raw):
        raise OipError(f"input {name!r}: shape must be a list of non-negative integers, got {json.dumps(raw)[:60]}")
    return raw


def _unpack(chunk: bytes, datatype: str, count: int, name: str) -> list[Any]:
    if datatype == "BYTES":
        out: list[Any] = []
        pos = 0
        while pos < len(chunk):
            if pos + 4 > len(chunk):
                raise OipError(f"input {name!r}: a BYTES element's 4-byte length is cut off")
            (size,) = struct.unpack_from("<I", chunk, pos)
            pos += 4
            if pos + size > len(chunk):
                raise OipError(f"input {name!r}: a BYTES element says {size} bytes but fewer follow")
            out.append(chunk[pos:pos + size])
            pos += size
        if len(out) != count:
            raise OipError(f"input {name!r} has {len(out)} BYTES element(s) but its shape holds {count}")
        return out
    code = DATATYPES[datatype]
    size = struct.calcsize("<" + code)
    if len(chunk) != count * size:
        raise OipError(f"input {name!r}: binary_data_size is {len(chunk)} bytes but {count} {datatype} "
                       f"element(s) take {count * size}")
    return list(struct.unpack(f"<{count}{code}", chunk))


def _pack(tensor: Tensor) -> bytes:
    if tensor.datatype == "BYTES":
        parts = []
        for v in tensor.data:
            raw = v if isinstance(v, bytes) else str(v).encode("utf-8")
            parts.append(struct.pack("<I", len(raw)) + raw)
        return b"".join(parts)
    return struct.pack(f"<{len(tensor.data)}{DATATYPES[tensor.datatype]}", *tensor.data)


def decode_request(body: bytes, header_length: int | None) -> tuple[dict[str, Any], list[Tensor]]:
    """Split and check an infer body; return the request object and its input tensors.

    Raises
    ------
    OipError
        The body is not the JSON object an infer request is, a tensor is malformed (name,
        datatype, shape, element count or type), or the binary part does not match the sizes.
    """
    if header_length is not None:
        if header_length < 0 or header_length > len(body):
            raise OipError(f"Inference-Header-Content-Length is {header_length} but the body has "
                           f"{len(body)} bytes: send the length of the JSON part")
        head, rest = body[:header_length], memoryview(body)[header_length:]
    else:
        head, rest = body, memoryview(b"")
    try:
        request = json.loads(head)
    except (ValueError, RecursionError) as err:
        raise OipError(f"the infer request is not valid JSON ({err}); send "
                       '{"inputs": [{"name": ..., "shape": [...], "datatype": "FP64", "data": [...]}]}') from None
    if not isinstance(request, dict) or not isinstance(request.get("inputs"), list) or not request["inputs"]:
        raise OipError('an infer request is a JSON object with a non-empty "inputs" list of tensors')
    tensors: list[Tensor] = []
    seen: set[str] = set()
    offset = 0
    for raw in request["inputs"]:
        if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
            raise OipError('every input is an object with a "name", "shape", "datatype" and "data"')
        name = raw["name"]
        if name in seen:
            raise OipError(f"input {name!r} is given twice")
        seen.add(name)
        datatype = raw.get("datatype")
        if datatype not in DATATYPES:
            raise OipError(f"input {name!r}: datatype {json.dumps(datatype)[:30]} is not one of "
                           f"{', '.join(DATATYPES)}")
        shape = _shape(raw.get("shape"), name)
        params = raw.get("parameters") or {}
        if not isinstance(params, dict):
            raise OipError(f"input {name!r}: parameters must be an object")
        size = params.get("binary_data_size")
        if size is not None:
            if type(size) is not int or size < 0 or offset + size > len(rest):
                raise OipError(f"input {name!r}: binary_data_size {size} goes past the {len(rest)} binary "
                               "byte(s) after the JSON header")
            data = _unpack(bytes(rest[offset:offset + size]), datatype, math.prod(shape), name)
            offset += size
        elif "data" in raw:
            data = _flatten(raw["data"], shape, name)
            _check_elements(data, datatype, name)
        else:
            raise OipError(f"input {name!r} has no \"data\" (or binary_data_size with the binary extension)")
        tensors.append(Tensor(name, datatype, shape, data))
    if offset != len(rest):
        raise OipError(f"{len(rest) - offset} binary byte(s) after the JSON header belong to no input: "
                       "give each binary input its binary_data_size")
    return request, tensors


def encode_response(head: dict[str, Any], outputs: list[Tensor], binary: bool) -> tuple[bytes, int | None]:
    """The response body for ``outputs`` (in ``head["outputs"]``), and the JSON length when binary parts follow.

    An output goes binary when ``binary`` (the request's ``binary_data_output``) or its own
    ``parameters.binary_data`` says so.
    """
    entries = []
    blobs = []
    for tensor in outputs:
        entry: dict[str, Any] = {"name": tensor.name, "datatype": tensor.datatype, "shape": tensor.shape}
        want_binary = tensor.parameters.get("binary_data", binary)
        if want_binary:
            blob = _pack(tensor)
            entry["parameters"] = {"binary_data_size": len(blob)}
            blobs.append(blob)
        else:
            entry["data"] = [_text(v) if isinstance(v, bytes) else v for v in tensor.data]
        entries.append(entry)
    head["outputs"] = entries
    text = json.dumps(head).encode()
    if not blobs:
        return text, None
    return b"".join([text, *blobs]), len(text)
