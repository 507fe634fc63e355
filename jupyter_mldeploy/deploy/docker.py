"""The Docker target (``LocalWebservice``): the scoring server in a container on 127.0.0.1.

The phases are the shared pipeline's (``deploy/pipeline.py``); this module holds
what is Docker's own: models laid out as Azure does inside the image, the source
folder copied into the service's ``src/`` (bind-mounted read-only over the image's
copy), the environment's wheels resolved for the base image's Python, the layered
image built by the one image pipeline (``images/pipeline.py``), and the container
started, watched and found again.

Code edits need no image rebuild: ``reload()`` and ``update(inference_config=...)``
re-sync ``src/`` and swap the new code into the running server, and so does an
environment that only adds packages (every host-built tree is mounted read-only, so the
new one goes on the server's path); other changes restart the container. Containers carry labels
(``mldeploy.service``, ``mldeploy.home``, ...) so that ``Webservice(name)`` and
``Webservice.list()`` find them again even when the service record is gone.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from .._config import mldeploy_home
from ..environment.changes import EnvChange
from ..environment.env_tree import env_tree, env_trees_dir, tree_change
from ..errors import (
    DeploymentError,
    DockerUnavailableError,
    InvalidArgumentError,
    MLDeployError,
    ServiceNotFoundError,
)
from ..images import engine as docker_engine
from ..images.context import model_dir_for
from ..images.dockerfile import (
    CONTAINER_DATA,
    CONTAINER_PORT,
    ENV_MOUNT,
    ENV_TREES_MOUNT,
    MODELS_MOUNT,
    MODELS_ROOT,
    SOURCE_ROOT,
    VENV,
)
from ..images.engine import (
    LABEL_HOME,
    LABEL_SERVICE,
    PING_TIMEOUT_S,
    DockerEngine,
    container_name,
    service_labels,
)
from ..images.pipeline import dev_image
from ..registry.layout import LaidOutModels, lay_out_models
from ..registry.model import Model as RegistryModel
from ..source_copy import SourceCopy
from .config import DeploymentConfiguration
from .container_files import container_groups, hand_to_container_user, refill_source, settle_source
from .debugger import CONTAINER_DEBUGPY, debug_settings, debugpy_package
from .docker_found import (
    LABEL_ENTRY_SCRIPT,
    LABEL_ENV_NAME,
    LABEL_USER_SOURCE,
    record_from_container,
)
from .progress import DeploymentProgress
from .records import ServiceRecord
from .server_options import pick_server_options, server_env, takes_server_options, tracing_on
from .service import Webservice, WebserviceState
from .service_image import image_environment, image_tag

__all__ = ["DockerDeploymentConfiguration", "LocalWebservice", "docker_available", "image_tag"]

#: Where a container's auth keys are put before it starts (the server reads, then deletes them).
KEYS_FILE = "/tmp/mldeploy-auth-keys"
#: Where a container's control key (code swaps, POST /-/reload) is put, the same way.
CONTROL_KEY_FILE = "/tmp/mldeploy-control-key"
#: Processes and threads a container may run unless its configuration says otherwise.
DEFAULT_PIDS_LIMIT = 1024
#: The name a traced container reaches this machine by (``localhost`` in ``otel_endpoint`` becomes it).
HOST_GATEWAY_NAME = "host.docker.internal"


@dataclass
class DockerDeploymentConfiguration(DeploymentConfiguration):
    """Settings of a Docker deployment (see :class:`DeploymentConfiguration`).

    Parameters
    ----------
    cpu_cores, memory_gb
        Container limits (``None``: none, since a model's needs vary; set them for shared machines).
    pids_limit
        Most processes and threads in the container (a fork bomb in a script stops there).
    """

    compute_type: ClassVar[str] = "docker"

    cpu_cores: float | None = None
    memory_gb: float | None = None
    pids_limit: int = DEFAULT_PIDS_LIMIT

    def __post_init__(self) -> None:
        super().__post_init__()
        for name, value in (("cpu_cores", self.cpu_cores), ("memory_gb", self.memory_gb)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0):
                raise InvalidArgumentError(f"{name} must be a positive number or None (no limit), got {value!r}.")
        if isinstance(self.pids_limit, bool) or not isinstance(self.pids_limit, int) or self.pids_limit < 16:
            raise InvalidArgumentError(f"pids_limit must be a whole number >= 16, got {self.pids_limit!r}.")


class LocalWebservice(Webservice):
    """A scoring server in a local Docker container (Azure ML v1's ``LocalWebservice``).

    Examples
    --------
    >>> config = LocalWebservice.deploy_configuration(port=6789)            # doctest: +SKIP
    >>> service = Model.deploy("ridge", [model], inference_config, config)  # doctest: +SKIP
    >>> service.wait_for_deployment(show_output=True)                      # doctest: +SKIP
    >>> service.run({"data": [[1, 2]]})                                    # doctest: +SKIP
    """

    compute_type = "docker"
    configuration_class = DockerDeploymentConfiguration
    builds_images = True
    copies_source = True

    @classmethod
    @takes_server_options
    def deploy_configuration(  # type: ignore[override]
        cls,
        port: int | None = None,
        auth_enabled: bool = False,
        workers: int = 1,
        timeout_ms: int = 60_000,
        debug: bool = True,
        environment_variables: dict[str, str] | None = None,
        cpu_cores: float | None = None,
        memory_gb: float | None = None,
        pids_limit: int = DEFAULT_PIDS_LIMIT,
        **server_options: Any,
    ) -> DockerDeploymentConfiguration:
        """Settings for a Docker deployment (``port=None`` picks a free port on 127.0.0.1).

        ``cpu_cores`` and ``memory_gb`` limit the container (none by default); ``pids_limit``
        caps its processes and threads. ``batch`` (``"max_batch_size=32,max_latency_ms=5"``),
        ``collect_model_data``, ``tracing`` and the other server options are
        :class:`~jupyter_mldeploy.deploy.server_options.ServerOptions`'.

        Examples
        --------
        >>> LocalWebservice.deploy_configuration(port=6789, memory_gb=2).memory_gb
        2
        """
        return DockerDeploymentConfiguration(
            port=port, auth_enabled=auth_enabled, workers=workers, timeout_ms=timeout_ms, debug=debug,
            environment_variables=dict(environment_variables or {}), cpu_cores=cpu_cores, memory_gb=memory_gb,
            pids_limit=pids_limit, **pick_server_options(server_options, "LocalWebservice.deploy_configuration"),
        )

    # --- pipeline hooks (deploy/pipeline.py) -----------------------------------------------------

    def _target_model_dir(self, laid_out: LaidOutModels) -> str:
        hand_to_container_user(self._target_models_folder())
        return model_dir_for([(m["name"], str(m["version"])) for m in laid_out.entries])

    def _target_models_folder(self) -> Path:
        """Inside ``models/`` (mounted as a whole), so that a new layout replacing the folder shows in the container."""
        return self._record.folder / "models" / "azureml-models"

    def _target_sync_source(self) -> SourceCopy:
        """Copy the user's source folder into the service's mounted ``src/`` (:func:`.container_files.refill_source`).

        Modes are kept; the container's user (uid 1000) reads the files through ownership
        (when we run as root) or through our group (added to the container). The copy that
        served waits beside it until :meth:`_target_swap_ended` (or a start) settles it.
        """
        record = self._record
        source = Path(record.source_dir) if record.source_dir else None
        if source is None or not source.is_dir():
            raise DeploymentError(
                f"the source folder {record.source_dir!r} of service {record.name!r} is gone; "
                "update the service with an InferenceConfig whose source_directory exists."
            )
        return refill_source(source, record.folder / "src")

    def _target_swap_ended(self, swapped: bool) -> None:
        """A failed swap puts the serving ``src/`` back: workers the server starts later run what serves."""
        settle_source(self._record.folder / "src", took_over=swapped)

    def _target_environment(self, progress: DeploymentProgress, env: Any, inference_config: Any) -> tuple[str, bool]:
        """Resolve the environment's wheels for the image, install them on the host (once per spec), say what changed."""
        detail, changed = image_environment(self._record, progress, env, inference_config)
        environment = self._record.environment or {}
        tree = environment.get("tree")
        if changed or not tree or not Path(tree).is_dir():
            built = env_tree(Path(environment["wheelhouse"]), environment["python_version"], log=progress.log)
            environment["tree"] = str(built.path)
            detail = f"{detail}; {built.detail}"
        return detail, changed

    def _target_env_change(self, old: dict[str, Any] | None) -> tuple[EnvChange, list[str]]:
        """A tree that only adds packages to the running one: the container sees it under :data:`ENV_TREES_MOUNT`."""
        new = (self._record.environment or {}).get("tree")
        before = (old or {}).get("tree")
        if not new or not before:
            return EnvChange((), "the environment changed"), []
        if (old or {}).get("base_image") != (self._record.environment or {}).get("base_image"):
            return EnvChange((), "the base image changed"), []
        tree = Path(new)
        if tree.parent.parent != env_trees_dir():
            return EnvChange((), "the environment changed (built outside this MLDEPLOY_HOME)"), []
        return tree_change(Path(before), tree), [f"{ENV_TREES_MOUNT}/{tree.parent.name}/{tree.name}"]

    def _target_build(self, progress: DeploymentProgress) -> str:
        """The shared image (base + user + empty venv), built once per base image, tagged for this service.

        The environment, the models and the code are mounted, so nothing of them is sent to the engine.
        """
        record = self._record
        engine = self._engine()
        shared = dev_image((record.environment or {}).get("base_image"), on_log=progress.log_text, engine=engine)
        tag = image_tag(record.name)
        engine.tag_image(shared.tag, tag)
        record.image = tag
        self._image_id = shared.image_id
        how = "reused" if shared.reused else f"built in {shared.seconds:.1f}s"
        return f"{tag} = {shared.tag} ({how}); environment, models and code mounted read-only, nothing rebuilt"

    def _target_needs_build(self) -> bool:
        """Whether the image or the host-built environment is gone (a service found again from its labels)."""
        tree = (self._record.environment or {}).get("tree")
        if not tree or not Path(tree).is_dir():
            return True
        return not (bool(self._record.image) and self._engine().image_exists(str(self._record.image)))

    def _target_start(self, port: int | None) -> str:
        record = self._record
        settle_source(record.folder / "src", took_over=True)  # a new server runs the files in src/
        engine = self._engine()
        old_image = engine.container_image_id(self._container)
        engine.remove(self._container)
        running = engine.run_container(
            record.image or image_tag(record.name),
            self._container,
            port=port,
            labels=self._labels(),
            env=self._run_env(),
            source_dir=record.folder / "src",
            command=self._command(),
            group_add=container_groups(),
            # the keys: a private file put into the container before it starts, which the server
            # reads and deletes; never in its environment or labels (docker inspect)
            files=self._key_files(),
            # a debug run: debugpy published on 127.0.0.1 only, and this machine's debugpy mounted read-only
            extra_ports={record.debug_port: record.debug_port} if record.debug_port else None,
            mounts=self._mounts(),
            # capture.jsonl and collected.jsonl: written by the container, read from here
            data_dir=self._data_folder(),
            # traces to a collector on this machine: the Docker host gateway under HOST_GATEWAY_NAME
            extra_hosts={HOST_GATEWAY_NAME: "host-gateway"} if tracing_on(record.config) else None,
            **self._limits(),
        )
        record.port = running.port
        record.container_id = running.id
        new_image = getattr(self, "_image_id", None)
        if old_image and new_image and old_image != new_image:
            engine.remove_image(old_image)  # the previous build of this service, now unused
        return f"container {running.name} ({running.id[:12]}) on 127.0.0.1:{running.port}"

    debuggable: ClassVar[bool] = True

    def _target_swap_target(self) -> dict[str, str]:
        return {"entry_script": self._record.entry_script, "source_dir": SOURCE_ROOT,
                "model_dir": self._record.model_dir or MODELS_ROOT}

    def _mounts(self) -> dict[str | os.PathLike[str], str]:
        """Read-only mounts: the host-built environment, the models (and this machine's debugpy for a debug run)."""
        record = self._record
        models = self._target_models_folder()
        if record.models and not all((models / m["name"] / str(m["version"])).is_dir() for m in record.models):
            self._lay_out_again(models)
        models.mkdir(parents=True, exist_ok=True)
        hand_to_container_user(models.parent)
        mounts: dict[str | os.PathLike[str], str] = {models.parent: MODELS_MOUNT}
        tree = (record.environment or {}).get("tree")
        if tree:
            mounts[tree] = ENV_MOUNT
            mounts[env_trees_dir()] = ENV_TREES_MOUNT  # an environment that only adds packages is swapped in
        if record.debug_port:
            mounts[debugpy_package()] = f"{CONTAINER_DEBUGPY}/debugpy"
        return mounts

    def _lay_out_again(self, models: Path) -> None:
        """The models folder is gone (a service found again from its labels): lay them out from the registry."""
        record = self._record
        try:
            laid_out = lay_out_models([RegistryModel(name=m["name"], version=int(m["version"])) for m in record.models],
                                      models)
        except MLDeployError as err:
            raise DeploymentError(
                f"the models of service {record.name!r} ({', '.join(m['id'] for m in record.models)}) are no longer "
                f"laid out and cannot be taken from the registry again ({err}); update the service with "
                "models=[...]."
            ) from err
        record.models = laid_out.entries

    def _data_folder(self) -> Path:
        """The service's data folder (0700), the container user's: mounted read-write at ``CONTAINER_DATA``."""
        folder = self._record.data_path
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        hand_to_container_user(folder)
        return folder

    def _key_files(self) -> dict[str, bytes] | None:
        """The private key files put into the container before it starts."""
        record = self._record
        files = {KEYS_FILE: "".join(f"{k}\n" for k in record.auth_keys).encode()} if record.auth_keys else {}
        if record.control_key:
            files[CONTROL_KEY_FILE] = f"{record.control_key}\n".encode()
        return files or None

    def _target_exited(self) -> str | None:
        try:
            state = self._engine().container_state(self._container, tail=0)
        except ServiceNotFoundError:
            return f"its container {self._container} is gone"
        return None if state.running else state.describe()

    # --- helpers ---------------------------------------------------------------------------

    @staticmethod
    def _engine(connect_timeout: float = 10.0) -> DockerEngine:
        return docker_engine.shared_engine(connect_timeout)

    @property
    def _container(self) -> str:
        return container_name(self._record.name)

    def _limits(self) -> dict[str, Any]:
        """The container's resource limits from the configuration."""
        config = self._record.config
        limits: dict[str, Any] = {"pids_limit": int(config.get("pids_limit") or DEFAULT_PIDS_LIMIT)}
        if config.get("memory_gb"):
            limits["mem_limit"] = f"{int(float(config['memory_gb']) * 1024)}m"
        if config.get("cpu_cores"):
            limits["nano_cpus"] = int(float(config["cpu_cores"]) * 1e9)
        return limits

    def _labels(self) -> dict[str, str]:
        record = self._record
        return service_labels(
            record.name,
            models=",".join(m["id"] for m in record.models),
            env_hash=(record.environment or {}).get("spec_hash", ""),
            extra={
                LABEL_HOME: str(mldeploy_home().resolve()),
                LABEL_USER_SOURCE: record.source_dir,
                LABEL_ENTRY_SCRIPT: record.entry_script,
                LABEL_ENV_NAME: str((record.environment or {}).get("name") or ""),
            },
        )

    def _run_env(self) -> dict[str, str]:
        """The server's environment in the container: the user's variables, then our settings."""
        record = self._record
        config = record.config
        env = server_env(
            config,
            CONTAINER_DATA,
            loopback_as=HOST_GATEWAY_NAME,  # localhost in otel_endpoint is this machine, not the container
            entry_script=record.entry_script,
            source_dir=SOURCE_ROOT,
            model_dir=record.model_dir or MODELS_ROOT,
            host="0.0.0.0",  # inside the container; published on the host's 127.0.0.1 only
            port=CONTAINER_PORT,
            timeout_ms=int(config.get("timeout_ms", 60_000)),
            auth_keys=tuple(record.auth_keys),
            auth_keys_file=KEYS_FILE if record.auth_keys else None,
            control_key_file=CONTROL_KEY_FILE if record.control_key else None,
            service_name=record.name,
            models=tuple(m["id"] for m in record.models),
            stay_up=True,  # the service shows the failure (503 + traceback) instead of vanishing
            **debug_settings(record, "0.0.0.0", int(config.get("workers", 1))),  # published on 127.0.0.1 only
        )
        if record.debug_port:
            env["PYTHONPATH"] = CONTAINER_DEBUGPY
        return env

    def _command(self) -> list[str]:
        """The scoring server's command (the image's ``CMD``, with ``--debug`` when asked)."""
        command = [f"{VENV}/bin/python", "-m", "jupyter_mldeploy.scoring", "--host", "0.0.0.0",
                   "--port", str(CONTAINER_PORT)]
        if self._record.config.get("debug", True):
            command.append("--debug")
        return command

    # --- Webservice hooks ---------------------------------------------------------------------

    @property
    def error(self) -> str | None:
        """Why the service is not healthy: the last operation's error, or the dead container's exit code and logs."""
        if self._operation is not None and self._operation.is_alive():
            return self._record.error
        try:
            state = self._engine().container_state(self._container, tail=20)
        except ServiceNotFoundError:
            return self._record.error or (
                f"the container of {self.name!r} is gone; call service.reload() to start it again"
            )
        except DockerUnavailableError as err:
            return str(err)
        if not state.running:
            return state.describe() + "\nCall service.reload() to start it again."
        return self._record.error

    def _target_state(self) -> str:
        record = self._record
        try:
            state = self._engine().container_state(self._container, tail=1)
        except ServiceNotFoundError:
            return WebserviceState.FAILED if record.image or record.error else WebserviceState.TRANSITIONING
        except DockerUnavailableError:
            return WebserviceState.UNHEALTHY
        if not state.running:
            return state.azure_state
        if state.health == "unhealthy":
            return WebserviceState.UNHEALTHY
        return self._ready_state()

    def _target_logs(self, num_lines: int) -> str:
        try:
            return self._engine().logs(self._container, tail=num_lines).rstrip("\n")
        except ServiceNotFoundError:
            return ""

    def _target_follow(self, poll_s: float) -> Iterator[str]:
        try:
            yield from self._engine().follow_logs(self._container, tail=0)
        except ServiceNotFoundError:
            return

    def _target_delete(self, delete_image: bool) -> None:
        try:
            engine = self._engine()
        except DockerUnavailableError:
            if self._record.container_id or self._record.image:
                raise  # a container may still run: say how to reach the engine
            return  # it never got a container: only the record goes
        engine.remove(self._container, delete_image=delete_image)
        if delete_image and self._record.image:
            engine.remove_image(self._record.image)

    # --- discovery from labels -------------------------------------------------------------------

    @classmethod
    def _discover(cls, name: str | None = None) -> list[ServiceRecord]:
        """Records of this home's services found from container labels alone (none if Docker is away)."""
        wanted = {LABEL_HOME: str(mldeploy_home().resolve())}
        if name is not None:
            wanted[LABEL_SERVICE] = name
        try:
            engine = cls._engine(connect_timeout=PING_TIMEOUT_S)
            found = engine.find_containers(wanted)
        except MLDeployError:
            return []
        records = []
        for info in found:
            try:
                records.append(record_from_container(engine, info, DockerDeploymentConfiguration, cls.compute_type))
            except (MLDeployError, ValueError, KeyError):
                continue  # a container whose labels we cannot read is not one we can manage
        return records


def docker_available(timeout: float = PING_TIMEOUT_S) -> tuple[bool, str]:
    """Whether Docker deployments can run here now, and why (engine answers, base image present)."""
    return docker_engine.engine_status(timeout)
