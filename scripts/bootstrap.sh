#!/usr/bin/env bash
# Create .venv (if missing) and install jupyter-mldeploy with its test extras into it.
# Usage: scripts/bootstrap.sh [EXTRAS]   (default EXTRAS: test)
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS="${1:-test}"
PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "[bootstrap] creating .venv with $($PY --version)" >&2
  "$PY" -m venv .venv
fi
if [ ! -x .venv/bin/uv ]; then
  .venv/bin/python -m pip install -q --disable-pip-version-check uv
fi
echo "[bootstrap] installing jupyter-mldeploy[$EXTRAS] (editable) with uv" >&2
.venv/bin/uv pip install -q --python .venv/bin/python -e ".[$EXTRAS]"
