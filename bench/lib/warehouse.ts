/** Bench phase: the warehouse writer's insert rate into ClickHouse (synthetic change and snapshot rows). */

import type { TierChange } from '@tierstream/contracts';
import { createClickHouseFrom, MIGRATIONS_DIR, migrate, WarehouseWriter } from '@tierstream/warehouse';
import type { BenchContext } from './phases';

export interface WarehouseResult {
  database: string;
  changes: { rows: number; seconds: number; rowsPerSec: number };
  snapshot: { rows: number; seconds: number; rowsPerSec: number; wallSecondsWithRowBuilding: number };
}

const DIMS: Array<[string, string[]]> = [
  ['lifecycle', ['NEW', 'ACTIVE', 'LOYAL', 'AT_RISK', 'DORMANT', 'CHURNED', 'PROSPECT']],
  [
    'rfm_segment',
    [
      'CHAMPION',
      'LOYAL_AT_RISK',
      'POTENTIAL',
      'BIG_SPENDER_LOST',
      'GENERAL_VALUE',
      'GENERAL_DEVELOP',
      'GENERAL_KEEP',
      'GENERAL_RETAIN',
    ],
  ],
  ['service_flag', ['NONE', 'COMPLAINT_RISK']],
  ['value_potential', ['STAR', 'CASH_COW', 'QUESTION_MARK', 'DOG']],
  ['value_tier', ['PLATINUM', 'GOLD', 'SILVER', 'BRONZE']],
];

/** A synthetic full-state row shaped like the engine's (5 dimensions, the engine's 12 row metrics). */
function syntheticRow(i: number, kind: 'CHANGE' | 'SNAPSHOT', day: string, asOf: number): TierChange {
  const tiers: Record<string, string> = {};
  for (const [d, values] of DIMS) tiers[d] = values[(i * 7 + d.length) % values.length]!;
  const revenue = (i * 7919) % 500_000;
  return {
    customer_id: `c${String(i).padStart(8, '0')}`,
    kind,
    state_version: asOf + (i % 1000),
    snapshot_day: kind === 'SNAPSHOT' ? day : null,
    tiers,
    metrics: {
      aov_lifetime: revenue / 3,
      engagement_score: (i % 100) / 10,
      first_order_at: asOf - (i % 365) * 86_400_000,
      last_order_at: asOf - (i % 30) * 86_400_000,
      margin_365d: revenue * 0.2,
      orders_365d: i % 12,
      orders_lifetime: i % 40,
      recency_days: i % 30,
      revenue_365d: revenue,
      revenue_90d: revenue / 4,
      revenue_lifetime: revenue * 2,
      tenure_days: i % 365,
    },
    rules_version: '2026-11.1',
    cutpoints_version: 'cp-2026-06-28',
    as_of: asOf,
    emitted_at: asOf + 1,
  };
}

export async function phaseWarehouse(ctx: BenchContext, snapshotRows: number): Promise<WarehouseResult> {
  const database = 'tierstream_bench';
  const client = createClickHouseFrom(ctx.clients.config, { request_timeout: 300_000 });
  try {
    await client.command({ query: `DROP DATABASE IF EXISTS ${database}` });
    await migrate(client, { database, dir: MIGRATIONS_DIR });
    const writer = new WarehouseWriter(client, { database });
    const asOf = Date.parse('2026-06-30T23:59:59.999Z');
    const chunk = 50_000;
    // tier_current (CHANGE rows): 200k rows built first, then timed through the writer.
    const changeRows = Array.from({ length: 200_000 }, (_, i) => syntheticRow(i, 'CHANGE', '2026-06-30', asOf));
    let t = Date.now();
    await writer.insertChanges(changeRows);
    const changesSeconds = (Date.now() - t) / 1000;
    ctx.log(`  tier_current: ${changeRows.length} rows in ${changesSeconds.toFixed(1)} s`);
    // A full daily snapshot: rows are built 50k at a time (as the writer receives them from Kafka) so that 1M
    // rows never sit in memory at once; only the writer calls are timed, the wall time with row building too.
    let writeMs = 0;
    const wallStart = Date.now();
    for (let i = 0; i < snapshotRows; i += chunk) {
      const rows = Array.from({ length: Math.min(chunk, snapshotRows - i) }, (_, k) =>
        syntheticRow(i + k, 'SNAPSHOT', '2026-06-30', asOf),
      );
      t = Date.now();
      await writer.insertSnapshots(rows);
      writeMs += Date.now() - t;
    }
    const wall = (Date.now() - wallStart) / 1000;
    const written = await client.query({
      query: `SELECT count() AS n FROM ${database}.tier_snapshots`,
      format: 'JSONEachRow',
    });
    const n = Number(((await written.json()) as Array<{ n: string }>)[0]?.n ?? 0);
    if (n !== snapshotRows) throw new Error(`snapshot check: expected ${snapshotRows} rows in ClickHouse, found ${n}`);
    ctx.log(
      `  tier_snapshots: ${snapshotRows} rows in ${(writeMs / 1000).toFixed(1)} s (${wall.toFixed(1)} s with row building)`,
    );
    return {
      database,
      changes: { rows: changeRows.length, seconds: changesSeconds, rowsPerSec: changeRows.length / changesSeconds },
      snapshot: {
        rows: snapshotRows,
        seconds: writeMs / 1000,
        rowsPerSec: snapshotRows / (writeMs / 1000),
        wallSecondsWithRowBuilding: wall,
      },
    };
  } finally {
    await client.command({ query: `DROP DATABASE IF EXISTS ${database}` }).catch(() => undefined);
    await client.close();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// 6. Latency (live mode)
