"""The Docker target (``LocalWebservice``): the scoring server in a container on 127.0.0.1.

A deployment goes through the phases ``resolve`` (models laid out as Azure
does, source copied), ``environment`` (the environment's wheels resolved on
the host for the image's Python, cached per spec hash), ``build`` (a layered
image: base, environment, runtime, models, code; the environment layer comes
from the cache unless the environment changed), ``start``, ``init`` and
``ready``.

The container runs with the service's source folder bind-mounted read-only
over the image's copy, so ``reload()`` and ``update(inference_config=...)``
after a code edit only re-sync that folder and restart the container: no image
rebuild. Containers carry labels (``mldeploy.service``, ``mldeploy.home``, ...)
so that ``Webservice(name)`` and ``Webservice.list()`` find them again even
when the service record is gone.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._config import base_image, mldeploy_home
from ..errors import (
    DeploymentError,
    DockerUnavailableError,
    InitError,
    MLDeployError,
    PortInUseError,
    ServerStartError,
    ServiceNotFoundError,
)
from . import records as _state
from ..images.context import CONTAINER_PORT, MODELS_ROOT, VENV, model_dir_for, source_ignore
from ..images.imports import missing_imports_note
from ..registry.layout import lay_out_models
from .records import ServiceRecord
from .progress import DeploymentProgress
from .service import DeploymentConfiguration, Webservice, WebserviceState

#: Labels (besides those of :func:`docker.service_labels`) that let a service be rebuilt from its container.
LABEL_HOME = "mldeploy.home"
LABEL_USER_SOURCE = "mldeploy.user-source"
LABEL_ENTRY_SCRIPT = "mldeploy.entry-script"
LABEL_ENV_NAME = "mldeploy.env-name"
#: Seconds the engine gets to answer before the default target falls back to the local process.
PING_TIMEOUT_S = 3.0

_PIP_STEP = "RUN /opt/mldeploy/venv/bin/python -m pip install"


@dataclass
class DockerDeploymentConfiguration(DeploymentConfiguration):
    """Settings of a Docker deployment (see :class:`DeploymentConfiguration`)."""

    compute_type = "docker"


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

    @staticmethod
    def deploy_configuration(
        port: int | None = None,
        auth_enabled: bool = False,
        workers: int = 1,
        timeout_ms: int = 60_000,
        debug: bool = True,
        environment_variables: dict[str, str] | None = None,
    ) -> DockerDeploymentConfiguration:
        """Settings for a Docker deployment (``port=None`` picks a free port on 127.0.0.1).

        Examples
        --------
        >>> LocalWebservice.deploy_configuration(port=6789).port
        6789
        """
        return DockerDeploymentConfiguration(
            port=port,
            auth_enabled=auth_enabled,
            workers=workers,
            timeout_ms=timeout_ms,
            debug=debug,
            environment_variables=dict(environment_variables or {}),
        )

    # --- deployment ------------------------------------------------------------------------

    def _full_deploy(
        self,
        progress: DeploymentProgress,
        models: Sequence[Any],
        inference_config: Any,
        config: DeploymentConfiguration,
        note: str = "",
    ) -> None:
        self._resolve(progress, models, inference_config, note)
        self._environment(progress, inference_config)
        self._build(progress)
        self._start_and_wait(progress, config.port)

    # --- phases -------------------------------------------------------------------------------

    def _resolve(
        self, progress: DeploymentProgress, models: Sequence[Any] | None, inference_config: Any, note: str = ""
    ) -> None:
        record = self._record
        with progress.phase("resolve") as phase:
            if note:
                progress.log(note)
            if inference_config is not None:
                record.source_dir = str(inference_config.source_directory_path)
                record.entry_script = str(inference_config.entry_script_relative)
            if models is not None:
                laid_out = lay_out_models(models, record.folder / "azureml-models", log=progress.log)
                record.models = laid_out.entries
                record.model_dir = model_dir_for([(m["name"], str(m["version"])) for m in record.models])
            files = self._sync_source()
            phase.detail = (
                (f"{note}; " if note else "")
                + f"{len(record.models)} model(s), entry script {record.entry_script}, {files} source file(s)"
            )
            _state.save(record)

    def _environment(self, progress: DeploymentProgress, inference_config: Any) -> bool:
        """Resolve the environment's wheels for the image; return whether the environment changed."""
        from ..environment import Environment

        record = self._record
        env = getattr(inference_config, "environment", None) if inference_config is not None else None
        with progress.phase("environment") as phase:
            old = record.environment or {}
            if inference_config is None and old.get("wheelhouse") and Path(old["wheelhouse"]).is_dir():
                phase.detail = "unchanged"
                return False
            if env is None and inference_config is None and old.get("spec_hash"):
                env = _environment_again(old)  # a service found from labels: its environment by name
            if env is None:
                env = Environment(f"{record.name}-runtime")
                progress.log("no environment given: the image gets the scoring runtime only "
                             "(pass InferenceConfig(environment=...) for your packages)")
            engine = _engine()
            image = base_image()
            python_version = image_python_version(engine, image)
            platform = engine_platform(engine)
            house, reused = cached_wheelhouse(env, python_version, platform, log=progress.log)
            note = missing_imports_note(Path(record.source_dir) / record.entry_script, Path(record.source_dir), house)
            if note:
                progress.log(note)
            record.environment = {
                "name": env.name,
                "version": getattr(env, "version", None),
                "spec_hash": env.spec_hash,
                "wheelhouse": str(house),
                "python_version": python_version,
                "platform": platform,
                "base_image": image,
            }
            phase.detail = (
                f"{env.name} for Python {python_version} {platform}: wheels {'reused' if reused else 'resolved'}"
            )
            _state.save(record)
            return old.get("spec_hash") != env.spec_hash or old.get("base_image") != image

    def _build(self, progress: DeploymentProgress) -> None:
        from .._runtime import runtime_wheel
        from ..images.context import write_build_context
        from ..images.engine import LABEL_ENV_HASH, service_labels

        record = self._record
        env = record.environment or {}
        engine = _engine()
        with progress.phase("build") as phase:
            context = record.folder / "context"
            info = write_build_context(
                context,
                base_image=env["base_image"],
                wheelhouse_dir=env["wheelhouse"],
                runtime_wheel=runtime_wheel(),
                entry_script=record.entry_script,
                env_hash=env["spec_hash"],
                models=[(m["name"], str(m["version"]), m["path"]) for m in record.models if m.get("path")],
                source_dir=record.folder / "src",
                exist_ok=True,
            )
            tag = image_tag(record.name)
            labels = service_labels(record.name, models=info.models_label, env_hash=info.env_hash)
            labels[LABEL_ENV_HASH] = info.env_hash
            labels[LABEL_HOME] = str(mldeploy_home().resolve())
            result = engine.build_image(context, tag, labels=labels, on_log=progress.log_text)
            shutil.rmtree(context, ignore_errors=True)  # the image holds it; wheels stay in the wheelhouse
            record.image = tag
            self._image_id = result.image_id
            try:
                env_cached = result.step_cached(_PIP_STEP)
            except KeyError:
                env_cached = False
            phase.detail = (
                f"{tag} in {result.seconds:.1f}s, environment layer "
                + ("from the cache" if env_cached else "built")
            )
            _state.save(record)

    def _start_and_wait(self, progress: DeploymentProgress, port: int | None) -> None:
        record = self._record
        engine = _engine()
        with progress.phase("start") as phase:
            old_image = self._running_image_id(engine)
            engine.remove(self._container)
            wanted = port if port is not None else record.port
            try:
                running = engine.run_container(
                    record.image or image_tag(record.name),
                    self._container,
                    port=wanted,
                    labels=self._labels(),
                    env=self._run_env(),
                    source_dir=record.folder / "src",
                    command=self._command(),
                )
            except PortInUseError as err:
                holder = _state.holder_of_port(wanted, exclude=record.name) if wanted else None
                if holder is None:
                    raise
                raise PortInUseError(
                    f"port {wanted} on 127.0.0.1 is in use by service {holder!r}; delete that service "
                    "or pass another port (port=None picks a free one)"
                ) from err
            record.port = running.port
            record.container_id = running.id
            _state.save(record)
            new_image = getattr(self, "_image_id", None)
            if old_image and new_image and old_image != new_image:
                engine.remove_image(old_image)  # the previous build of this service, now unused
            phase.detail = f"container {running.name} ({running.id[:12]}) on 127.0.0.1:{running.port}"
        with progress.phase("init"):
            self._wait_ready(progress)
        with progress.phase("ready", detail=f"{self.scoring_uri}"):
            pass

    def _wait_ready(self, progress: DeploymentProgress, timeout_s: float = 600.0) -> None:
        from ..client.client import ScoringClient

        record = self._record
        engine = _engine()
        deadline = time.monotonic() + timeout_s
        next_check = 0.0
        with ScoringClient(f"http://127.0.0.1:{record.port}", timeout=2.0) as client:
            while True:
                try:
                    client.wait_ready(timeout=0.0)
                    return
                except InitError as err:
                    trace = err.traceback_text.strip()
                    logs = engine.logs(self._container, tail=200)
                    raise DeploymentError(
                        f"init() of {record.entry_script} failed in service {record.name!r}: {err}\n"
                        + (f"{trace}\n" if trace else "")
                        + f"Last log lines:\n{_tail(logs, 20)}\n"
                        "Fix the script, then call service.reload() (no rebuild needed).",
                        logs=logs,
                    ) from err
                except ServerStartError:
                    pass  # not answering yet
                now = time.monotonic()
                if now >= next_check:
                    next_check = now + 0.25
                    state = engine.container_state(self._container, tail=30)
                    if not state.running:
                        raise DeploymentError(
                            f"the container of {record.name!r} stopped before it was ready: {state.describe()}\n"
                            "Fix the entry script or environment, then call service.reload().",
                            logs=state.logs,
                        )
                if now >= deadline:
                    raise DeploymentError(
                        f"service {record.name!r} was not ready after {timeout_s:g}s. "
                        f"Last log lines:\n{_tail(engine.logs(self._container, tail=30), 30)}"
                    )
                time.sleep(0.05)

    # --- helpers ---------------------------------------------------------------------------

    @property
    def _container(self) -> str:
        from ..images.engine import container_name

        return container_name(self._record.name)

    def _sync_source(self) -> int:
        """Copy the user's source folder into the service's mounted ``src/``; return the file count.

        The folder is emptied and refilled in place (the container's bind mount keeps pointing
        at it) and made readable by the container's non-root user.
        """
        record = self._record
        dest = record.folder / "src"
        dest.mkdir(parents=True, exist_ok=True)
        for child in list(dest.iterdir()):
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
        source = Path(record.source_dir) if record.source_dir else None
        if source is None or not source.is_dir():
            raise DeploymentError(
                f"the source folder {record.source_dir!r} of service {record.name!r} is gone; "
                "update the service with an InferenceConfig whose source_directory exists."
            )
        ignore = source_ignore(source)
        shutil.copytree(source, dest, ignore=ignore, dirs_exist_ok=True, ignore_dangling_symlinks=True)
        count = 0
        os.chmod(dest, 0o755)
        for root, dirs, files in os.walk(dest):
            for d in dirs:
                os.chmod(os.path.join(root, d), 0o755)
            for f in files:
                path = os.path.join(root, f)
                os.chmod(path, os.stat(path).st_mode | 0o444)
                count += 1
        return count

    def _labels(self) -> dict[str, str]:
        from ..images.engine import service_labels

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
        record = self._record
        config = record.config
        env = {k: str(v) for k, v in (config.get("environment_variables") or {}).items()}
        env.update(
            AZUREML_ENTRY_SCRIPT=record.entry_script,
            MLDEPLOY_WORKERS=str(config.get("workers", 1)),
            MLDEPLOY_TIMEOUT_MS=str(config.get("timeout_ms", 60_000)),
            MLDEPLOY_AUTH_KEYS=",".join(record.auth_keys),
            MLDEPLOY_SERVICE_NAME=record.name,
        )
        if record.model_dir:
            env["AZUREML_MODEL_DIR"] = record.model_dir
        return env

    def _command(self) -> list[str]:
        """The scoring server's command (the image's ``CMD``, with ``--debug`` when asked)."""
        command = [f"{VENV}/bin/python", "-m", "jupyter_mldeploy.scoring", "--host", "0.0.0.0",
                   "--port", str(CONTAINER_PORT)]
        if self._record.config.get("debug", True):
            command.append("--debug")
        return command

    def _running_image_id(self, engine: Any) -> str | None:
        try:
            return str(engine.client.containers.get(self._container).image.id)
        except Exception:  # noqa: BLE001 - no container (or no engine): nothing to clean up
            return None

    # --- Webservice hooks ---------------------------------------------------------------------

    @property
    def error(self) -> str | None:
        """Why the service is not healthy: the last operation's error, or the dead container's exit code and logs."""
        if self._operation is not None and self._operation.is_alive():
            return self._record.error
        try:
            state = _engine().container_state(self._container, tail=20)
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
            state = _engine().container_state(self._container, tail=1)
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
            return _engine().logs(self._container, tail=num_lines).rstrip("\n")
        except ServiceNotFoundError:
            return ""

    def _target_follow(self, poll_s: float) -> Iterator[str]:
        try:
            yield from _engine().follow_logs(self._container, tail=0)
        except ServiceNotFoundError:
            return

    def _target_update(
        self,
        progress: DeploymentProgress,
        models: Sequence[Any] | None,
        inference_config: Any,
        deployment_config: DeploymentConfiguration | None,
    ) -> None:
        port = self._apply_deployment_config(deployment_config)
        self._resolve(progress, models, inference_config)
        env_changed = self._environment(progress, inference_config)
        if models is not None or env_changed or not self._image_present():
            self._build(progress)
        else:
            with progress.phase("build", detail="skipped: no model or environment change (code is mounted)"):
                pass
        self._start_and_wait(progress, port)

    def _target_reload(self, progress: DeploymentProgress) -> None:
        with progress.phase("resolve") as phase:
            phase.detail = f"{self._sync_source()} source file(s) re-read"
        if not self._image_present():
            self._environment(progress, None)
            self._build(progress)
        self._start_and_wait(progress, self._record.port)

    def _target_delete(self, delete_image: bool) -> None:
        try:
            engine = _engine()
        except DockerUnavailableError:
            if self._record.container_id or self._record.image:
                raise  # a container may still run: say how to reach the engine
            return  # it never got a container: only the record goes
        engine.remove(self._container, delete_image=delete_image)
        if delete_image and self._record.image:
            engine.remove_image(self._record.image)

    def _image_present(self) -> bool:
        return bool(self._record.image) and _engine().image_exists(str(self._record.image))

    # --- discovery from labels -------------------------------------------------------------------

    @classmethod
    def _discover(cls, name: str | None = None) -> list[ServiceRecord]:
        """Records of this home's services found from container labels alone (none if Docker is away)."""
        from ..images.engine import LABEL_SERVICE

        wanted = {LABEL_HOME: str(mldeploy_home().resolve())}
        if name is not None:
            wanted[LABEL_SERVICE] = name
        try:
            engine = _engine(connect_timeout=PING_TIMEOUT_S)
            found = engine.find_containers(wanted)
        except MLDeployError:
            return []
        records = []
        for info in found:
            try:
                records.append(_record_from_container(engine, info))
            except (MLDeployError, ValueError, KeyError):
                continue  # a container whose labels we cannot read is not one we can manage
        return records


