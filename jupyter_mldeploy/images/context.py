"""Write a self-contained Docker build context for one deployment.

The folder this module writes builds offline with a plain ``docker build``:
every Python package comes from the wheelhouse inside it, installed with
``pip install --no-index``. Its Dockerfile is ordered for the layer cache,
from what changes least to what changes most::

    stage "env"   FROM base; venv at /opt/mldeploy/venv; COPY wheels/; pip install --no-index
    final stage   FROM base; non-root user (uid 1000); COPY --from=env the venv
                  COPY runtime/ (jupyter-mldeploy wheel) + pip install --no-deps
                  COPY azureml-models/; COPY src/; ENV AZUREML_*; USER 1000; CMD scoring server

The environment layer depends only on the wheelhouse (its wheels, its pinned
``requirements.txt`` and an ``ENV_HASH`` file holding the environment's spec
hash), so a new model version or a code change never reinstalls packages, and
the wheels themselves stay out of the final image (they live in the ``env``
build stage only).

Examples
--------
>>> from jupyter_mldeploy.images.context import write_build_context
>>> info = write_build_context(                                   # doctest: +SKIP
...     "ctx", base_image="python:3.11-slim", wheelhouse_dir="wheels",
...     runtime_wheel="dist/jupyter_mldeploy-0.1.0-py3-none-any.whl",
...     models={"ridge": {1: "model.pkl"}}, source_dir="src", entry_script="score.py",
...     env_hash="3f2a...")
>>> info.model_dir                                                 # doctest: +SKIP
'/var/azureml-app/azureml-models/ridge/1'
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from .._names import validate_name
from ..errors import InvalidArgumentError, ModelPathError, PathEscapeError, TargetExistsError
from ..source_copy import SourceCopy, copy_folder, copy_source
from .dockerfile import (
    APP_ROOT,
    MODELS_ROOT,
    RUNTIME_INSTALLER,
    SOURCE_ROOT,
    render_dockerfile,
)

_ENV_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_WHEEL_RE = re.compile(r"^(?P<name>[^-]+)-(?P<version>[^-]+)(-\d[^-]*)?-[^-]+-[^-]+-[^-]+\.whl$")

ModelsArg = Mapping[str, Mapping[object, "str | os.PathLike[str]"]] | Iterable[
    "tuple[str, object, str | os.PathLike[str]]"
]


@dataclass(frozen=True)
class ModelSource:
    """One model version to put in the image: ``NAME/VERSION/`` under the models root.

    A file model lands as ``NAME/VERSION/<file name>``; a folder model's contents
    land directly in ``NAME/VERSION/`` (what ``Model.get_model_path`` returns for it).
    """

    name: str
    version: str
    path: Path


@dataclass(frozen=True)
class ContextInfo:
    """What :func:`write_build_context` wrote, and what the image will hold.

    Attributes
    ----------
    path:
        The context folder (pass it to ``docker build``).
    dockerfile:
        Its ``Dockerfile``.
    env_hash:
        The environment's spec hash (written to ``wheels/ENV_HASH``; keys the env layer).
    base_image:
        The ``FROM`` image.
    model_dir:
        ``AZUREML_MODEL_DIR`` inside the image (Azure's rule: the version folder for one model,
        the models root for several).
    entry_script:
        ``AZUREML_ENTRY_SCRIPT``: the entry script, relative to :data:`SOURCE_ROOT`.
    models:
        ``(name, version)`` of every model copied.
    env:
        Every environment variable the image sets for the scoring server.
    left_out:
        The source folder's dotfiles, secrets and ignored paths that were not copied.
    """

    path: Path
    dockerfile: Path
    env_hash: str
    base_image: str
    model_dir: str
    entry_script: str
    models: tuple[tuple[str, str], ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    #: What the source copy left out and names (dotfiles, secrets, ignore-file entries).
    left_out: tuple[str, ...] = ()

    @property
    def models_label(self) -> str:
        """``"name:version,name:version"``: the models, as the ``mldeploy.models`` label spells them."""
        return ",".join(f"{name}:{version}" for name, version in self.models)


@dataclass
class BuildContext:
    """The inputs of one build context; :meth:`write` lays them out in a folder.

    Parameters
    ----------
    base_image
        Image of the ``FROM`` lines (``jupyter_mldeploy._config.base_image()`` by default upstream).
    wheelhouse_dir
        Folder of wheels for the image's Python and platform, with a pinned
        ``requirements.txt`` (one is generated from the wheel file names when absent):
        what ``Environment.download_wheels(dest, python_version, platform)`` writes.
        It must hold the scoring server's own requirements too. A jupyter-mldeploy wheel
        in it (and its ``requirements.txt`` line) is left out: ``runtime_wheel`` installs it.
    runtime_wheel
        The jupyter-mldeploy wheel, installed with ``--no-deps`` on top of the environment.
    models
        ``{name: {version: path}}`` or ``[(name, version, path), ...]``.
    source_dir
        Folder with the entry script and its modules (copied without caches, ``.git``, ``.venv``,
        and names listed in its ``.amlignore``); ``None`` copies only the entry script.
    entry_script
        The entry script, relative to ``source_dir`` (or a path when ``source_dir`` is ``None``).
    env_vars
        Extra environment variables set in the image.
    env_hash
        The environment's spec hash.
    python
        The base image's Python command used to create the virtualenv.
    """

    base_image: str
    wheelhouse_dir: Path
    runtime_wheel: Path
    entry_script: str
    env_hash: str
    models: tuple[ModelSource, ...] = ()
    source_dir: Path | None = None
    env_vars: dict[str, str] = field(default_factory=dict)
    python: str = "python3"

    def __post_init__(self) -> None:
        self.wheelhouse_dir = Path(self.wheelhouse_dir)
        self.runtime_wheel = Path(self.runtime_wheel)
        if self.source_dir is not None:
            self.source_dir = Path(self.source_dir)
        if not self.base_image or any(c.isspace() for c in self.base_image):
            raise InvalidArgumentError(
                f"base image {self.base_image!r} is not an image reference; pass one such as "
                "'python:3.11-slim' or set MLDEPLOY_BASE_IMAGE"
            )
        if not re.fullmatch(r"[A-Za-z0-9._:+-]{1,128}", self.env_hash or ""):
            raise InvalidArgumentError(
                f"env_hash {self.env_hash!r} must be 1-128 letters, digits or '._:+-'; "
                "pass the environment's spec hash"
            )
        if not self.wheelhouse_dir.is_dir():
            raise ModelPathError(
                f"wheelhouse {self.wheelhouse_dir} is not a folder; resolve the environment's wheels "
                "first (env.download_wheels(dest, python_version, platform))"
            )
        if not self.runtime_wheel.is_file() or self.runtime_wheel.suffix != ".whl":
            raise ModelPathError(
                f"runtime wheel {self.runtime_wheel} is not a .whl file; build the jupyter-mldeploy "
                "wheel first (jupyter_mldeploy._runtime) or pass its path"
            )
        if self.source_dir is not None and not self.source_dir.is_dir():
            raise ModelPathError(f"source directory {self.source_dir} is not a folder; pass an existing folder")
        for key, value in self.env_vars.items():
            if not _ENV_KEY_RE.match(key):
                raise InvalidArgumentError(
                    f"environment variable name {key!r} is not valid; use letters, digits and '_', "
                    "not starting with a digit"
                )
            if "\n" in str(value) or "\r" in str(value):
                raise InvalidArgumentError(
                    f"environment variable {key} has a line break; Dockerfile ENV values must be one line"
                )

    # --- layout -------------------------------------------------------------------------

    @property
    def entry_script_in_image(self) -> str:
        """The entry script relative to :data:`SOURCE_ROOT`, with ``/`` separators."""
        if self.source_dir is None:
            return Path(self.entry_script).name
        rel = PurePosixPath(Path(self.entry_script).as_posix())
        if rel.is_absolute() or ".." in rel.parts:
            raise PathEscapeError(
                f"entry script {self.entry_script!r} must be a path inside source_dir {self.source_dir}; "
                "pass it relative to that folder (for example 'score.py')"
            )
        return str(rel)

    @property
    def model_dir(self) -> str:
        """``AZUREML_MODEL_DIR`` inside the image (Azure's rule)."""
        return model_dir_for([(m.name, m.version) for m in self.models])

    def image_env(self) -> dict[str, str]:
        """Every environment variable the image sets (ours first, then ``env_vars``)."""
        env = {
            "AML_APP_ROOT": APP_ROOT,
            "AZUREML_MODEL_DIR": self.model_dir,
            "AZUREML_SOURCE_DIRECTORY": SOURCE_ROOT,
            "AZUREML_ENTRY_SCRIPT": self.entry_script_in_image,
        }
        env.update({k: str(v) for k, v in self.env_vars.items()})
        return env

    def dockerfile(self) -> str:
        """Return the Dockerfile text (see :mod:`.dockerfile` for the order and why)."""
        drop = [name for name in ("pip", "setuptools") if name not in self._requirement_names()]
        return render_dockerfile(
            base_image=self.base_image,
            env_hash=self.env_hash,
            image_env=self.image_env(),
            python=self.python,
            models=",".join(f"{m.name}:{m.version}" for m in self.models) or "(none)",
            drop_after_install=drop,
        )

    def _requirement_names(self) -> set[str]:
        """Normalised names of the packages the wheelhouse installs."""
        requirements = self.wheelhouse_dir / "requirements.txt"
        if requirements.is_file():
            text = requirements.read_text(encoding="utf-8", errors="replace")
        else:
            text = _requirements_from_wheels(p for p in self.wheelhouse_dir.glob("*.whl"))
        names = set()
        for line in text.splitlines():
            match = re.match(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)", line)
            if match and not line.lstrip().startswith(("#", "-")):
                names.add(re.sub(r"[-_.]+", "-", match[1]).lower())
        return names

    # --- writing ------------------------------------------------------------------------

    def write(self, dest: str | os.PathLike[str], *, exist_ok: bool = False) -> ContextInfo:
        """Write the context into ``dest`` (created; must be empty or absent unless ``exist_ok``).

        Raises
        ------
        TargetExistsError
            ``dest`` holds files and ``exist_ok`` is false.
        ModelPathError
            A model path or the entry script is missing.
        """
        dest = Path(dest)
        if dest.exists() and any(dest.iterdir()):
            if not exist_ok:
                raise TargetExistsError(
                    f"build context folder {dest} is not empty; pick a new folder or pass exist_ok=True"
                )
            shutil.rmtree(dest)
        dest.mkdir(parents=True, exist_ok=True)
        entry_rel = self.entry_script_in_image
        self._write_wheels(dest / "wheels")
        runtime = dest / "runtime"
        runtime.mkdir()
        shutil.copy2(self.runtime_wheel, runtime / self.runtime_wheel.name)
        shutil.copyfile(Path(__file__).with_name(RUNTIME_INSTALLER), runtime / RUNTIME_INSTALLER)
        self._write_models(dest / "azureml-models")
        copied = self._write_source(dest / "src", entry_rel)
        # modes are kept: the Dockerfile's COPY --chown gives models and code to the non-root user
        dockerfile = dest / "Dockerfile"
        dockerfile.write_text(self.dockerfile(), encoding="utf-8")
        (dest / ".dockerignore").write_text("# everything in this folder is part of the image\n", encoding="utf-8")
        return ContextInfo(
            path=dest,
            dockerfile=dockerfile,
            env_hash=self.env_hash,
            base_image=self.base_image,
            model_dir=self.model_dir,
            entry_script=entry_rel,
            models=tuple((m.name, m.version) for m in self.models),
            env=self.image_env(),
            left_out=tuple(copied.left_out),
        )

    def _write_wheels(self, wheels: Path) -> None:
        wheels.mkdir()
        # jupyter-mldeploy itself is the runtime layer's job: keeping it out of the environment
        # layer means a new jupyter-mldeploy never reinstalls the environment's packages
        found = sorted(
            p for p in self.wheelhouse_dir.iterdir()
            if p.suffix == ".whl" and p.is_file() and not _is_runtime_wheel(p.name)
        )
        for wheel in found:
            shutil.copy2(wheel, wheels / wheel.name)
        requirements = self.wheelhouse_dir / "requirements.txt"
        if requirements.is_file():
            lines = requirements.read_text(encoding="utf-8").splitlines(keepends=True)
            kept = [line for line in lines if not _RUNTIME_REQ_RE.match(line)]
            (wheels / "requirements.txt").write_text("".join(kept), encoding="utf-8")
        else:
            (wheels / "requirements.txt").write_text(_requirements_from_wheels(found), encoding="utf-8")
        (wheels / "ENV_HASH").write_text(self.env_hash + "\n", encoding="utf-8")

    def _write_models(self, root: Path) -> None:
        root.mkdir()
        seen: set[tuple[str, str]] = set()
        for model in self.models:
            key = (model.name, model.version)
            if key in seen:
                raise InvalidArgumentError(
                    f"model {model.name}:{model.version} is listed twice; list each version once"
                )
            seen.add(key)
            target = root / model.name / model.version
            if model.path.is_file():
                target.mkdir(parents=True)
                shutil.copy2(model.path, target / model.path.name)
            elif model.path.is_dir():
                copy_folder(model.path, target, ignore=shutil.ignore_patterns("__pycache__", ".git"))
            else:
                raise ModelPathError(
                    f"model {model.name}:{model.version} path {model.path} does not exist; "
                    "download the model first (Model.download) or fix the path"
                )
        if not self.models:  # keeps the folder when the context is archived (COPY needs it)
            (root / ".keep").write_text("", encoding="utf-8")

    def _write_source(self, src: Path, entry_rel: str) -> SourceCopy:
        if self.source_dir is None:
            script = Path(self.entry_script)
            if not script.is_file():
                raise ModelPathError(f"entry script {script} does not exist; pass the path of your score.py")
            src.mkdir()
            shutil.copy2(script, src / script.name)
            return SourceCopy(files=1)
        copied = copy_source(self.source_dir, src)
        if not (src / entry_rel).is_file():
            raise ModelPathError(
                f"entry script {entry_rel!r} is not a file in source directory {self.source_dir}; "
                "pass its path relative to that folder"
            )
        return copied


def write_build_context(
    dest: str | os.PathLike[str],
    *,
    base_image: str,
    wheelhouse_dir: str | os.PathLike[str],
    runtime_wheel: str | os.PathLike[str],
    entry_script: str,
    env_hash: str,
    models: ModelsArg | None = None,
    source_dir: str | os.PathLike[str] | None = None,
    env_vars: Mapping[str, str] | None = None,
    python: str = "python3",
    exist_ok: bool = False,
) -> ContextInfo:
    """Write a self-contained, offline-buildable Docker build context into ``dest``.

    Parameters are those of :class:`BuildContext`; ``models`` is ``{name: {version: path}}``
    or a list of ``(name, version, path)``.

    Returns
    -------
    ContextInfo
        The folder, the Dockerfile, and the values the image will carry.

    Examples
    --------
    >>> info = write_build_context(                                   # doctest: +SKIP
    ...     "ctx", base_image="mldeploy/python-base:bookworm", wheelhouse_dir="wheelhouse",
    ...     runtime_wheel="jupyter_mldeploy-0.1.0-py3-none-any.whl",
    ...     models=[("ridge", 1, "model.pkl")], source_dir="app", entry_script="score.py",
    ...     env_hash="abc123")
    >>> sorted(p.name for p in info.path.iterdir())                   # doctest: +SKIP
    ['.dockerignore', 'Dockerfile', 'azureml-models', 'runtime', 'src', 'wheels']
    """
    context = BuildContext(
        base_image=base_image,
        wheelhouse_dir=Path(wheelhouse_dir),
        runtime_wheel=Path(runtime_wheel),
        entry_script=str(entry_script),
        env_hash=env_hash,
        models=normalize_models(models),
        source_dir=Path(source_dir) if source_dir is not None else None,
        env_vars=dict(env_vars or {}),
        python=python,
    )
    return context.write(dest, exist_ok=exist_ok)


def normalize_models(models: ModelsArg | None) -> tuple[ModelSource, ...]:
    """Turn ``{name: {version: path}}`` or ``[(name, version, path)]`` into :class:`ModelSource` records.

    Examples
    --------
    >>> [m.version for m in normalize_models({"ridge": {2: "a.pkl", 1: "b.pkl"}})]
    ['1', '2']
    """
    if models is None:
        return ()
    items: list[tuple[str, object, object]] = []
    if isinstance(models, Mapping):
        for name, versions in models.items():
            if not isinstance(versions, Mapping):
                raise InvalidArgumentError(
                    f"models[{name!r}] must map versions to paths, e.g. {{{name!r}: {{1: 'model.pkl'}}}}"
                )
            items.extend((name, version, path) for version, path in versions.items())
    else:
        for item in models:
            if not isinstance(item, tuple) or len(item) != 3:
                raise InvalidArgumentError(
                    f"model entry {item!r} must be a (name, version, path) tuple"
                )
            items.append(item)
    out = []
    for name, version, path in items:
        validate_name(name, "model")
        text = str(version)
        if not re.fullmatch(r"[A-Za-z0-9._-]{1,64}", text) or set(text) <= {"."}:
            raise InvalidArgumentError(f"model {name} version {version!r} is not valid; use a number such as 1")
        if not isinstance(path, (str, os.PathLike)):
            raise InvalidArgumentError(f"model {name}:{version} path {path!r} must be a str or path")
        out.append(ModelSource(name=name, version=text, path=Path(path)))
    return tuple(sorted(out, key=lambda m: (m.name, _version_key(m.version))))


def model_dir_for(models: Iterable[tuple[str, str]]) -> str:
    """Return ``AZUREML_MODEL_DIR`` for these models, following Azure ML.

    One model: its version folder ``.../azureml-models/NAME/VERSION``; several (or none):
    the models root ``.../azureml-models``.

    Examples
    --------
    >>> model_dir_for([("ridge", "1")])
    '/var/azureml-app/azureml-models/ridge/1'
    >>> model_dir_for([("a", "1"), ("b", "2")])
    '/var/azureml-app/azureml-models'
    """
    listed = list(models)
    if len(listed) == 1:
        name, version = listed[0]
        return f"{MODELS_ROOT}/{name}/{version}"
    return MODELS_ROOT


_RUNTIME_REQ_RE = re.compile(r"^\s*jupyter[-_.]mldeploy\s*(==|@|\s|$)", re.IGNORECASE)


def _is_runtime_wheel(filename: str) -> bool:
    return filename.lower().startswith("jupyter_mldeploy-")


def _requirements_from_wheels(wheels: Iterable[Path]) -> str:
    lines = []
    for wheel in wheels:
        match = _WHEEL_RE.match(wheel.name)
        if match:
            lines.append(f"{match['name'].replace('_', '-')}=={match['version']}")
    return "\n".join(lines) + "\n"


def _version_key(version: str) -> tuple[int, int | str]:
    return (0, int(version)) if version.isdigit() else (1, version)
