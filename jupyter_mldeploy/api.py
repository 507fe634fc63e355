"""The public ``Model``: a registered model with Azure ML v1's ``Model.deploy`` and ``Model.package``.

:class:`jupyter_mldeploy.registry.Model` stores and finds model versions and knows
nothing of deployments. Azure's API hangs the deployment verbs on ``Model`` as static
methods, so this class, which sits above both the registry and the deployment layer,
adds them; everything else is the registry's. ``from jupyter_mldeploy import Model``
gives this class, and its ``get``, ``list`` and ``register`` return it.
"""

from __future__ import annotations

import inspect
from typing import Any

from .deploy import deploy as _deploy
from .deploy.package import package as _package
from .errors import InvalidArgumentError
from .registry.model import Model as RegisteredModel
from .registry.model import _is_workspace


class Model(RegisteredModel):
    """A registered model version, with Azure's ``Model.deploy`` and ``Model.package``.

    See :class:`jupyter_mldeploy.registry.Model` for registering, finding and changing
    versions.
    """

    __slots__ = ()

    @staticmethod
    def deploy(*args: Any, **kwargs: Any) -> Any:
        """Deploy models with an inference config as a web service (returns at once).

        Azure's call shapes work: v1's ``Model.deploy(workspace, name, models,
        inference_config=None, deployment_config=None, deployment_target=None, overwrite=False,
        show_output=False)``, positionally or by name (the workspace is ignored and may be
        ``None``, v1's local-only form), and without the workspace ``Model.deploy(name, models,
        inference_config, deployment_config=None, overwrite=False)``. Call ``wait_for_deployment()`` on the returned
        :class:`~jupyter_mldeploy.Webservice`; see :func:`jupyter_mldeploy.deploy.deploy`.

        Examples
        --------
        >>> service = Model.deploy("ridge", [model], inference_config)   # doctest: +SKIP
        >>> service.wait_for_deployment(show_output=True)                # doctest: +SKIP
        """
        if _v1_form(args, kwargs):
            bound = _bind(_V1_DEPLOY, args, kwargs, "Model.deploy")
        else:  # v1's keywords are taken here too
            v1_only: dict[str, Any] = {k: kwargs.pop(k) for k in ("deployment_target", "show_output") if k in kwargs}
            bound = {**_bind(_DEPLOY, args, kwargs, "Model.deploy"), **v1_only}
        if bound.pop("deployment_target", None) is not None:
            raise InvalidArgumentError(
                "deployment_target (an Azure compute cluster) has no local meaning: drop it and pass "
                "deployment_config=ProcessWebservice.deploy_configuration(...) for a local service."
            )
        bound.pop("workspace", None)
        bound.pop("show_output", None)  # progress is shown by wait_for_deployment(show_output=True)
        return _deploy(**bound)

    @staticmethod
    def package(*args: Any, **kwargs: Any) -> Any:
        """Package models with an inference config as a Docker image, or a Dockerfile and its context.

        Azure's call shapes work: v1's ``Model.package(workspace, models, inference_config=None,
        generate_dockerfile=False, image_name=None, image_label=None)``, positionally or by name
        (the workspace is ignored and may be ``None``), and the same without the workspace. Returns a :class:`~jupyter_mldeploy.deploy.package.ModelPackage`:
        ``wait_for_creation(show_output=True)``, ``location`` (the image tag), ``get_logs()``,
        and ``save(output_directory)`` with ``generate_dockerfile=True``.

        Examples
        --------
        >>> pkg = Model.package([model], inference_config, generate_dockerfile=True)   # doctest: +SKIP
        >>> pkg.wait_for_creation(show_output=True)                                      # doctest: +SKIP
        >>> pkg.save("./imagefiles")                                                    # doctest: +SKIP
        """
        if _v1_form(args, kwargs):
            bound = _bind(_V1_PACKAGE, args, kwargs, "Model.package")
            bound.pop("workspace", None)
        else:
            bound = _bind(_PACKAGE, args, kwargs, "Model.package")
        return _package(**bound)


# --- v1's signatures -------------------------------------------------------------------------------
# Each body is never run: these give the names and order of v1's parameters, for binding.


def _v1_deploy(  # pragma: no cover - a signature only
    workspace: Any, name: str, models: Any, inference_config: Any = None, deployment_config: Any = None,
    deployment_target: Any = None, overwrite: bool = False, show_output: bool = False,
) -> None:
    """``azureml.core.Model.deploy``'s parameters, in v1's order."""


def _v1_package(  # pragma: no cover - a signature only
    workspace: Any, models: Any, inference_config: Any = None, generate_dockerfile: bool = False,
    image_name: str | None = None, image_label: str | None = None,
) -> None:
    """``azureml.core.Model.package``'s parameters, in v1's order."""


def _v1_form(args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    """Whether a call has v1's workspace first: ``workspace=`` given, or a first argument that is a workspace or None.

    Without a workspace the first argument is the service name (``deploy``) or the models
    (``package``), never None; so ``None`` first is v1's local-only form ``Model.deploy(None, name, ...)``.
    """
    return "workspace" in kwargs or bool(args) and (args[0] is None or _is_workspace(args[0]))


_V1_DEPLOY = inspect.signature(_v1_deploy)
_V1_PACKAGE = inspect.signature(_v1_package)
_DEPLOY = inspect.signature(_deploy)
_PACKAGE = inspect.signature(_package)


def _bind(signature: inspect.Signature, args: tuple[Any, ...], kwargs: dict[str, Any], where: str) -> dict[str, Any]:
    """``args`` and ``kwargs`` bound by name to ``signature``'s parameters (defaults filled in).

    Raises
    ------
    InvalidArgumentError
        The call does not fit the signature (too many arguments, an unknown keyword, one given twice).
    """
    try:
        bound = signature.bind(*args, **kwargs)
    except TypeError as err:
        raise InvalidArgumentError(
            f"{where}{_shown(signature)} does not take these arguments ({err}); "
            "pass them in that order or by name."
        ) from err
    bound.apply_defaults()
    return dict(bound.arguments)


def _shown(signature: inspect.Signature) -> str:
    return "(" + ", ".join(p.name if p.default is p.empty else f"{p.name}={p.default!r}"
                           for p in signature.parameters.values()) + ")"
