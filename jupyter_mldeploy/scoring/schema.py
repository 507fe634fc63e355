"""``inference_schema`` decorators on ``run()``: find the declared parameters and turn JSON into typed arguments.

:func:`inspect_run_schema` reads the ``@input_schema``/``@output_schema``
decorators once, at load time. :meth:`RunSchema.arguments` then converts a
parsed JSON body into ``run()``'s keyword arguments with inference_schema's own
conversion functions, and raises :class:`SchemaInputError` naming the parameter
and the expected type/shape when the body does not fit (azmlinfsrv answers
such bodies with a generic 500).
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import ScoringInputError
from ._json import json_example

__all__ = ["InputParam", "RunSchema", "SchemaInputError", "describe_type", "inspect_run_schema"]


class SchemaInputError(ScoringInputError):
    """A JSON body does not fit ``run()``'s declared schema (400 missing/not an object, 422 wrong type/shape)."""

    def __init__(self, message: str, status: int = 422, parameter: str | None = None) -> None:
        super().__init__(message, status, "SchemaValidation")
        self.parameter = parameter


@dataclass(frozen=True)
class InputParam:
    """One parameter of ``run()`` and, when decorated, its inference_schema parameter type."""

    name: str
    param_type: Any = None  # AbstractParameterType or None (undecorated parameter)
    convert: bool = True
    optional: bool = False
    default: Any = inspect.Parameter.empty

    @property
    def required(self) -> bool:
        """True when a request must give a value (not optional and no default in ``run()``)."""
        return not self.optional and self.default is inspect.Parameter.empty


@dataclass
class RunSchema:
    """What the inference_schema decorators of one ``run()`` declare."""

    params: tuple[InputParam, ...]
    input_schema: dict[str, Any]
    output_schema: dict[str, Any] | None
    supported_versions: list[str]
    #: the undecorated function, callable directly when only schema decorators wrap it
    base_function: Callable[..., Any] | None = None
    output_orient: str | None = None
    _example: str = field(default="", repr=False)

    @property
    def example(self) -> str:
        """A JSON example body built from the decorators' samples (for error messages)."""
        if not self._example:
            self._example = json_example(self.input_schema.get("example", {}))
        return self._example

    def arguments(self, body: Any) -> dict[str, Any]:
        """Convert a parsed JSON body (an object) into ``run()``'s keyword arguments.

        Raises
        ------
        SchemaInputError
            400 when the body is not an object or lacks a required parameter,
            422 when a value does not convert to the declared type or shape.
        """
        if not isinstance(body, dict):
            raise SchemaInputError(
                f"The body must be a JSON object with the parameters {self._names()}, got a JSON "
                f"{_json_kind(body)}. Send a body like {self.example}",
                400,
            )
        kwargs: dict[str, Any] = {}
        for param in self.params:
            if param.name in body:
                value = body[param.name]
            elif param.required:
                raise SchemaInputError(
                    f"Missing parameter {param.name!r}{_expected(param)}. Send a body like {self.example}",
                    400,
                    param.name,
                )
            elif param.default is not inspect.Parameter.empty:
                continue  # let run() use its own default
            else:
                value = None
            if param.param_type is not None and param.convert and not (param.optional and not value):
                value = _convert(param, value, self.example)
            kwargs[param.name] = value
        return kwargs

    def _names(self) -> str:
        return ", ".join(repr(p.name) for p in self.params) or "(none)"


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return "null" if value is None else type(value).__name__


def _convert(param: InputParam, value: Any, example: str) -> Any:
    from inference_schema.schema_decorators import _deserialize_input_argument

    _check_typed_keys(param, param.param_type, value, param.name)
    try:
        converted = _deserialize_input_argument(value, param.param_type, param.name)
        _check_columns(param, converted)
        return converted
    except SchemaInputError:
        raise
    except Exception as err:
        reason = (str(err) or type(err).__name__).rstrip(". ")
        raise SchemaInputError(
            f"Parameter {param.name!r} does not match its schema: {reason}{_expected(param)}. "
            f"Send a body like {example}",
            422,
            param.name,
        ) from err


