#!/usr/bin/env bash
# Prepare the peers for bench/serve_vs_peers.py (idempotent; safe to run again):
#   - wrk from Debian (the load generator),
#   - bench/.venvs/azmlinfsrv: azureml-inference-server-http + scikit-learn,
#   - bench/.venvs/mlflow:     mlflow + scikit-learn,
#   - bench/.venvs/mlserver:   MLServer + its scikit-learn runtime (bench/oip_batching_vs_peers.py),
#   - bench/.venvs/bentoml:    BentoML 1.4 (bench/oip_batching_vs_peers.py),
#   - the model files in bench/.venvs/model (joblib + MLflow model dir; forest/: the heavier pipeline).
# Ours and the bare Starlette app run from the project's .venv. Every venv gets the
# same scikit-learn / numpy / scipy / pandas versions as .venv so that predict() and
# the import of the model (sklearn imports pandas when it is installed) cost the same.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENVS="$ROOT/bench/.venvs"
PY="$ROOT/.venv/bin/python"
log() { echo "[setup_peers] $*" >&2; }

if [ ! -x "$PY" ]; then
  log "no project venv at $PY: create it first (scripts/bootstrap.sh test)"; exit 1
fi
if [ -x "$ROOT/.venv/bin/uv" ]; then UV=("$ROOT/.venv/bin/uv"); else UV=("$PY" -m uv); fi

if ! command -v wrk >/dev/null 2>&1; then
  log "installing wrk from Debian"
  apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
fi

# Pin the numeric stack to exactly what the project venv has.
pins=$("$PY" - <<'PYEOF'
from importlib.metadata import version
print(" ".join(f"{d}=={version(d)}" for d in ("scikit-learn", "numpy", "scipy", "joblib", "pandas", "threadpoolctl", "narwhals")))
PYEOF
)
log "numeric pins: $pins"
PYBIN=$("$PY" -c 'import sys; print(sys._base_executable)')

make_venv() {  # make_venv NAME MARKER_FILE PACKAGES...
  local name=$1 marker=$2; shift 2
  local dir="$VENVS/$name" want="$* $pins"
  if [ -f "$dir/.bench-ok" ] && [ "$(cat "$dir/.bench-ok")" = "$want" ] && [ -x "$dir/bin/$marker" ]; then
    log "$name: up to date"; return
  fi
  log "$name: creating venv and installing $* (+ pins)"
  [ -x "$dir/bin/python" ] || "${UV[@]}" venv --quiet --python "$PYBIN" "$dir"
  # shellcheck disable=SC2086
  "${UV[@]}" pip install --quiet --python "$dir/bin/python" "$@" $pins
  echo "$want" >"$dir/.bench-ok"
}

mkdir -p "$VENVS"
make_venv azmlinfsrv azmlinfsrv azureml-inference-server-http
make_venv mlflow mlflow mlflow
# MLServer 1.7 calls asyncio.get_event_loop() in its workers, which uvloop >= 0.22 refuses: pin it
make_venv mlserver mlserver "mlserver==1.7.1" "mlserver-sklearn==1.7.1" "uvloop==0.21.0"
make_venv bentoml bentoml "bentoml==1.4.40"

# The model: trained once in the mlflow venv (it has sklearn + mlflow), read by all.
if [ ! -f "$VENVS/model/joblib/model.joblib" ] || [ ! -f "$VENVS/model/mlflow/MLmodel" ]; then
  log "training Ridge on load_diabetes and saving it (joblib + MLflow model)"
  rm -rf "$VENVS/model"
  "$VENVS/mlflow/bin/python" "$ROOT/bench/peers/train_model.py" "$VENVS/model"
fi
# The heavier model (a StandardScaler + RandomForest pipeline), trained with the project's Python.
if [ ! -f "$VENVS/model/forest/model.joblib" ]; then
  log "training the StandardScaler + RandomForest pipeline on load_diabetes (--model forest)"
  "$PY" "$ROOT/bench/peers/train_forest.py" "$VENVS/model"
fi
log "ready: wrk $(wrk -v 2>&1 | head -1 | awk '{print $2}'), venvs in $VENVS"