def _record_from_container(engine: Any, info: Any) -> ServiceRecord:
    """Rebuild a minimal service record from a container's labels and environment."""
    from ..images.engine import LABEL_ENV_HASH, LABEL_MODELS, LABEL_SERVICE, _env_dict

    labels = info.labels
    attrs = engine.client.containers.get(info.id).attrs
    env = _env_dict((attrs.get("Config") or {}).get("Env") or [])
    models = []
    for item in filter(None, labels.get(LABEL_MODELS, "").split(",")):
        model_name, _, version = item.partition(":")
        models.append({"name": model_name, "version": int(version or 1), "id": item})
    keys = [k for k in env.get("MLDEPLOY_AUTH_KEYS", "").split(",") if k]
    config = DockerDeploymentConfiguration(
        port=info.port,
        auth_enabled=bool(keys),
        workers=int(env.get("MLDEPLOY_WORKERS", "1")),
        timeout_ms=int(env.get("MLDEPLOY_TIMEOUT_MS", "60000")),
    )
    spec_hash = labels.get(LABEL_ENV_HASH, "")
    return ServiceRecord(
        name=labels[LABEL_SERVICE],
        compute_type=LocalWebservice.compute_type,
        port=info.port,
        models=models,
        entry_script=labels.get(LABEL_ENTRY_SCRIPT) or env.get("AZUREML_ENTRY_SCRIPT", "score.py"),
        source_dir=labels.get(LABEL_USER_SOURCE, ""),
        model_dir=env.get("AZUREML_MODEL_DIR", MODELS_ROOT),
        environment={"name": labels.get(LABEL_ENV_NAME, ""), "spec_hash": spec_hash} if spec_hash else None,
        config=config.to_dict(),
        auth_keys=keys,
        container_id=info.id,
        image=info.image,
        created_time=str(attrs.get("Created", ""))[:19] + "+00:00" if attrs.get("Created") else _state.now_iso(),
    )


