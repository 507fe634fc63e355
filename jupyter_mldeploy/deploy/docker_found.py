"""A Docker service found again from its container alone: the record rebuilt from labels and environment.

Containers carry labels (``mldeploy.service``, ``mldeploy.home``, ``mldeploy.models``,
``mldeploy.env-hash``, the user's source folder and entry script) so that
``Webservice(name)`` and ``Webservice.list()`` find a service when its record file is gone
(another machine's kernel, a deleted ``services/`` folder). :func:`record_from_container`
turns one container back into a :class:`~.records.ServiceRecord`.
"""

from __future__ import annotations

from ..images.dockerfile import MODELS_ROOT
from ..images.engine import LABEL_ENV_HASH, LABEL_MODELS, LABEL_SERVICE, ContainerInfo, DockerEngine
from ..scoring.options import settings_from_args
from .config import DeploymentConfiguration
from .records import ServiceRecord, now_iso

__all__ = ["LABEL_ENTRY_SCRIPT", "LABEL_ENV_NAME", "LABEL_USER_SOURCE", "record_from_container"]

#: Labels (besides those of :func:`~jupyter_mldeploy.images.engine.service_labels`) that rebuild a record.
LABEL_USER_SOURCE = "mldeploy.user-source"
LABEL_ENTRY_SCRIPT = "mldeploy.entry-script"
LABEL_ENV_NAME = "mldeploy.env-name"


def record_from_container(
    engine: DockerEngine, info: ContainerInfo, config_class: type[DeploymentConfiguration], compute_type: str
) -> ServiceRecord:
    """Rebuild a minimal service record from a container's labels and environment.

    ``config_class`` and ``compute_type``: the Docker target's (passed in, so this module
    does not import the target that imports it).
    """
    labels = info.labels
    attrs = engine.container_attrs(info.id)
    env = engine.container_env(info.id)
    env.setdefault("AZUREML_ENTRY_SCRIPT", "score.py")
    settings = settings_from_args(None, env)
    models = []
    for item in filter(None, labels.get(LABEL_MODELS, "").split(",")):
        model_name, _, version = item.partition(":")
        models.append({"name": model_name, "version": int(version or 1), "id": item})
    config = config_class(
        port=info.port,
        auth_enabled=bool(settings.auth_keys or settings.auth_keys_file),
        workers=settings.workers,
        timeout_ms=settings.timeout_ms,
    )
    spec_hash = labels.get(LABEL_ENV_HASH, "")
    return ServiceRecord(
        name=labels[LABEL_SERVICE],
        compute_type=compute_type,
        port=info.port,
        models=models,
        entry_script=labels.get(LABEL_ENTRY_SCRIPT) or settings.entry_script,
        source_dir=labels.get(LABEL_USER_SOURCE, ""),
        model_dir=settings.model_dir or MODELS_ROOT,
        environment={"name": labels.get(LABEL_ENV_NAME, ""), "spec_hash": spec_hash} if spec_hash else None,
        config=config.to_dict(),
        auth_keys=list(settings.auth_keys),
        container_id=info.id,
        image=info.image,
        created_time=str(attrs.get("Created", ""))[:19] + "+00:00" if attrs.get("Created") else now_iso(),
    )
