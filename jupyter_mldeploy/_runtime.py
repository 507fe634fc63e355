"""What the scoring server needs inside a deployment's environment.

Environment builds (virtualenvs and image layers) add these requirements to the
user's own packages, so that ``python -m jupyter_mldeploy.scoring`` runs there.
Keep this list in step with the server's imports.
"""

from __future__ import annotations

#: Distributions the scoring server imports at run time (besides jupyter-mldeploy itself).
SCORING_RUNTIME_REQUIREMENTS: tuple[str, ...] = (
    "starlette>=0.37",
    "uvicorn>=0.30",
    "uvloop>=0.19; sys_platform != 'win32'",
    "httptools>=0.6",
    "inference-schema>=1.7",
    "pyyaml>=6",
    "packaging>=23",
)
