"""Where entry scripts get Azure ML's request/response objects: ``@rawhttp`` here, ``AMLRequest``, ``AMLResponse``.

The objects mirror the Flask/werkzeug-based classes of ``azureml.contrib.services``
and ``azureml_inference_server_http.api`` closely enough for existing scripts
without needing Flask or werkzeug: the request is in :mod:`.aml_request`, the
response in :mod:`.aml_response`, the werkzeug-style containers they hand out
(``HeaderList``, ``MultiDict``, ``FileStorage``) in :mod:`.datastructures`. This
module marks ``run()`` as wanting the raw request and is the one import path of all
three (the package's public names and the azureml import shims re-export them from here).

Examples
--------
>>> from jupyter_mldeploy import AMLResponse, rawhttp
>>> @rawhttp
... def run(request):
...     return AMLResponse(request.get_data(), 200, {"Content-Type": "image/png"})
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from .aml_request import AMLRequest
from .aml_response import AMLResponse

__all__ = ["AMLRequest", "AMLResponse", "is_rawhttp", "rawhttp"]

F = TypeVar("F", bound=Callable[..., Any])

#: Attribute that :func:`rawhttp` sets on the decorated function.
RAWHTTP_ATTR = "_mldeploy_rawhttp"


def rawhttp(func: F) -> F:
    """Mark ``run()`` as wanting the raw request: it gets an :class:`AMLRequest` instead of a string.

    Examples
    --------
    >>> @rawhttp
    ... def run(request):
    ...     return {"method": request.method}
    >>> is_rawhttp(run)
    True
    """
    setattr(func, RAWHTTP_ATTR, True)
    return func


def is_rawhttp(func: Any) -> bool:
    """Return True when ``func`` was decorated with :func:`rawhttp` (ours)."""
    return bool(getattr(func, RAWHTTP_ATTR, False))
