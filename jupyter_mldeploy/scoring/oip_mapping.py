"""Map Open Inference Protocol tensors to an entry script's input, its answer to output tensors, its schema to metadata.

The script is called exactly as ``/score`` calls it, with the JSON body built here:

* a script with inference-schema decorators gets its parameters **by name**: an input
  tensor named like a parameter is that parameter's value (nested as its shape; a BYTES
  tensor of one element holding JSON for dict parameters, a one-element tensor for
  scalars), and for a script whose one DataFrame parameter is not given by name, tensors
  named like the sample's columns become that DataFrame's columns. inference-schema then
  converts them to numpy and pandas types, with the same checks as on ``/score``;
* a plain ``run(raw_data)`` (or ``@rawhttp``) script gets ``{"data": <the single input>}``.

The answer becomes tensors: a JSON object gives one tensor per key, a list of records
one per column, anything else one tensor ``output-0``; the datatype is the output
schema's (numpy dtype, DataFrame columns) when there is one, else what the values are.
"""

from __future__ import annotations

import json
import math
from typing import Any

from .oip_tensors import FLOAT_TYPES, INT_TYPES, OipError, Tensor

__all__ = ["DEFAULT_OUTPUT", "model_io", "outputs_from_answer", "script_body"]

#: The name of the one output tensor of a script that returns no JSON object.
DEFAULT_OUTPUT = "output-0"

def _datatype_of_values(flat: list[Any]) -> str:
    if not flat:
        return "FP64"
    kinds = {type(v) for v in flat}
    if kinds == {bool}:
        return "BOOL"
    if kinds == {int}:
        return "INT64"
    if kinds <= {int, float}:
        return "FP64"
    if kinds == {str}:
        return "BYTES"
    return ""


def _shape_and_flat(value: Any) -> tuple[list[int], list[Any]] | None:
    """The shape and elements of a rectangular nesting of lists, or ``None`` when it is ragged or mixed."""
    if not isinstance(value, list):
        return ([], [value]) if isinstance(value, (bool, int, float, str)) else None
    shape: list[int] = []
    probe: Any = value
    while isinstance(probe, list):
        shape.append(len(probe))
        if not probe:
            break
        probe = probe[0]
    flat: list[Any] = []
    level = [value]
    for size in shape:
        nxt: list[Any] = []
        for item in level:
            if not isinstance(item, list) or len(item) != size:
                return None
            nxt.extend(item)
        level = nxt
    for item in level:
        if isinstance(item, (list, dict)) or item is None:
            return None
        flat.append(item)
    return shape, flat


def _tensor_of(name: str, value: Any, datatype: str | None) -> Tensor:
    got = _shape_and_flat(value)
    kind = _datatype_of_values(got[1]) if got is not None else ""
    if got is None or not kind:
        return Tensor(name, "BYTES", [1], [json.dumps(value)])  # not a tensor: its JSON text
    shape, flat = got
    if datatype and datatype != kind and not (
            (kind == "INT64" and (datatype in INT_TYPES or datatype in FLOAT_TYPES)) or (kind == "FP64" and datatype in FLOAT_TYPES)):
        datatype = None  # the schema says another kind than the values: trust the values
    if not shape:
        shape = [1]
    return Tensor(name, datatype or kind, shape, flat)


# --- the schema, as OIP sees it ------------------------------------------------------------

_INT_FORMATS = {"int8": "INT8", "int16": "INT16", "int32": "INT32", "int64": "INT64",
                "uint8": "UINT8", "uint16": "UINT16", "uint32": "UINT32", "uint64": "UINT64"}


def _leaf_datatype(fragment: dict[str, Any]) -> str:
    kind, fmt = fragment.get("type"), str(fragment.get("format", ""))
    if kind == "integer":
        return _INT_FORMATS.get(fmt, "INT64")
    if kind == "number":
        return "FP32" if fmt == "float" else "FP16" if fmt == "half" else "FP64"
    if kind == "boolean":
        return "BOOL"
    return "BYTES"


def _is_frame(fragment: Any) -> bool:
    return isinstance(fragment, dict) and str(fragment.get("format", "")).startswith("pandas.DataFrame")


