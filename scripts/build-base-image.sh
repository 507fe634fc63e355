#!/usr/bin/env bash
# Build an offline Python base image (Debian bookworm + python3) when none exists.
#
# Usage: scripts/build-base-image.sh [IMAGE[:TAG]]   (default: $MLDEPLOY_BASE_IMAGE
#        or mldeploy/python-base:bookworm)
#
# No container registry can be reached from these machines, so `docker pull`
# fails. This builds the image from Debian packages instead: debootstrap a
# minimal root filesystem with python3, venv and pip, then `docker import` it.
# Cached by tag: does nothing when `docker image inspect IMAGE` succeeds.
set -euo pipefail

IMAGE="${1:-${MLDEPLOY_BASE_IMAGE:-mldeploy/python-base:bookworm}}"
SUITE="${MLDEPLOY_BASE_SUITE:-bookworm}"
log() { echo "[build-base-image] $*" >&2; }

if docker image inspect "$IMAGE" >/dev/null 2>&1; then
  log "$IMAGE already present"
  exit 0
fi

if ! command -v debootstrap >/dev/null 2>&1; then
  [ "$(id -u)" = 0 ] || { log "debootstrap is missing: run as root or 'apt-get install debootstrap'"; exit 1; }
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq debootstrap >/dev/null 2>&1 || { apt-get update -qq; apt-get install -y -qq debootstrap >/dev/null; }
fi

# The Debian mirror is the one this machine's apt uses (read from its sources), unless
# MLDEPLOY_DEBIAN_MIRROR names another.
MIRROR="${MLDEPLOY_DEBIAN_MIRROR:-}"
if [ -z "$MIRROR" ]; then
  MIRROR=$( (cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '/^URIs:/{print $2; exit}') || true)
  [ -n "$MIRROR" ] || MIRROR=$(awk '/^deb /{for (i = 2; i <= NF; i++) if ($i !~ /^\[/ && $i !~ /\]$/) {print $i; exit}}' \
    /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | head -n 1 || true)
  if [ -z "$MIRROR" ]; then
    log "no Debian mirror in apt's sources (/etc/apt/sources.list, /etc/apt/sources.list.d/):"
    log "set MLDEPLOY_DEBIAN_MIRROR to the URL of a Debian mirror and run again"
    exit 1
  fi
fi

ROOTFS=$(mktemp -d /tmp/mldeploy-rootfs.XXXXXX)
trap 'rm -rf "$ROOTFS"' EXIT
log "debootstrap $SUITE from $MIRROR into $ROOTFS (about a minute) ..."
debootstrap --variant=minbase \
  --include=python3,python3-venv,python3-pip,ca-certificates \
  "$SUITE" "$ROOTFS" "$MIRROR" >/tmp/mldeploy-debootstrap.log 2>&1 || {
    log "debootstrap failed; last lines of /tmp/mldeploy-debootstrap.log:"; tail -n 30 /tmp/mldeploy-debootstrap.log >&2; exit 1; }
# Keep the image lean: drop apt lists and caches.
rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/*.bin "$ROOTFS"/var/cache/apt/archives/*.deb
ln -sf python3 "$ROOTFS/usr/bin/python"

log "importing as $IMAGE ..."
tar -C "$ROOTFS" -c . | docker import \
  --change 'ENV LANG=C.UTF-8' \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["python3"]' \
  - "$IMAGE" >/dev/null
log "built $IMAGE ($(docker image inspect "$IMAGE" --format '{{.Size}}') bytes)"
