#!/usr/bin/env bash
# Make sure Debian's docker-registry (an image registry that runs offline) is installed.
# The tests start their own registry on 127.0.0.1 with it (tests/k8s/conftest.py); nothing
# is started here. Idempotent; exit 0 when `docker-registry` is on PATH.
set -euo pipefail
log() { echo "[ensure-registry] $*" >&2; }
if command -v docker-registry >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  log "docker-registry is missing and this is not a Debian machine as root: install the 'docker-registry' package"
  exit 1
fi
log "installing Debian's docker-registry ..."
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq --no-install-recommends docker-registry >/dev/null 2>&1 \
  || { apt-get update -qq || { sleep 3; apt-get update -qq; }; apt-get install -y -qq --no-install-recommends docker-registry >/dev/null; }
# the package's service is not wanted (no systemd here; tests run their own on a free port)
command -v docker-registry >/dev/null 2>&1 && log "installed $(docker-registry --version 2>/dev/null | head -1)"
