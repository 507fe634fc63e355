"""``ContainerImage`` / ``Image``: Azure ML v1's older image API, mapped onto ``Model.package``.

Guides written before ``Model.package`` build an image first and deploy it later::

    image_config = ContainerImage.image_configuration(execution_script="score.py", runtime="python",
                                                      conda_file="myenv.yml")
    image = Image.create(ws, "myimage", [model], image_config)
    image.wait_for_creation(show_output=True)
    image.image_location          # 'myimage:1'; then docker run -p 127.0.0.1:6789:5001 myimage:1

Here ``Image.create`` is ``Model.package(ws, models, inference_config, image_name=name)``:
the image is built on this machine's Docker engine, versioned as v1 did (``name:1``,
``name:2``, ...), and recorded under ``$MLDEPLOY_HOME/images`` so that ``Image(ws, name)``,
``Image(ws, id="name:2")`` and ``Image.list(ws)`` find it later. The execution script's
folder (and the ``dependencies``' folders) are the image's source folder. Options that
only mean something in Azure's image builds are accepted and noted once as ignored.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from .._config import mldeploy_home
from ..api import Model
from ..deploy.package import ModelPackage
from ..errors import InvalidArgumentError, NotFoundError
from ..images.engine import shared_engine
from ..inference_config import InferenceConfig
from ._notes import ignored

__all__ = ["ContainerImage", "ContainerImageConfig", "Image"]


class ContainerImageConfig:
    """``ContainerImage.image_configuration(...)``'s result: the script, runtime and packages of an image.

    ``execution_script`` (and ``conda_file``, ``dependencies``) are relative to the current
    folder, as in v1; the folder holding the script and the dependencies goes into the image.
    """

    def __init__(
        self,
        execution_script: str | os.PathLike[str],
        runtime: str | None = "python",
        conda_file: str | os.PathLike[str] | None = None,
        docker_file: str | None = None,
        schema_file: str | None = None,
        dependencies: list[str] | None = None,
        enable_gpu: bool | None = None,
        tags: dict[str, str] | None = None,
        properties: dict[str, str] | None = None,
        description: str | None = None,
        base_image: str | None = None,
        base_image_registry: Any = None,
        allow_absolute_path: bool = False,
        cuda_version: str | None = None,
    ) -> None:
        ignored("ContainerImage.image_configuration", {
            "docker_file": docker_file, "schema_file": schema_file, "enable_gpu": enable_gpu or None,
            "base_image_registry": base_image_registry, "cuda_version": cuda_version,
        }, ["docker_file", "schema_file", "enable_gpu", "base_image_registry", "cuda_version"],
            "images here are built offline from the base image, the conda file's packages and the script's folder")
        script = Path(execution_script).expanduser().absolute()
        folders = [script.parent]
        for dependency in dependencies or []:
            path = Path(dependency).expanduser().absolute()
            if not path.exists():
                raise InvalidArgumentError(
                    f"dependency {dependency!r} not found (looked at {path}); fix the path (relative to the current "
                    f"folder {Path.cwd()}) or leave it out."
                )
            folders.append(path if path.is_dir() else path.parent)
        self.source_directory = Path(os.path.commonpath([str(f) for f in folders]))
        self.execution_script = str(execution_script)
        self.entry_script = script.relative_to(self.source_directory).as_posix()
        self.runtime = runtime
        self.conda_file = None if conda_file is None else str(Path(conda_file).expanduser().absolute())
        self.dependencies = list(dependencies or [])
        self.tags = dict(tags or {})
        self.properties = dict(properties or {})
        self.description = description
        self.base_image = base_image

    def inference_config(self) -> InferenceConfig:
        """The :class:`InferenceConfig` this image configuration means (the entry script is checked now)."""
        return InferenceConfig(self.entry_script, runtime=self.runtime, conda_file=self.conda_file,
                               source_directory=str(self.source_directory), description=self.description,
                               base_image=self.base_image)


class Image:
    """A service image built by :meth:`create` (v1's ``Image`` / ``ContainerImage``), or found by name.

    Parameters
    ----------
    workspace
        Ignored (the local registry).
    name, version, id
        The image to find: its latest version, ``version``, or ``id="name:version"``.

    Examples
    --------
    >>> image = Image(ws, name="myimage")          # doctest: +SKIP
    >>> image.version, image.image_location        # doctest: +SKIP
    (2, 'myimage:2')
    """

    def __init__(self, workspace: Any = None, name: str | None = None, id: str | None = None,
                 tags: Any = None, properties: Any = None, version: int | None = None) -> None:
        if id is not None:
            name, _, number = id.rpartition(":")
            if not name or not number.isdecimal():
                raise InvalidArgumentError(f"Image(id={id!r}): write the id as NAME:VERSION, e.g. myimage:1.")
            version = int(number)
        if not name:
            raise InvalidArgumentError("Image(ws, name=...) needs the image's name (or id='name:version').")
        found = [r for r in _records(name) if version is None or r["version"] == int(version)]
        if not found:
            known = ", ".join(f"{r['name']}:{r['version']}" for r in _records(None)) or "none yet"
            raise NotFoundError(
                f"no image {name}{'' if version is None else f':{version}'} was created here (images: {known}); "
                "create it with Image.create(ws, name, models, image_config)."
            )
        self._load(max(found, key=lambda r: r["version"]))
        self._package: ModelPackage | None = None

    def _load(self, record: dict[str, Any]) -> None:
        self.name: str = record["name"]
        self.version: int = int(record["version"])
        self.image_location: str = record["location"]
        self.models: list[str] = list(record.get("models", []))
        self.tags: dict[str, str] = dict(record.get("tags", {}))
        self.properties: dict[str, str] = dict(record.get("properties", {}))
        self.description: str | None = record.get("description")
        self.created_time: str = record.get("created", "")
        #: no build log URL here: the log is local (get_logs())
        self.image_build_log_uri: str | None = None

    # --- v1's calls ---------------------------------------------------------------------------

    @staticmethod
    def create(workspace: Any, name: str, models: list[Any], image_config: ContainerImageConfig) -> Image:
        """Build image ``name`` (version 1, 2, ... per name) from ``models`` and ``image_config``; returns at once.

        Raises
        ------
        InvalidArgumentError
            ``image_config`` is not from ``ContainerImage.image_configuration(...)``, or ``name`` is no image name.
        """
        if not isinstance(image_config, ContainerImageConfig):
            raise InvalidArgumentError(
                "image_config must come from ContainerImage.image_configuration(execution_script=..., runtime=..., "
                f"conda_file=...), not {type(image_config).__name__}."
            )
        package = Model.package(workspace, models, image_config.inference_config(), image_name=name)
        record = {
            "name": name, "version": int(package.location.rpartition(":")[2]), "location": package.location,
            "models": [getattr(m, "id", str(m)) for m in models], "tags": image_config.tags,
            "properties": image_config.properties, "description": image_config.description,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        folder = _folder() / name.replace("/", "__")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{record['version']}.json").write_text(json.dumps(record, indent=1), encoding="utf-8")
        image = Image.__new__(ContainerImage)
        image._load(record)
        image._package = package
        return image

    @staticmethod
    def list(workspace: Any = None, image_name: str | None = None, model_name: str | None = None,
             model_id: str | None = None, tags: Any = None, properties: Any = None) -> list[Image]:
        """The images created here (newest version first per name), optionally of one name or model."""
        out = []
        for record in _records(image_name):
            models = record.get("models", [])
            if model_id is not None and model_id not in models:
                continue
            if model_name is not None and not any(m.partition(":")[0] == model_name for m in models):
                continue
            image = Image.__new__(ContainerImage)
            image._load(record)
            image._package = None
            out.append(image)
        return sorted(out, key=lambda i: (i.name, -i.version))

    @property
    def id(self) -> str:
        """``name:version``."""
        return f"{self.name}:{self.version}"

    @property
    def creation_state(self) -> str:
        """``Running`` while building, then ``Succeeded`` (the image is in the engine) or ``Failed``."""
        if self._package is not None:
            return self._package.state
        return "Succeeded" if shared_engine().image_exists(self.image_location) else "Failed"

    def wait_for_creation(self, show_output: bool = False) -> None:
        """Wait for the build (``show_output=True`` prints its phases and output); raise with the cause if it failed."""
        if self._package is not None:
            self._package.wait_for_creation(show_output=show_output)
        elif self.creation_state != "Succeeded":
            raise InvalidArgumentError(
                f"image {self.image_location} is not in this machine's Docker engine (removed since?); "
                "create it again with Image.create(ws, name, models, image_config)."
            )

    def get_logs(self) -> str:
        """The build's phases and output (this process's builds; empty for an image found by name)."""
        return self._package.get_logs() if self._package is not None else ""

    def delete(self) -> None:
        """Remove the image from the Docker engine and forget it."""
        if self._package is not None:
            self._package.delete()
        else:
            shared_engine().remove_image(self.image_location)
        (_folder() / self.name.replace("/", "__") / f"{self.version}.json").unlink(missing_ok=True)

    def serialize(self) -> dict[str, Any]:
        """The image as v1's JSON-ready dict."""
        return {"name": self.name, "version": self.version, "id": self.id, "imageLocation": self.image_location,
                "creationState": self.creation_state, "modelIds": self.models, "tags": self.tags,
                "properties": self.properties, "description": self.description, "createdTime": self.created_time}

    def __repr__(self) -> str:
        return f"ContainerImage(name={self.name!r}, version={self.version}, image_location={self.image_location!r})"


class ContainerImage(Image):
    """v1's ``ContainerImage``: an :class:`Image` whose configuration comes from :meth:`image_configuration`."""

    #: ``ContainerImage.image_configuration(execution_script, runtime="python", conda_file=None, ...)``: v1's
    #: arguments, giving the :class:`ContainerImageConfig` that :meth:`Image.create` builds from
    image_configuration = staticmethod(ContainerImageConfig)


def _folder() -> Path:
    return mldeploy_home() / "images"


def _records(name: str | None) -> list[dict[str, Any]]:
    """The recorded images (of ``name``, or all)."""
    base = _folder()
    folders = [base / name.replace("/", "__")] if name else (sorted(base.iterdir()) if base.is_dir() else [])
    records = []
    for folder in folders:
        for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
            try:
                records.append(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError):
                continue  # a half-written record: skip it
    return records
