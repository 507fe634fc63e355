"""Import hooks so that ``from azureml.contrib.services.aml_request import rawhttp`` works without Azure.

:func:`install` appends one finder to the **end** of ``sys.meta_path``. The
import system asks it only after every other finder failed, so a real
``azureml-contrib-services``/``azureml-core`` (or ``azureml-inference-server-http``)
installation always wins and the shims step aside by construction. The shim
modules re-export :mod:`jupyter_mldeploy.scoring.aml` and a small ``Model``
with ``get_model_path``. No top-level ``azureml`` package is shipped.

Shimmed modules: ``azureml``, ``azureml.contrib``, ``azureml.contrib.services``,
``azureml.contrib.services.aml_request`` (``AMLRequest``, ``rawhttp``),
``azureml.contrib.services.aml_response`` (``AMLResponse``), ``azureml.core``
(``Model``, ``Run``), ``azureml.core.model`` (``Model``), ``azureml.core.run`` (``Run``),
``azureml.monitoring`` (``ModelDataCollector``; see :mod:`.monitoring`), and ``azureml_inference_server_http.api``
``.aml_request`` / ``.aml_response``.

Examples
--------
>>> from jupyter_mldeploy.scoring import azureml_shim
>>> azureml_shim.install()
>>> from azureml.core.model import Model   # the shim, unless azureml-core is installed
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
import threading
from collections.abc import Sequence
from types import ModuleType

__all__ = ["SHIMMED_MODULES", "install", "is_shim", "uninstall"]

_AML = "jupyter_mldeploy.scoring.aml"
_MODEL = "jupyter_mldeploy.scoring.model_path"
_MON = "jupyter_mldeploy.scoring.monitoring"

#: module name -> (is package, {attribute: "module:attr"})
SHIMMED_MODULES: dict[str, tuple[bool, dict[str, str]]] = {
    "azureml": (True, {}),
    "azureml.contrib": (True, {}),
    "azureml.contrib.services": (True, {}),
    "azureml.contrib.services.aml_request": (False, {"AMLRequest": f"{_AML}:AMLRequest", "rawhttp": f"{_AML}:rawhttp"}),
    "azureml.contrib.services.aml_response": (False, {"AMLResponse": f"{_AML}:AMLResponse"}),
    "azureml.core": (True, {"Model": f"{_MODEL}:Model", "Run": f"{_MON}:Run"}),
    "azureml.core.model": (False, {"Model": f"{_MODEL}:Model"}),
    "azureml.core.run": (False, {"Run": f"{_MON}:Run"}),
    "azureml.monitoring": (False, {"ModelDataCollector": f"{_MON}:ModelDataCollector"}),
    "azureml_inference_server_http": (True, {}),
    "azureml_inference_server_http.api": (True, {}),
    "azureml_inference_server_http.api.aml_request": (
        False,
        {"AMLRequest": f"{_AML}:AMLRequest", "rawhttp": f"{_AML}:rawhttp"},
    ),
    "azureml_inference_server_http.api.aml_response": (False, {"AMLResponse": f"{_AML}:AMLResponse"}),
}

#: Marker attribute on shim modules.
SHIM_ATTR = "__mldeploy_shim__"


class _ShimLoader(importlib.abc.Loader):
    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return None  # default module creation

    def exec_module(self, module: ModuleType) -> None:
        attrs = SHIMMED_MODULES[module.__name__][1]
        setattr(module, SHIM_ATTR, True)
        module.__doc__ = (
            f"jupyter-mldeploy stand-in for {module.__name__} (the real package is not installed)."
        )
        for attr, target in attrs.items():
            mod_name, name = target.split(":")
            setattr(module, attr, getattr(importlib.import_module(mod_name), name))
        if attrs:
            module.__all__ = list(attrs)  # type: ignore[attr-defined]


class AzureMLShimFinder(importlib.abc.MetaPathFinder):
    """Finds the shim modules; placed last on ``sys.meta_path`` so real packages take precedence."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        entry = SHIMMED_MODULES.get(fullname)
        if entry is None:
            return None
        is_package = entry[0]
        spec = importlib.util.spec_from_loader(fullname, _ShimLoader(), is_package=is_package)
        if spec is not None and is_package:
            spec.submodule_search_locations = []
        return spec


_lock = threading.Lock()
_finder = AzureMLShimFinder()


def install() -> None:
    """Put the shim finder at the end of ``sys.meta_path`` (idempotent)."""
    with _lock:
        if not any(isinstance(f, AzureMLShimFinder) for f in sys.meta_path):
            sys.meta_path.append(_finder)


def uninstall() -> None:
    """Remove the shim finder and forget shim modules already imported."""
    with _lock:
        sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, AzureMLShimFinder)]
        for name in list(sys.modules):
            if name in SHIMMED_MODULES and is_shim(sys.modules[name]):
                del sys.modules[name]


def is_shim(module: ModuleType) -> bool:
    """Return True when ``module`` is one of our stand-ins rather than the real Azure package."""
    return bool(getattr(module, SHIM_ATTR, False))
