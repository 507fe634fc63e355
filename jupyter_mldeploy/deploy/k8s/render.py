"""A service's Kubernetes manifests from a deploy request (models, entry script, configuration), without a cluster.

:func:`manifest_inputs` makes the :class:`~.manifests.ManifestInputs` that
``Model.deploy(...)`` onto Kubernetes would apply, from the same arguments and without
a cluster, an engine or a service record; :func:`render_service` turns them into YAML for
review or GitOps (``mldeploy k8s render``). What only a deployment knows is filled in and
said in the YAML's header: the image (``image=...`` names one you pushed, for example with
``ModelPackage.push``; else a placeholder under ``image_repository``), the namespace
(``"default"`` unless given: no kubeconfig is read) and the auth keys (new ones, put in the
Secret only with ``include_keys=True``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...errors import InvalidArgumentError
from ...images.context import model_dir_for
from ...registry.layout import local_model_name
from ..records import new_key
from .config import (
    KubernetesDeploymentConfiguration,
    check_kubernetes_name,
    default_image_repository,
)
from .manifests import ManifestInputs, keys_secret_name, render_manifests, to_yaml

__all__ = ["PLACEHOLDER_TAG", "RenderedService", "manifest_inputs", "render_service"]

#: The tag of the image reference when no image is given (the deployment pushes one and names it by digest).
PLACEHOLDER_TAG = "to-be-pushed"


@dataclass(frozen=True)
class RenderedService:
    """The objects of one service as they would be applied, and what the reader must know about them."""

    inputs: ManifestInputs
    objects: list[dict[str, Any]]
    notes: tuple[str, ...]

    @property
    def auth_keys(self) -> tuple[str, ...]:
        """The keys made for this rendering (in the Secret only when rendered with ``include_keys``)."""
        return self.inputs.auth_keys

    def to_yaml(self) -> str:
        """The objects as one multi-document YAML (``kubectl apply -f`` takes it), the notes as its header."""
        header = "\n".join((f"Service {self.inputs.name}: written by jupyter-mldeploy (kubectl apply -f FILE).",
                            *self.notes))
        return to_yaml(self.objects, header)


def manifest_inputs(
    name: str,
    models: Sequence[Any],
    inference_config: Any,
    deployment_config: KubernetesDeploymentConfiguration | None = None,
    *,
    image: str | None = None,
    namespace: str | None = None,
    auth_keys: Sequence[str] | None = None,
) -> ManifestInputs:
    """What the manifests of ``Model.deploy(name, models, inference_config, deployment_config)`` are made from.

    ``models`` are registered ``Model`` objects or local paths (only their names and versions
    are read). ``image`` wins over ``deployment_config.image``; without either, the image is
    ``IMAGE_REPOSITORY/NAME:to-be-pushed``. ``auth_keys``: new keys when auth is on and none
    are given.

    Raises
    ------
    InvalidArgumentError
        A name Kubernetes refuses, no model, a configuration of another target, or an inference
        config that is not one.
    """
    check_kubernetes_name(name)
    config = deployment_config if deployment_config is not None else KubernetesDeploymentConfiguration()
    if not isinstance(config, KubernetesDeploymentConfiguration):
        raise InvalidArgumentError(
            f"deployment_config is a {type(config).__name__}; render Kubernetes manifests from "
            "KubernetesWebservice.deploy_configuration(...)."
        )
    if not hasattr(inference_config, "entry_script_relative"):
        raise InvalidArgumentError(
            "inference_config must be an InferenceConfig(entry_script=..., source_directory=..., environment=...)."
        )
    identities = [_identity(m) for m in models]
    if not identities:
        raise InvalidArgumentError("give at least one model (a registered Model or a local path).")
    environment = getattr(inference_config, "environment", None)
    keys = tuple(auth_keys) if auth_keys is not None else (
        (new_key(), new_key()) if config.auth_enabled else ()
    )
    return ManifestInputs(
        name=name,
        namespace=namespace or config.namespace or "default",
        image=image or config.image or _placeholder_image(name, config),
        config=config,
        entry_script=str(inference_config.entry_script_relative),
        model_dir=model_dir_for([(n, str(v)) for n, v in identities]),
        models=tuple(f"{n}:{v}" for n, v in identities),
        env_hash=str(getattr(environment, "spec_hash", "") or ""),
        auth_keys=keys,
    )


def render_service(
    name: str,
    models: Sequence[Any],
    inference_config: Any,
    deployment_config: KubernetesDeploymentConfiguration | None = None,
    *,
    image: str | None = None,
    namespace: str | None = None,
    include_keys: bool = False,
) -> RenderedService:
    """The manifests ``Model.deploy`` would apply for this request, with no cluster (see :func:`manifest_inputs`).

    Examples
    --------
    >>> rendered = render_service("ridge", ["model.joblib"], InferenceConfig("score.py"))   # doctest: +SKIP
    >>> print(rendered.to_yaml())                                                           # doctest: +SKIP
    """
    inputs = manifest_inputs(name, models, inference_config, deployment_config, image=image, namespace=namespace)
    notes = []
    if inputs.image.endswith(f":{PLACEHOLDER_TAG}"):
        notes.append(
            f"The image {inputs.image} is a placeholder: Model.deploy builds and pushes the service image and "
            "names it by digest. To apply this file yourself, push the package image (ModelPackage.push) and "
            "render again with image=... (mldeploy k8s render --image REPOSITORY@sha256:...)."
        )
    if not namespace and not (deployment_config and deployment_config.namespace):
        notes.append("Namespace 'default': no kubeconfig was read (give namespace=... / --namespace).")
    if inputs.auth_keys and not include_keys:
        secret = keys_secret_name(name)
        notes.append(
            f"Auth is on: the Secret {secret} with the keys is left out; create it with\n"
            f"  kubectl -n {inputs.namespace} create secret generic {secret} --from-file=auth-keys=KEYS_FILE\n"
            "(one key per line), or render with include_keys=True (--include-keys)."
        )
    elif inputs.auth_keys:
        notes.append(f"The Secret {keys_secret_name(name)} holds new auth keys: keep this file out of git.")
    return RenderedService(inputs, render_manifests(inputs, include_keys=include_keys), tuple(notes))


def _identity(model: Any) -> tuple[str, int]:
    """``(name, version)`` a model is deployed as (a local path: its file or folder name, version 1)."""
    if isinstance(model, (str, Path)):
        return local_model_name(Path(model).expanduser()), 1
    if hasattr(model, "name") and hasattr(model, "version"):
        return str(model.name), int(model.version)
    raise InvalidArgumentError(
        f"models must be registered Model objects or local paths, got {type(model).__name__}: {model!r}."
    )


def _placeholder_image(name: str, config: KubernetesDeploymentConfiguration) -> str:
    repository = (config.image_repository or default_image_repository() or "REGISTRY/PATH").rstrip("/")
    return f"{repository}/{name}:{PLACEHOLDER_TAG}"
