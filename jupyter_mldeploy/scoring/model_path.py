"""``Model.get_model_path`` for entry scripts: find a deployed model's files the way Azure ML does.

In an Azure ML deployment ``AZUREML_MODEL_DIR`` is the model's own folder
(``.../azureml-models/NAME/VERSION``) when one model is deployed, and the
folder holding ``NAME/VERSION/...`` for every model when several are.
Scripts also find models under ``$AML_APP_ROOT/azureml-models/NAME/VERSION``
(``AML_APP_ROOT`` defaults to the working folder) and, as a last resort, at
``./NAME``.

Examples
--------
>>> from jupyter_mldeploy.scoring.model_path import Model       # doctest: +SKIP
>>> Model.get_model_path("sklearn-ridge")                        # doctest: +SKIP
'/srv/models/sklearn-ridge/3/model.pkl'
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import InvalidArgumentError, ModelNotFoundError

__all__ = ["MODELS_DIR_NAME", "Model", "get_model_path"]

MODELS_DIR_NAME = "azureml-models"


def _versions(folder: Path) -> list[int]:
    try:
        return sorted(int(p.name) for p in folder.iterdir() if p.is_dir() and p.name.isdigit())
    except OSError:
        return []


def _resolve_version_folder(folder: Path) -> str:
    """Return the single entry of a version folder (as Azure does), else the folder itself."""
    entries = sorted(folder.iterdir())
    if len(entries) == 1:
        return str(entries[0])
    return str(folder)


def _inventory(root: Path, limit: int = 20) -> list[str]:
    """List ``NAME/VERSION`` folders (or plain entries) under ``root`` for error messages."""
    found: list[str] = []
    try:
        children = sorted(root.iterdir())
    except OSError:
        return found
    for child in children:
        versions = _versions(child) if child.is_dir() else []
        if versions:
            found.extend(f"{child.name}/{v}" for v in versions)
        else:
            found.append(child.name + ("/" if child.is_dir() else ""))
    return found[:limit]


def _candidate_roots(model_name: str) -> list[tuple[Path, str]]:
    """Folders that may hold ``VERSION/...`` of ``model_name``, each with how it was found."""
    roots: list[tuple[Path, str]] = []
    env_dir = os.environ.get("AZUREML_MODEL_DIR")
    if env_dir:
        model_dir = Path(env_dir)
        if (model_dir / model_name).is_dir():  # several models: AZUREML_MODEL_DIR/NAME/VERSION
            roots.append((model_dir / model_name, "AZUREML_MODEL_DIR/NAME"))
        elif model_dir.parent.name == model_name:  # one model: AZUREML_MODEL_DIR = .../NAME/VERSION
            roots.append((model_dir.parent, "AZUREML_MODEL_DIR"))
    app_root = Path(os.environ.get("AML_APP_ROOT") or os.getcwd())
    roots.append((app_root / MODELS_DIR_NAME / model_name, "AML_APP_ROOT/azureml-models/NAME"))
    return roots


def get_model_path(model_name: str, version: int | str | None = None) -> str:
    """Return the path of a deployed model's file (or folder), as Azure ML's ``Model.get_model_path``.

    Parameters
    ----------
    model_name
        The registered model's name.
    version
        The version to use; ``None`` takes the highest version present.

    Returns
    -------
    str
        The model's single file when its version folder holds exactly one entry
        (file or folder), otherwise the version folder.

    Raises
    ------
    ModelNotFoundError
        No folder for that name (and version); the message lists what is there.

    Examples
    --------
    >>> import os, tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (root / "ridge" / "2").mkdir(parents=True); _ = (root / "ridge" / "2" / "model.pkl").write_bytes(b"")
    >>> os.environ["AZUREML_MODEL_DIR"] = str(root)
    >>> get_model_path("ridge").endswith("ridge/2/model.pkl")
    True
    >>> del os.environ["AZUREML_MODEL_DIR"]
    """
    if not isinstance(model_name, str) or not model_name:
        raise InvalidArgumentError(f"model_name must be a non-empty string, got {model_name!r}.")
    if version is not None:
        if isinstance(version, bool) or not str(version).isdigit():
            raise InvalidArgumentError(f"version must be an integer such as 1, got {version!r}.")
        version = int(version)

    looked: list[str] = []
    for root, how in _candidate_roots(model_name):
        present = _versions(root)
        wanted = version if version is not None else (present[-1] if present else None)
        if wanted is None:
            looked.append(f"{root} ({how}: no version folders)")
            continue
        folder = root / str(wanted)
        if folder.is_dir():
            return _resolve_version_folder(folder)
        looked.append(f"{folder} ({how})")

    if version is None and os.path.exists(model_name):  # Azure's last resort: ./NAME
        return model_name

    env_dir = os.environ.get("AZUREML_MODEL_DIR")
    listing = ""
    if env_dir:
        inventory = _inventory(Path(env_dir))
        listing = f" AZUREML_MODEL_DIR={env_dir} holds: {', '.join(inventory) if inventory else 'nothing'}."
    else:
        listing = " AZUREML_MODEL_DIR is not set."
    what = f"{model_name!r} version {version}" if version is not None else f"{model_name!r}"
    raise ModelNotFoundError(
        f"Model {what} not found; looked in {'; '.join(looked) or 'no folder'}.{listing} "
        "Deploy the model with the service (or fix the name/version in the entry script)."
    )


class Model:
    """The part of ``azureml.core.model.Model`` entry scripts use inside a deployment.

    Examples
    --------
    >>> Model.get_model_path(model_name="ridge", version=2)   # doctest: +SKIP
    '/var/azureml-app/azureml-models/ridge/2/model.pkl'
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise InvalidArgumentError(
            "Model(workspace, name) needs an Azure ML workspace, which a local deployment does not have; "
            "inside an entry script use Model.get_model_path(name, version) to find the model's files, "
            "and in a notebook use jupyter_mldeploy.Model."
        )

    @staticmethod
    def get_model_path(model_name: str, version: int | str | None = None, _workspace: Any = None) -> str:
        """Return the path of a deployed model (see :func:`get_model_path`)."""
        return get_model_path(model_name, version)
