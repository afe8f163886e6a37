#!/usr/bin/env bash
# The full test suite on the real stack: `npm test`. Works on a fresh clone of a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
# The secured stack (docs/security.md), next to the plain one on other ports: the e2e-secure project runs on it.
if [ "${TIERSTREAM_STACK:-local}" = "local" ]; then
  echo "[tierstream] starting the secured stack (STACK_SECURE=1: SASL_SSL, TLS, passwords)"
  STACK_SECURE=1 SECURE_REDIS_CLUSTER=1 bash infra/local/stack.sh up
fi
echo "[tierstream] type-check and lint"
npx tsc -p tsconfig.json --noEmit
npx biome ci --reporter=summary . >/dev/null || npx biome ci .
echo "[tierstream] tests: unit, integration, e2e (real Kafka, registry, Redis, ClickHouse)"
if [ "$#" -eq 0 ]; then
  # Two runs: vitest's groupOrder did not hold the browser and secured-stack projects back until the e2e files
  # finished (a browser file once ran beside them and its Redis cross-check failed; which e2e file disturbed it is not
  # established). They share the machine's
  # 2 cores and the stack's processes with e2e, so they run after it.
  npx vitest run --project unit --project integration --project e2e
  npx vitest run --project browser --project e2e-secure
else
  npx vitest run "$@"
fi
