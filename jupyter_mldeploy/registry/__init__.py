"""The local model registry: ``Registry`` (explicit root) and ``Model`` (Azure ML v1 API).

Metadata lives in SQLite (``$MLDEPLOY_HOME/registry.db``) and bytes in a
content-addressed store (``$MLDEPLOY_HOME/objects/sha256``), so registering the
same content again stores no new bytes.

Examples
--------
>>> from jupyter_mldeploy.registry import Registry, default_registry   # doctest: +SKIP
>>> default_registry().list(latest=True)                               # doctest: +SKIP
[]
"""

from __future__ import annotations

from ._reading import BlobProblem
from ._registry import GcReport, Registry, default_registry
from .model import Model
from .records import ModelFile, ModelVersion

__all__ = [
    "BlobProblem",
    "GcReport",
    "Model",
    "ModelFile",
    "ModelVersion",
    "Registry",
    "default_registry",
]