def _tensor_io(fragment: Any, name: str, objects_as_tensors: bool) -> list[dict[str, Any]]:
    """Tensor metadata (name, datatype, shape) of one swagger fragment of the schema decorators.

    Arrays give their depth as the shape (a dimension the schema fixes keeps its size),
    scalars shape ``[1]``; a ``records`` DataFrame one tensor per column; an object one
    tensor per key when ``objects_as_tensors`` (answers), else one BYTES tensor of JSON.
    """
    if not isinstance(fragment, dict):
        return [{"name": name, "datatype": "BYTES", "shape": [1]}]
    if _is_frame(fragment):
        props = (fragment.get("items") or {}).get("properties") or {}
        if objects_as_tensors and props:
            return [{"name": str(c), "datatype": _leaf_datatype(f), "shape": [-1]} for c, f in props.items()]
        return [{"name": name, "datatype": "BYTES", "shape": [1]}]
    if fragment.get("type") == "object":
        props = fragment.get("properties")
        if objects_as_tensors and isinstance(props, dict) and props:
            return [t for key, sub in props.items() for t in _tensor_io(sub, str(key), False)]
        return [{"name": name, "datatype": "BYTES", "shape": [1]}]
    shape: list[int] = []
    level = fragment
    while isinstance(level, dict) and level.get("type") == "array":
        fixed = level.get("minItems")
        shape.append(int(fixed) if shape and fixed is not None and fixed == level.get("maxItems") else -1)
        level = level.get("items") or {}
    if isinstance(level, dict) and level.get("type") in ("object", "array"):
        return [{"name": name, "datatype": "BYTES", "shape": [1]}]
    return [{"name": name, "datatype": _leaf_datatype(level), "shape": shape or [1]}]


def _frame_params(schema: Any) -> list[str]:
    props = schema.input_schema.get("properties") or {}
    return [p.name for p in schema.params if _is_frame(props.get(p.name))]


