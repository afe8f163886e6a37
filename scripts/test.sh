#!/usr/bin/env bash
# The full test suite on the real stack: `npm test`. Works on a fresh clone of a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
echo "[tierstream] type-check and lint"
npx tsc -p tsconfig.json --noEmit
npx biome ci --reporter=summary . >/dev/null || npx biome ci .
echo "[tierstream] tests: unit, integration, e2e (real Kafka, registry, Redis, ClickHouse)"
npx vitest run "$@"
