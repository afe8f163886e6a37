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

# npm packages: install only when package.json or the lock file changed since the last install. `npm install`
# (not `npm ci`) because npm 11 leaves other platforms' optional packages out of the lock file, which `npm ci`
# then calls out of sync; the lock file still pins every version that is installed.
stamp=node_modules/.tierstream-lock.sha
want=$(cat package.json package-lock.json | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  log "installing npm packages"
  npm install --no-audit --no-fund --loglevel=error
  cat package.json package-lock.json | sha256sum | cut -d' ' -f1 > "$stamp"
fi

# Debian's chromium for the browser tests (test/browser): installed only when missing.
bash scripts/install-chromium.sh

if [ "${TIERSTREAM_STACK:-local}" = "local" ]; then
  log "starting the local stack (Kafka, schema registry, Redis, ClickHouse)"
  bash infra/local/stack.sh up
  # A 3-master Redis Cluster on loopback: test/e2e/cluster.e2e.test.ts runs the pipeline scenario on it.
  bash infra/local/stack.sh up redis-cluster
fi
