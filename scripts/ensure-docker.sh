#!/usr/bin/env bash
# Make sure a Docker engine answers on this machine.
#
# - Reuses a daemon that already answers (never touches one it did not start).
# - On a Debian machine as root with no engine, installs Debian's docker.io and
#   starts dockerd in the background (there is no systemd here), then waits
#   until `docker info` answers.
# Idempotent: safe to run any number of times. Exit 0 when an engine answers.
set -euo pipefail

log() { echo "[ensure-docker] $*" >&2; }

engine_answers() { docker info --format '{{.ServerVersion}}' >/dev/null 2>&1; }

if engine_answers; then
  log "engine answers: $(docker info --format '{{.ServerVersion}}' 2>/dev/null)"
  exit 0
fi

if ! command -v dockerd >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    log "no Docker engine answers and this is not a Debian machine as root:"
    log "install Docker Engine yourself (https://docs.docker.com/engine/install/) and start it."
    exit 1
  fi
  log "installing Debian's docker.io (engine) ..."
  export DEBIAN_FRONTEND=noninteractive
  # apt-get update is needed once on a fresh machine; retry a flaky mirror once.
  apt-get update -qq || { sleep 3; apt-get update -qq; }
  apt-get install -y -qq --no-install-recommends docker.io iptables >/dev/null
  # Debian's docker.io ships its own client in /usr/bin; keep whatever client is
  # first on PATH, both speak the engine's API.
fi

if ! pgrep -x dockerd >/dev/null 2>&1; then
  log "starting dockerd in the background (log: /var/log/dockerd.log)"
  nohup dockerd >/var/log/dockerd.log 2>&1 &
fi

for _ in $(seq 1 60); do
  if engine_answers; then
    log "engine answers: $(docker info --format '{{.ServerVersion}}')"
    exit 0
  fi
  sleep 1
done
log "dockerd did not answer within 60 s; last lines of /var/log/dockerd.log:"
tail -n 20 /var/log/dockerd.log >&2 || true
exit 1
