#!/usr/bin/env bash
# Installs Debian's `chromium` package when it is missing: the browser tests (test/browser, vitest project `browser`)
# drive it headless through playwright-core (no browser download). Called by scripts/bootstrap.sh; idempotent.
# CHROMIUM_PATH names another Chromium binary (then nothing is installed).
set -euo pipefail

log() { printf '\033[1m[tierstream]\033[0m %s\n' "$*"; }

chromium=${CHROMIUM_PATH:-/usr/bin/chromium}
if [[ -x $chromium ]]; then
  exit 0
fi
if [[ -n ${CHROMIUM_PATH:-} ]]; then
  echo "CHROMIUM_PATH=$CHROMIUM_PATH is not an executable file" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "chromium is missing and this is no Debian/Ubuntu machine: install Chromium and set CHROMIUM_PATH" >&2
  exit 1
fi
sudo=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null 2>&1 || { echo "chromium is missing: run as root or install the chromium package" >&2; exit 1; }
  sudo=(sudo)
fi
log "installing chromium (Debian package) for the browser tests"
# `apt-get update` only when the package lists do not know the package yet.
if ! "${sudo[@]}" apt-get install -y -q --no-install-recommends chromium >/dev/null 2>&1; then
  log "apt-get update"
  "${sudo[@]}" apt-get update -q >/dev/null
  "${sudo[@]}" apt-get install -y -q --no-install-recommends chromium >/dev/null
fi
"$chromium" --version
