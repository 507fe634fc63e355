#!/usr/bin/env bash
# Create .venv (if missing) and install jupyter-mldeploy with its test extras into it.
# The install builds the JupyterLab sidebar (labextension/) with the machine's Node through
# jlpm, as the package build does; the script fails unless Jupyter then lists both the server
# extension and the labextension as enabled.
# Usage: scripts/bootstrap.sh [EXTRAS]   (default EXTRAS: test)
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS="${1:-test}"
PY="${PYTHON:-python3}"
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "[bootstrap] Node.js and npm are needed to build the JupyterLab sidebar: install them" \
       "(Debian: apt-get install -y nodejs npm) and run this again" >&2
  exit 1
fi
# jlpm (JupyterLab's yarn) fetches the sidebar's packages from the registry npm is configured with
if [ -z "${YARN_NPM_REGISTRY_SERVER:-}" ]; then
  YARN_NPM_REGISTRY_SERVER="$(npm config get registry)"
  export YARN_NPM_REGISTRY_SERVER="${YARN_NPM_REGISTRY_SERVER%/}"
fi
if [ ! -x .venv/bin/python ]; then
  echo "[bootstrap] creating .venv with $($PY --version)" >&2
  "$PY" -m venv .venv
fi
if [ ! -x .venv/bin/uv ]; then
  .venv/bin/python -m pip install -q --disable-pip-version-check uv
fi
echo "[bootstrap] installing jupyter-mldeploy[$EXTRAS] (editable, sidebar built with Node $(node --version)) with uv" >&2
.venv/bin/uv pip install -q --python .venv/bin/python -e ".[$EXTRAS]"

# the install must leave both halves of the JupyterLab integration enabled
plain() { sed 's/\x1b\[[0-9;]*m//g'; }
if ! .venv/bin/jupyter server extension list 2>&1 | plain | grep -Eq "jupyter_mldeploy +enabled"; then
  echo "[bootstrap] the jupyter_mldeploy server extension is not enabled after install:" >&2
  .venv/bin/jupyter server extension list 2>&1 | plain >&2
  exit 1
fi
if ! .venv/bin/jupyter labextension list 2>&1 | plain | grep -Eq "jupyter-mldeploy v[^ ]+ +enabled +OK"; then
  echo "[bootstrap] the jupyter-mldeploy labextension is not enabled after install:" >&2
  .venv/bin/jupyter labextension list 2>&1 | plain >&2
  exit 1
fi