def model_io(schema: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The ``inputs`` and ``outputs`` of a model's metadata, from its script's schema (``None``: a plain script)."""
    if schema is None:
        return [{"name": "data", "datatype": "FP64", "shape": [-1, -1]}], []
    props = schema.input_schema.get("properties") or {}
    frames = _frame_params(schema)
    inputs: list[dict[str, Any]] = []
    for param in schema.params:
        entry = _tensor_io(props.get(param.name), param.name, len(frames) == 1 and frames[0] == param.name)
        if not param.required:
            for item in entry:
                item["parameters"] = {"optional": True}
        inputs += entry
    return inputs, _outputs_of(schema)


def _outputs_of(schema: Any) -> list[dict[str, Any]]:
    if not schema.output_schema:
        return []
    return _tensor_io(schema.output_schema, DEFAULT_OUTPUT, True)


# --- requests in -------------------------------------------------------------------------


def _one(tensor: Tensor) -> Any:
    if math.prod(tensor.shape) != 1:
        raise OipError(f"input {tensor.name!r} is one value: send shape [1], not {tensor.shape}")
    return tensor.value() if not tensor.shape else tensor.data[0] if tensor.datatype != "BYTES" else tensor.value()[0]


def _json_tensor(tensor: Tensor) -> Any:
    text = _one(tensor)
    if tensor.datatype != "BYTES" or not isinstance(text, str):
        raise OipError(f"input {tensor.name!r} takes a BYTES tensor of one element holding JSON text")
    try:
        return json.loads(text)
    except ValueError as err:
        raise OipError(f"input {tensor.name!r}: its text is not JSON ({err})") from None


def _param_value(param: Any, tensor: Tensor) -> Any:
    cls = type(param.param_type).__name__
    sample: Any = getattr(param.param_type, "sample_input", None)
    if cls == "PandasParameterType" or (cls == "StandardPythonParameterType" and isinstance(sample, dict)):
        if tensor.datatype == "BYTES":
            return _json_tensor(tensor)
        if cls == "PandasParameterType" and len(tensor.shape) == 2 and hasattr(sample, "columns"):
            columns = [str(c) for c in sample.columns]
            if tensor.shape[1] == len(columns):
                return _records(param, columns, [list(r) for r in zip(*tensor.value())])
        raise OipError(f"input {tensor.name!r} takes a BYTES tensor holding JSON"
                       + (" (or one tensor per column)" if cls == "PandasParameterType" else ""))
    if cls == "StandardPythonParameterType" and not isinstance(sample, list):
        return _one(tensor)
    return tensor.value()


def _records(param: Any, columns: list[str], values: list[list[Any]]) -> Any:
    """A DataFrame's JSON in the parameter's orient, from one list of values per column."""
    rows = [list(r) for r in zip(*values)]
    orient = getattr(param.param_type, "orient", "records")
    if orient == "split":
        return {"columns": columns, "data": rows}
    if orient == "records":
        return [dict(zip(columns, r)) for r in rows]
    raise OipError(f"parameter {param.name!r} reads orient {orient!r}: send it as one BYTES tensor of that JSON")


def script_body(schema: Any, inputs: list[Tensor]) -> dict[str, Any]:
    """The JSON body ``/score`` would get for these input tensors (see the module docstring).

    Raises
    ------
    OipError
        An input names no parameter (or column), or a plain script got more than one input.
    """
    if schema is None:
        if len(inputs) != 1:
            raise OipError(f"this model's run(raw_data) takes one input, got {len(inputs)} "
                           f"({', '.join(t.name for t in inputs)}): send a single tensor, which becomes "
                           '{"data": ...}')
        return {"data": inputs[0].value()}
    by_name = {t.name: t for t in inputs}
    body: dict[str, Any] = {}
    params = {p.name: p for p in schema.params}
    for name, tensor in by_name.items():
        if name in params:
            param = params[name]
            body[name] = tensor.value() if param.param_type is None else _param_value(param, tensor)
    frames = [params[n] for n in _frame_params(schema)]
    if len(frames) == 1 and frames[0].name not in body:
        frame = frames[0]
        columns = [str(c) for c in getattr(frame.param_type.sample_input, "columns", [])]
        given = [c for c in columns if c in by_name and c not in params]
        if given:
            missing = [c for c in columns if c not in by_name]
            if missing:
                raise OipError(f"the DataFrame {frame.name!r} has the column(s) {', '.join(columns)}: "
                               f"input(s) {', '.join(missing)} missing")
            cols = [by_name[c] for c in columns]
            lengths = {math.prod(t.shape) for t in cols}
            if len(lengths) != 1:
                raise OipError(f"the column inputs of {frame.name!r} have different lengths: send one value per row "
                               "in each")
            body[frame.name] = _records(frame, columns, [[_flat_text(t, i) for i in range(len(t.data))] for t in cols])
    known = set(params)
    if len(frames) == 1:
        known |= {str(c) for c in getattr(frames[0].param_type.sample_input, "columns", [])}
    unknown = [n for n in by_name if n not in known]
    if unknown:
        names = [i["name"] for i in model_io(schema)[0]]
        raise OipError(f"unknown input(s) {', '.join(map(repr, unknown))}: this model's inputs are {', '.join(names)}")
    return body


def _flat_text(tensor: Tensor, i: int) -> Any:
    value = tensor.data[i]
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "replace")
    return value


# --- answers out ---------------------------------------------------------------------------


def _declared_types(schema: Any) -> dict[str, str]:
    if schema is None:
        return {}
    return {o["name"]: o["datatype"] for o in _outputs_of(schema)}


def outputs_from_answer(schema: Any, answer: Any) -> list[Tensor]:
    """Output tensors of a script's JSON answer (see the module docstring)."""
    declared = _declared_types(schema)
    if isinstance(answer, dict):
        return [_tensor_of(str(k), v, declared.get(str(k))) for k, v in answer.items()]
    if (isinstance(answer, list) and answer and all(isinstance(r, dict) for r in answer)
            and len({tuple(r) for r in answer}) == 1):
        columns = list(answer[0])
        return [_tensor_of(str(c), [r[c] for r in answer], declared.get(str(c))) for c in columns]
    return [_tensor_of(DEFAULT_OUTPUT, answer, declared.get(DEFAULT_OUTPUT))]