def _check_typed_keys(param: InputParam, param_type: Any, value: Any, where: str) -> None:
    """Dict samples: keys declared with their own parameter type must be present (inference_schema skips them)."""
    typed = getattr(param_type, "sample_data_type_map", None)
    if not typed or not isinstance(value, dict):
        return
    missing = [k for k in typed if k not in value]
    if missing:
        raise SchemaInputError(
            f"Parameter {param.name!r} does not match its schema: {where} lacks the key(s) "
            f"{', '.join(map(repr, missing))} ({'; '.join(f'{k}: {describe_type(typed[k])}' for k in missing)}).",
            422,
            param.name,
        )
    for key, sub_type in typed.items():
        _check_typed_keys(param, sub_type, value[key], f"{where}.{key}")


def _check_columns(param: InputParam, frame: Any) -> None:
    """DataFrames must have the sample's columns (inference_schema checks only their number)."""
    sample: Any = getattr(param.param_type, "sample_input", None)
    if type(param.param_type).__name__ != "PandasParameterType" or not hasattr(frame, "columns") or sample is None:
        return
    if not (getattr(param.param_type, "enforce_shape", True) or getattr(param.param_type, "enforce_column_type", True)):
        return
    expected = [str(c) for c in sample.columns]
    got = [str(c) for c in frame.columns]
    missing = [c for c in expected if c not in got]
    unexpected = [c for c in got if c not in expected]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing column(s) {', '.join(map(repr, missing))}")
        if unexpected:
            parts.append(f"unexpected column(s) {', '.join(map(repr, unexpected))}")
        raise SchemaInputError(
            f"Parameter {param.name!r} does not match its schema: {' and '.join(parts)}{_expected(param)}.",
            422,
            param.name,
        )


def describe_type(param_type: Any) -> str:
    """Say in words what an inference_schema parameter type expects (for error messages)."""
    cls = type(param_type).__name__
    sample = getattr(param_type, "sample_input", None)
    if cls == "NumpyParameterType":
        shape = tuple(getattr(sample, "shape", ()))
        if getattr(param_type, "enforce_shape", True) and shape:
            shape_text = "(n" + "".join(f", {d}" for d in shape[1:]) + (",)" if len(shape) == 1 else ")")
            shape_text = f" of shape {shape_text}"
        else:
            shape_text = ""
        return f"a numpy array{shape_text} with dtype {getattr(sample, 'dtype', '?')}"
    if cls == "PandasParameterType":
        dtypes = getattr(sample, "dtypes", None)
        cols = ", ".join(f"{c}: {t}" for c, t in dtypes.items()) if dtypes is not None else "?"
        return f"a pandas DataFrame in {getattr(param_type, 'orient', 'records')!r} orient with columns ({cols})"
    if cls == "StandardPythonParameterType":
        kind = type(sample).__name__
        return {"dict": "a JSON object", "list": "a JSON array", "str": "a string", "int": "an integer",
                "float": "a number", "bool": "a boolean"}.get(kind, f"a {kind}")
    return f"a {cls}"


def _expected(param: InputParam) -> str:
    return f" (expected {describe_type(param.param_type)})" if param.param_type is not None else ""


def _schema_layers(run: Any) -> tuple[list[tuple[str, dict[str, Any]]], Any, bool]:
    """Walk wrapt layers: ([(kind, closure vars)], base function, only schema layers?)."""
    layers: list[tuple[str, dict[str, Any]]] = []
    only_schema = True
    layer = run
    while hasattr(layer, "_self_wrapper") and hasattr(layer, "__wrapped__"):
        wrapper = layer._self_wrapper
        qualname = getattr(wrapper, "__qualname__", "")
        code = getattr(wrapper, "__code__", None)
        cells = getattr(wrapper, "__closure__", None) or ()
        names = code.co_freevars if code is not None else ()
        values = {n: c.cell_contents for n, c in zip(names, cells)}
        if qualname.startswith("input_schema."):
            layers.append(("input", values))
        elif qualname.startswith("output_schema."):
            layers.append(("output", values))
        else:
            only_schema = False
        layer = layer.__wrapped__
    if hasattr(layer, "__wrapped__"):  # functools.wraps-style decorators below the schema ones
        only_schema = False
    return layers, layer, only_schema


