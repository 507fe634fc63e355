"""``python -m jupyter_mldeploy.scoring``: run the scoring server (what containers run).

Options come from flags or the environment names Azure ML uses
(``AZUREML_ENTRY_SCRIPT``, ``AZUREML_MODEL_DIR``, ``WORKER_COUNT``, ...); see
:mod:`jupyter_mldeploy.scoring.options`.
"""

from __future__ import annotations

import sys

from ..errors import MLDeployError
from .options import parse_args
from .supervisor import serve

try:
    sys.exit(serve(parse_args()))
except MLDeployError as err:
    print(f"mldeploy serve: error: {err}", file=sys.stderr)
    sys.exit(1)
