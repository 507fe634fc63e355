"""jupyter-mldeploy: deploy models trained in a notebook as local web services.

The public API mirrors Azure ML v1 names (``Model.register``, ``Environment``,
``InferenceConfig``, ...) with local storage. Importing this package is light:
the names below are loaded on first use, so no web server, Docker SDK or
widget library is imported until you need it.

Examples
--------
>>> from jupyter_mldeploy import Model                      # doctest: +SKIP
>>> model = Model.register("model.pkl", model_name="ridge")  # doctest: +SKIP
>>> model.id                                                 # doctest: +SKIP
'ridge:1'
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any

from . import errors
from ._version import __version__
from .errors import MLDeployError

# public name -> "module:attribute", imported lazily by __getattr__
_LAZY: dict[str, str] = {
    "Model": "jupyter_mldeploy.api:Model",
    "Environment": "jupyter_mldeploy.environment:Environment",
    "CondaDependencies": "jupyter_mldeploy.environment:CondaDependencies",
    "InferenceConfig": "jupyter_mldeploy.inference_config:InferenceConfig",
    "Webservice": "jupyter_mldeploy.deploy.service:Webservice",
    "WebserviceState": "jupyter_mldeploy.deploy.service:WebserviceState",
    "ProcessWebservice": "jupyter_mldeploy.deploy.process:ProcessWebservice",
    "LocalWebservice": "jupyter_mldeploy.deploy.docker:LocalWebservice",
    "KubernetesWebservice": "jupyter_mldeploy.deploy.k8s.target:KubernetesWebservice",
    "ModelPackage": "jupyter_mldeploy.deploy.package:ModelPackage",
    "ScoringServer": "jupyter_mldeploy.client.server:ScoringServer",
    "ScoringClient": "jupyter_mldeploy.client.client:ScoringClient",
    "AMLRequest": "jupyter_mldeploy.scoring.aml:AMLRequest",
    "AMLResponse": "jupyter_mldeploy.scoring.aml:AMLResponse",
    "rawhttp": "jupyter_mldeploy.scoring.aml:rawhttp",
}

__all__ = [
    "AMLRequest",
    "AMLResponse",
    "CondaDependencies",
    "Environment",
    "InferenceConfig",
    "KubernetesWebservice",
    "LocalWebservice",
    "MLDeployError",
    "Model",
    "ModelPackage",
    "ProcessWebservice",
    "ScoringClient",
    "ScoringServer",
    "Webservice",
    "WebserviceState",
    "__version__",
    "errors",
    "rawhttp",
]  # every lazy name is listed (tests/test_package.py checks)

if TYPE_CHECKING:  # pragma: no cover
    from .api import Model
    from .client.client import ScoringClient
    from .client.server import ScoringServer
    from .deploy.docker import LocalWebservice
    from .deploy.k8s.target import KubernetesWebservice
    from .deploy.package import ModelPackage
    from .deploy.process import ProcessWebservice
    from .deploy.service import Webservice, WebserviceState
    from .environment import CondaDependencies, Environment
    from .inference_config import InferenceConfig
    from .scoring.aml import AMLRequest, AMLResponse, rawhttp


def __getattr__(name: str) -> Any:
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'jupyter_mldeploy' has no attribute {name!r}")
    module_name, attr = target.split(":")
    value = getattr(importlib.import_module(module_name), attr)
    globals()[name] = value
    _install_panels()
    return value


def _install_panels() -> None:
    """In a Jupyter kernel, make the widget panels the views of services, packages and models.

    The core never imports a face; this package root sits above both, so the first
    public name used in a kernel registers them (a terminal registers nothing and
    never imports a widget library).
    """
    if "IPython" not in sys.modules:  # not in a kernel (and maybe a deployment's runtime, without display)
        return
    from .display import in_widget_kernel, panel_factory

    if panel_factory("service") is None and in_widget_kernel():
        from .widgets import install

        install()


def load_ipython_extension(ipython: Any) -> None:
    """Register the magics: ``%load_ext jupyter_mldeploy`` (imports IPython only now)."""
    from .magics import load_ipython_extension as load

    load(ipython)


def __dir__() -> list[str]:
    return sorted(__all__)
