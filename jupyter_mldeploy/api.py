"""The public ``Model``: a registered model with Azure ML v1's ``Model.deploy`` and ``Model.package``.

:class:`jupyter_mldeploy.registry.Model` stores and finds model versions and knows
nothing of deployments. Azure's API hangs the deployment verbs on ``Model`` as static
methods, so this class, which sits above both the registry and the deployment layer,
adds them; everything else is the registry's. ``from jupyter_mldeploy import Model``
gives this class, and its ``get``, ``list`` and ``register`` return it.
"""

from __future__ import annotations

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

        Azure's call shapes work: ``Model.deploy(name, models, inference_config,
        deployment_config=None, overwrite=False)`` and
        ``Model.deploy(workspace, name, models, inference_config, deployment_config, ...)``
        (the workspace is ignored). Call ``wait_for_deployment()`` on the returned
        :class:`~jupyter_mldeploy.Webservice`; see :func:`jupyter_mldeploy.deploy.deploy`.

        Examples
        --------
        >>> service = Model.deploy("ridge", [model], inference_config)   # doctest: +SKIP
        >>> service.wait_for_deployment(show_output=True)                # doctest: +SKIP
        """
        if args and _is_workspace(args[0]):
            args = args[1:]
        kwargs.pop("workspace", None)
        kwargs.pop("show_output", None)  # progress is shown by wait_for_deployment(show_output=True)
        if kwargs.pop("deployment_target", None) is not None:
            raise InvalidArgumentError(
                "deployment_target (an Azure compute cluster) has no local meaning: drop it and pass "
                "deployment_config=ProcessWebservice.deploy_configuration(...) for a local service."
            )
        return _deploy(*args, **kwargs)

    @staticmethod
    def package(*args: Any, **kwargs: Any) -> Any:
        """Package models with an inference config as a Docker image, or a Dockerfile and its context.

        Azure's call shapes work: ``Model.package(models, inference_config,
        generate_dockerfile=False, image_name=None, image_label=None)`` and the same with the
        workspace first (ignored). Returns a :class:`~jupyter_mldeploy.deploy.package.ModelPackage`:
        ``wait_for_creation(show_output=True)``, ``location`` (the image tag), ``get_logs()``,
        and ``save(output_directory)`` with ``generate_dockerfile=True``.

        Examples
        --------
        >>> pkg = Model.package([model], inference_config, generate_dockerfile=True)   # doctest: +SKIP
        >>> pkg.wait_for_creation(show_output=True)                                      # doctest: +SKIP
        >>> pkg.save("./imagefiles")                                                    # doctest: +SKIP
        """
        if args and _is_workspace(args[0]):
            args = args[1:]
        kwargs.pop("workspace", None)
        return _package(*args, **kwargs)