def _tighten(fragment: dict[str, Any], param_type: Any) -> None:
    """Write the checks conversion enforces into the swagger fragment, so the spec says what is accepted.

    numpy with ``enforce_shape``: every dimension but the first has a fixed size
    (``minItems``/``maxItems``); pandas ``records``: exactly the sample's columns;
    dicts: the same for their typed keys.
    """
    kind = type(param_type).__name__
    if kind == "NumpyParameterType" and getattr(param_type, "enforce_shape", False):
        shape = tuple(getattr(param_type.sample_input, "shape", ()))
        level = fragment
        for size in shape[1:]:
            level = level.get("items") if isinstance(level, dict) else None  # type: ignore[assignment]
            if not isinstance(level, dict) or level.get("type") != "array":
                break
            level["minItems"] = level["maxItems"] = int(size)
    elif kind == "PandasParameterType" and getattr(param_type, "orient", "") == "records":
        items = fragment.get("items")
        if isinstance(items, dict) and items.get("type") == "object" and "properties" in items:
            items["additionalProperties"] = False
    typed = getattr(param_type, "sample_data_type_map", None)
    if typed and isinstance(fragment.get("properties"), dict):
        for key, sub_type in typed.items():
            sub = fragment["properties"].get(key)
            if isinstance(sub, dict):
                _tighten(sub, sub_type)


def inspect_run_schema(run: Callable[..., Any], exclude: frozenset[str] = frozenset()) -> RunSchema | None:
    """Return the :class:`RunSchema` of a ``run()`` decorated with inference_schema, else None.

    ``exclude`` names parameters the server fills itself (``request_headers``).

    Examples
    --------
    >>> from inference_schema.schema_decorators import input_schema
    >>> from inference_schema.parameter_types.standard_py_parameter_type import StandardPythonParameterType
    >>> @input_schema("x", StandardPythonParameterType(1.0))
    ... def run(x):
    ...     return x * 2
    >>> schema = inspect_run_schema(run)
    >>> schema.arguments({"x": 3})
    {'x': 3}
    """
    from inference_schema.schema_util import (
        get_input_schema,
        get_output_schema,
        get_supported_versions,
        is_schema_decorated,
    )

    if not is_schema_decorated(run):
        return None
    layers, base, only_schema = _schema_layers(run)
    declared: dict[str, Mapping[str, Any]] = {}
    for kind, values in layers:
        if kind == "input" and "param_name" in values:
            declared.setdefault(values["param_name"], values)
    has_output = any(kind == "output" for kind, _ in layers)

    params: list[InputParam] = []
    for p in inspect.signature(base).parameters.values():
        if p.name in exclude or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        d = declared.get(p.name)
        params.append(
            InputParam(
                name=p.name,
                param_type=d.get("param_type") if d else None,
                convert=bool(d.get("convert_to_provided_type", True)) if d else False,
                optional=bool(d.get("optional", False)) if d else False,
                default=p.default,
            )
        )

    input_schema = copy.deepcopy(get_input_schema(run))
    for name in exclude:  # filled by the server, not sent by clients
        input_schema.get("properties", {}).pop(name, None)
        if isinstance(input_schema.get("example"), dict):
            input_schema["example"].pop(name, None)
    for param in params:
        fragment = input_schema.get("properties", {}).get(param.name)
        if param.param_type is not None and isinstance(fragment, dict):
            _tighten(fragment, param.param_type)
    required = [p.name for p in params if p.required]
    if required and input_schema.get("type") == "object":
        input_schema["required"] = required
    output_schema = dict(get_output_schema(run)) if has_output else None
    orient = None
    fmt = str((output_schema or {}).get("format", ""))
    if fmt.startswith("pandas.DataFrame:"):
        orient = fmt.split(":", 1)[1]
    return RunSchema(
        params=tuple(params),
        input_schema=input_schema,
        output_schema=output_schema,
        supported_versions=list(get_supported_versions(run)),
        base_function=base if only_schema else None,
        output_orient=orient,
    )