# --- module helpers -------------------------------------------------------------------------

_ENGINES: dict[tuple[str, float], Any] = {}


def _engine(connect_timeout: float = 10.0) -> Any:
    """A shared :class:`DockerEngine` (one SDK client per ``DOCKER_HOST`` and connect timeout)."""
    from ..images.engine import DockerEngine

    key = (os.environ.get("DOCKER_HOST", ""), connect_timeout)
    engine = _ENGINES.get(key)
    if engine is None:
        engine = DockerEngine(connect_timeout=connect_timeout)
        engine.client  # noqa: B018 - connect now so a missing engine fails here
        _ENGINES[key] = engine
    return engine


def docker_available(timeout: float = PING_TIMEOUT_S) -> tuple[bool, str]:
    """Whether Docker deployments can run here now, and why (engine answers, base image present).

    Never hangs longer than about ``timeout`` seconds, even when the daemon hangs.
    """
    from ..images.engine import DockerEngine

    engine = DockerEngine(connect_timeout=timeout, timeout=int(max(timeout, 1)))
    try:
        version = engine.ping()
    except MLDeployError as err:
        return False, f"no Docker engine answers ({str(err).splitlines()[0]})"
    image = base_image()
    try:
        present = engine.image_exists(image)
    except MLDeployError as err:
        return False, f"the Docker engine did not answer in time ({err})"
    finally:
        engine.close()
    if not present:
        return False, (
            f"Docker {version.get('Version', '')} answers but the base image {image!r} is not present "
            "(set MLDEPLOY_BASE_IMAGE or pull/build it)"
        )
    return True, f"Docker {version.get('Version', '')} answers and base image {image!r} is present"


