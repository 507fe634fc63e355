#!/usr/bin/env bash
# Make sure a headless Chromium is installed (for the JupyterLab browser tests and screenshots).
#
# - Uses $MLDEPLOY_CHROMIUM or a chromium already on PATH when there is one.
# - On a Debian machine as root, installs Debian's `chromium` package (Playwright's own
#   browser download is not reachable here; the tests drive Debian's binary instead).
# Idempotent. Prints the browser's path on stdout; exit 0 when a browser is there.
set -euo pipefail

log() { echo "[ensure-browser] $*" >&2; }

find_browser() {
  for candidate in "${MLDEPLOY_CHROMIUM:-}" chromium chromium-browser google-chrome; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1; then
      command -v "$candidate"
      return 0
    fi
  done
  return 1
}

if path=$(find_browser); then
  log "browser: $path"
  echo "$path"
  exit 0
fi

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  log "no Chromium found and this is not a Debian machine as root:"
  log "install Chromium (or Chrome) and set MLDEPLOY_CHROMIUM to its path."
  exit 1
fi

log "installing Debian's chromium ..."
export DEBIAN_FRONTEND=noninteractive
apt_get() { apt-get -o DPkg::Lock::Timeout=600 "$@"; }
if ! apt_get install -y -qq --no-install-recommends chromium >/dev/null 2>&1; then
  apt_get update -qq || { sleep 3; apt_get update -qq; }
  apt_get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
fi
path=$(find_browser) || { log "chromium was installed but is not on PATH"; exit 1; }
log "installed: $path ($("$path" --version 2>/dev/null || true))"
echo "$path"
