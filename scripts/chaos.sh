#!/usr/bin/env bash
# The full chaos suite (test/chaos): faults during replays, compared with the batch oracle.
#   CHAOS_RUNS=3 CHAOS_SEED=123 CHAOS_PROFILE=medium npm run test:chaos
# It restarts the stack's Redis, Kafka and ClickHouse: run it against a stack of its own (see test/chaos/README.md),
# never against one that other people's tests use at the same time.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash infra/local/stack.sh up
exec npx vitest run --config test/chaos/vitest.chaos.config.ts "$@"
