"""Azure ML SDK v1's names, local: change ``from azureml.core... import X`` to ``from jupyter_mldeploy.azureml import X``.

Everything v1's how-to guides for deploying locally, deploying an existing model,
deploying as a web service and packaging models call is here, with v1's signatures:
``Workspace`` (the local registry), ``Model`` (``register``, ``Model(ws, name, version)``,
``deploy``, ``package``, ``download``, ``get_model_path``), ``Environment``,
``CondaDependencies``, ``InferenceConfig``, ``Webservice``, ``LocalWebservice`` (Docker),
``AciWebservice`` (Docker with ACI's limits), ``AksWebservice`` (the Kubernetes target),
``ModelPackage``, ``ContainerImage`` / ``Image`` (the older image API, over ``Model.package``); and ``az ml``'s ``--ic``/``--dc`` files (:func:`inference_config_from_file`,
:func:`deployment_config_from_file`). Cloud-only parameters are accepted and noted once as ignored;
``docs/azureml-v1.md`` is the migration table.

Examples
--------
>>> from jupyter_mldeploy.azureml import Workspace, Model, InferenceConfig, LocalWebservice  # doctest: +SKIP
>>> ws = Workspace.from_config()                                                              # doctest: +SKIP
>>> model = Model.register(ws, model_path="model.pkl", model_name="ridge")                    # doctest: +SKIP
"""

from __future__ import annotations

from ..api import Model
from ..deploy.docker import LocalWebservice
from ..deploy.package import ModelPackage
from ..deploy.service import Webservice
from ..environment import CondaDependencies, Environment
from ..inference_config import InferenceConfig
from .cli_files import deployment_config_from_file, inference_config_from_file
from .images import ContainerImage, ContainerImageConfig, Image
from .webservices import AciWebservice, AksWebservice
from .workspace import Workspace

__all__ = [
    "AciWebservice",
    "AksWebservice",
    "CondaDependencies",
    "ContainerImage",
    "ContainerImageConfig",
    "Environment",
    "Image",
    "InferenceConfig",
    "LocalWebservice",
    "Model",
    "ModelPackage",
    "Webservice",
    "Workspace",
    "deployment_config_from_file",
    "inference_config_from_file",
]
