#!/usr/bin/env bash
# Installs what a fresh machine lacks for tierstream (npm packages; the stack installs its own Debian packages and
# Maven artifacts) and brings the local stack up. Shared by `npm test`, `npm run demo` and CI. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\033[1m[tierstream]\033[0m %s\n' "$*"; }

if ! command -v node >/dev/null 2>&1; then
  echo "node is required (>= 20.10); install Node.js first" >&2
  exit 1
fi

# npm packages: reinstall only when the lock file changed since the last install.
stamp=node_modules/.tierstream-lock.sha
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  log "installing npm packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
fi

if [ "${TIERSTREAM_STACK:-local}" = "local" ]; then
  log "starting the local stack (Kafka, schema registry, Redis, ClickHouse)"
  bash infra/local/stack.sh up
fi