def image_tag(service: str) -> str:
    """The image tag of service ``service``'s builds (``mldeploy/service-<name>:latest``, lowercase)."""
    safe = "".join(c if c.isalnum() or c in "._-" else "-" for c in service.lower()).strip("._-") or "service"
    return f"mldeploy/service-{safe}:latest"


def image_python_version(engine: Any, image: str) -> str:
    """The ``X.Y`` of ``python3`` in ``image`` (asked once per image id, then cached on disk)."""
    import docker.errors

    image_id = engine.ensure_base_image(image)
    cache_file = mldeploy_home() / "cache" / "base-image-python.json"
    try:
        cache = json.loads(cache_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        cache = {}
    if image_id in cache:
        return str(cache[image_id])
    try:
        out = engine.client.containers.run(
            image_id,
            ["python3", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            remove=True,
            network_disabled=True,
            stdout=True,
            stderr=True,
        )
    except docker.errors.DockerException as err:
        raise DeploymentError(
            f"could not ask base image {image!r} for its Python version ({err}); the base image needs "
            "python3 on its PATH: set MLDEPLOY_BASE_IMAGE to a Python image."
        ) from err
    version = bytes(out).decode().strip().splitlines()[-1]
    cache[image_id] = version
    cache_file.parent.mkdir(parents=True, exist_ok=True)
    cache_file.write_text(json.dumps(cache), encoding="utf-8")
    return version


def engine_platform(engine: Any) -> str:
    """The engine's platform in Docker style (``linux/amd64`` or ``linux/arm64``)."""
    arch = str(engine.client.info().get("Architecture", "x86_64")).lower()
    return "linux/arm64" if arch in {"aarch64", "arm64"} else "linux/amd64"


def cached_wheelhouse(
    env: Any, python_version: str, platform: str, log: Callable[[str], None] | None = None
) -> tuple[Path, bool]:
    """The wheelhouse of ``env`` for the image's Python and platform, resolved once and cached.

    Kept under ``$MLDEPLOY_HOME/wheelhouses/<spec hash>-<python>-<platform>/``; returns
    ``(folder, reused)``.
    """
    root = mldeploy_home() / "wheelhouses"
    root.mkdir(parents=True, exist_ok=True)
    key = f"{env.spec_hash[:16]}-{python_version}-{platform.replace('/', '_')}"
    dest = root / key
    with open(root / f".{key}.lock", "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (dest / "requirements.txt").is_file():
            return dest, True
        temp = Path(tempfile.mkdtemp(dir=root, prefix=f".{key}-"))
        try:
            env.download_wheels(
                temp, python_version=python_version, platform=platform, include_runtime_wheel=False, log=log
            )
            os.replace(temp, dest)
        finally:
            shutil.rmtree(temp, ignore_errors=True)
    return dest, False


def _environment_again(old: dict[str, Any]) -> Any:
    """The registered environment a service was built with (name and spec hash from its labels).

    Raises
    ------
    DeploymentError
        It is not registered here (any more): the caller must pass the inference config again.
    """
    from ..environment import Environment

    name, spec_hash = old.get("name") or "", old.get("spec_hash")
    if name.endswith("-runtime") and Environment(name).spec_hash == spec_hash:
        return Environment(name)
    try:
        versions = Environment.list_versions(name) if name else []
    except MLDeployError:
        versions = []
    for env in versions:
        if env.spec_hash == spec_hash:
            return env
    raise DeploymentError(
        f"the environment of this service ({name or 'unnamed'}, spec hash {str(spec_hash)[:12]}) is not "
        "registered here, so it cannot be rebuilt; pass inference_config=InferenceConfig(..., "
        "environment=...) to update()."
    )


def _tail(text: str, lines: int) -> str:
    return "\n".join(text.rstrip("\n").splitlines()[-lines:])


__all__ = [
    "DockerDeploymentConfiguration",
    "LocalWebservice",
    "docker_available",
    "image_tag",
]
