#!/usr/bin/env bash
# The main job: `npm run demo`. Brings up the stack, bootstraps contracts/topics/tables, runs the whole pipeline over a
# generated workload (or CDNOW: DEMO_SOURCE=cdnow) and prints a report from ClickHouse; then serves the console on that
# data until Ctrl-C (`npm run demo -- --no-console` ends after the report).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec npx tsx packages/cli/src/tierstream.ts demo "$@"
