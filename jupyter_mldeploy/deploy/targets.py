"""Which target a deployment runs on: the one rule every face uses.

``choose_target("docker")`` and ``choose_target("process")`` name one; ``choose_target()``
applies the automatic rule: Docker when an engine answers and the base image
(``MLDEPLOY_BASE_IMAGE``) is present, else the local process target, with the reason
in :attr:`TargetChoice.note` (``deploy()`` prints it and logs it in the first phase).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import InvalidArgumentError
from .config import DeploymentConfiguration
from .docker import LocalWebservice, docker_available
from .process import ProcessWebservice
from .service import Webservice

__all__ = ["TargetChoice", "choose_target", "target_of"]


@dataclass(frozen=True)
class TargetChoice:
    """A target class, and why it was chosen (``note`` is empty when the caller named it)."""

    target: type[Webservice]
    note: str = ""

    @property
    def compute_type(self) -> str:
        """``"docker"``, ``"process"`` or ``"kubernetes"``."""
        return self.target.compute_type


def choose_target(name: str | None = None) -> TargetChoice:
    """The target called ``name`` (``"docker"``, ``"process"``), or the automatic choice when ``None``.

    Raises
    ------
    InvalidArgumentError
        ``name`` is no target's name.

    Examples
    --------
    >>> choose_target("process").target.__name__
    'ProcessWebservice'
    """
    if name:
        target = Webservice._targets.get(str(name).lower())
        if target is None:
            raise InvalidArgumentError(
                f"unknown target {name!r}: use one of {', '.join(sorted(Webservice._targets))} "
                "(or none, to use Docker when it can and a local process otherwise)."
            )
        return TargetChoice(target)
    usable, why = docker_available()
    if usable:
        return TargetChoice(LocalWebservice, f"target docker: {why}")
    return TargetChoice(ProcessWebservice, f"target process: {why}; deploying as a local process")


def target_of(config: DeploymentConfiguration) -> type[Webservice]:
    """The target a deployment configuration belongs to.

    Raises
    ------
    InvalidArgumentError
        It is no target's configuration.
    """
    for target in Webservice._targets.values():
        if type(config) is target.configuration_class:
            return target
    raise InvalidArgumentError(
        f"deployment_config {type(config).__name__} is not supported; use "
        "LocalWebservice.deploy_configuration(...) (Docker), ProcessWebservice.deploy_configuration(...) "
        "or KubernetesWebservice.deploy_configuration(...)."
    )
