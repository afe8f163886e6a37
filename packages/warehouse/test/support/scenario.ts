/**
 * A small hand-made data set and the answers to every analyst query, worked out by hand (see the comments), shared by
 * the chdb test (current ClickHouse) and the integration test (Debian ClickHouse 18.16). The data contains stale
 * versions inserted AFTER the newer ones and whole batches inserted twice: the answers must not change.
 */
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import type { TierChange, TierTransition } from '@tierstream/contracts';
import { expect } from 'vitest';
import { MIGRATIONS_DIR, QUERIES_DIR, runNamedQuery, type WarehouseWriter } from '../../src/index';

const ms = (iso: string) => Date.parse(iso);

type Tiers = Record<string, string>;
type Metrics = Record<string, number>;

function state(
  kind: 'CHANGE' | 'SNAPSHOT',
  customer_id: string,
  state_version: number,
  snapshot_day: string | null,
  tiers: Tiers,
  metrics: Metrics,
): TierChange {
  return {
    customer_id,
    kind,
    state_version,
    snapshot_day,
    tiers,
    metrics,
    rules_version: 'rules-1',
    cutpoints_version: 'cp-1',
    as_of: ms('2024-02-01T12:00:00Z'),
    emitted_at: ms('2024-02-01T12:00:01Z') + state_version,
  };
}

const t = (value_tier: string | null, lifecycle: string, rfm_segment?: string): Tiers => ({
  ...(value_tier ? { value_tier } : {}),
  lifecycle,
  ...(rfm_segment ? { rfm_segment } : {}),
});

// ---- tier_current ------------------------------------------------------------------------------------------------
export const currentLatest: TierChange[] = [
  state('CHANGE', 'c1', 5, null, t('GOLD', 'AT_RISK', 'LOYAL_AT_RISK'), {
    revenue_365d: 300,
    recency_days: 95,
    first_order_at: ms('2023-03-15T10:00:00Z'),
  }),
  state('CHANGE', 'c2', 7, null, t('PLATINUM', 'ACTIVE', 'CHAMPION'), {
    revenue_365d: 1200,
    recency_days: 3,
    first_order_at: ms('2023-03-01T00:00:00Z'),
  }),
  // 23:59:59 UTC on Nov 30: November in UTC (December in any zone east of UTC): the cohort month must not depend on the server's zone.
  state('SNAPSHOT', 'c3', 2, '2024-02-01', t('SILVER', 'ACTIVE', 'POTENTIAL'), {
    revenue_365d: 60,
    recency_days: 10,
    first_order_at: ms('2023-11-30T23:59:59Z'),
  }),
  state('CHANGE', 'c5', 1, null, t('BRONZE', 'NEW'), {
    revenue_365d: 40,
    recency_days: 1,
    first_order_at: ms('2024-02-01T00:00:00Z'),
  }),
  state('CHANGE', 'c6', 1, null, t(null, 'PROSPECT'), { revenue_365d: 0 }),
  state('CHANGE', 'c7', 4, null, t('PLATINUM', 'ACTIVE', 'CHAMPION'), {
    revenue_365d: 5000,
    recency_days: 2,
    first_order_at: ms('2023-03-20T00:00:00Z'),
  }),
  state('CHANGE', 'c8', 3, null, t('PLATINUM', 'AT_RISK', 'LOYAL_AT_RISK'), {
    revenue_365d: 2000,
    recency_days: 120,
    first_order_at: ms('2022-12-01T00:00:00Z'),
  }),
];

/** Older states, inserted after the latest ones: the highest state_version must still win. */
export const currentStale: TierChange[] = [
  state('CHANGE', 'c1', 3, null, t('PLATINUM', 'ACTIVE', 'CHAMPION'), { revenue_365d: 800, recency_days: 5 }),
  // c7 was AT_RISK before: a filter applied before deduplication would wrongly list it as at risk.
  state('CHANGE', 'c7', 2, null, t('PLATINUM', 'AT_RISK', 'LOYAL_AT_RISK'), { revenue_365d: 4000, recency_days: 100 }),
];

// ---- tier_snapshots ----------------------------------------------------------------------------------------------
const D0 = '2024-01-15';
const D1 = '2024-01-31';
const D2 = '2024-02-01'; // another month: another partition

export const snapshotsD0: TierChange[] = [state('SNAPSHOT', 'c1', 2, D0, t('PLATINUM', 'NEW'), { revenue_365d: 700 })];
export const snapshotsD1: TierChange[] = [
  state('SNAPSHOT', 'c1', 3, D1, t('PLATINUM', 'ACTIVE'), { revenue_365d: 800 }),
  state('SNAPSHOT', 'c2', 4, D1, t('GOLD', 'ACTIVE'), { revenue_365d: 100 }),
  state('SNAPSHOT', 'c3', 1, D1, t('SILVER', 'NEW'), { revenue_365d: 60 }),
  state('SNAPSHOT', 'c4', 2, D1, t('BRONZE', 'NEW'), { revenue_365d: 40 }),
  state('SNAPSHOT', 'c6', 1, D1, t(null, 'PROSPECT'), { revenue_365d: 0 }),
];
export const snapshotsD2: TierChange[] = [
  state('SNAPSHOT', 'c1', 5, D2, t('GOLD', 'AT_RISK'), { revenue_365d: 300 }),
  state('SNAPSHOT', 'c2', 7, D2, t('PLATINUM', 'ACTIVE'), { revenue_365d: 1200 }),
  state('SNAPSHOT', 'c3', 2, D2, t('SILVER', 'ACTIVE'), { revenue_365d: 60 }),
  state('SNAPSHOT', 'c5', 1, D2, t('BRONZE', 'NEW'), { revenue_365d: 40 }),
  state('SNAPSHOT', 'c6', 1, D2, t(null, 'PROSPECT'), { revenue_365d: 0 }),
];
/** A stale re-emitted snapshot of c2 for D2 (lower version), inserted after the real one. */
export const snapshotsStale: TierChange[] = [
  state('SNAPSHOT', 'c2', 6, D2, t('GOLD', 'ACTIVE'), { revenue_365d: 999 }),
];

// ---- tier_transitions --------------------------------------------------------------------------------------------
function tr(
  transition_id: string,
  customer_id: string,
  dimension: string,
  from_tier: string | null,
  to_tier: string,
  direction: TierTransition['direction'],
  reason: string,
  occurredIso: string,
  evaluatedOffsetMs = 5,
): TierTransition {
  return {
    transition_id,
    customer_id,
    dimension,
    from_tier,
    to_tier,
    direction,
    reason,
    rule_id: reason,
    rules_version: 'rules-1',
    cutpoints_version: 'cp-1',
    metrics: { revenue_365d: 1 },
    occurred_at: ms(occurredIso),
    evaluated_at: ms(occurredIso) + evaluatedOffsetMs,
  };
}

export const transitions: TierTransition[] = [
  tr('t1', 'c1', 'value_tier', 'PLATINUM', 'GOLD', 'DOWN', 'value_share', '2024-02-01T05:00:00Z'),
  tr('t2', 'c1', 'lifecycle', 'ACTIVE', 'AT_RISK', 'DOWN', 'TIME_ELAPSED', '2024-02-01T00:00:00Z'),
  tr('t3', 'c2', 'value_tier', 'GOLD', 'PLATINUM', 'UP', 'value_share', '2024-02-01T23:59:59.999Z'),
  tr('t4', 'c5', 'value_tier', null, 'BRONZE', 'ENTER', 'value_share', '2024-02-01T10:00:00Z'),
  tr('t5', 'c5', 'lifecycle', null, 'NEW', 'ENTER', 'first_order', '2024-02-01T10:00:00Z'),
  tr('t6', 'c3', 'lifecycle', 'NEW', 'ACTIVE', 'UP', 'repeat_orders', '2024-01-31T12:00:00Z'),
  tr('t7', 'c7', 'lifecycle', 'AT_RISK', 'ACTIVE', 'UP', 'REACTIVATED', '2024-01-31T08:00:00Z'),
  tr('t8', 'c4', 'lifecycle', 'NEW', 'AT_RISK', 'DOWN', 'TIME_ELAPSED', '2024-02-02T00:00:00Z'),
];
/** The same transition evaluated again later (redelivery): same id, must count once. */
export const transitionRedelivered: TierTransition[] = [
  tr('t1', 'c1', 'value_tier', 'PLATINUM', 'GOLD', 'DOWN', 'value_share', '2024-02-01T05:00:00Z', 60_000),
];

/** Loads everything, with duplicates, in an order that puts stale rows last. */
export async function loadScenario(writer: WarehouseWriter): Promise<void> {
  for (let round = 0; round < 2; round++) {
    await writer.insertChanges(currentLatest);
    await writer.insertChanges(currentStale);
    await writer.insertSnapshots([...snapshotsD0, ...snapshotsD1]);
    await writer.insertSnapshots(snapshotsD2);
    await writer.insertSnapshots(snapshotsStale);
    await writer.insertTransitions(transitions);
    await writer.insertTransitions(transitionRedelivered);
  }
}

// ---- expected answers, by hand ------------------------------------------------------------------------------------
export const expected = {
  // value_tier, D1..D2 (D0 out of range). D1: c1 PLATINUM, c2 GOLD, c3 SILVER, c4 BRONZE (c6 has no value tier).
  // D2: c1 GOLD, c2 PLATINUM (v7 beats the stale GOLD v6), c3 SILVER, c5 BRONZE.
  distributionValueTier: [
    { day: D1, tier: 'BRONZE', customers: 1 },
    { day: D1, tier: 'GOLD', customers: 1 },
    { day: D1, tier: 'PLATINUM', customers: 1 },
    { day: D1, tier: 'SILVER', customers: 1 },
    { day: D2, tier: 'BRONZE', customers: 1 },
    { day: D2, tier: 'GOLD', customers: 1 },
    { day: D2, tier: 'PLATINUM', customers: 1 },
    { day: D2, tier: 'SILVER', customers: 1 },
  ],
  // lifecycle, D2 only: c2 & c3 ACTIVE, c1 AT_RISK, c5 NEW, c6 PROSPECT.
  distributionLifecycleD2: [
    { day: D2, tier: 'ACTIVE', customers: 2 },
    { day: D2, tier: 'AT_RISK', customers: 1 },
    { day: D2, tier: 'NEW', customers: 1 },
    { day: D2, tier: 'PROSPECT', customers: 1 },
  ],
  // D1 -> D2: c1 PLATINUM->GOLD, c2 GOLD->PLATINUM, c3 SILVER->SILVER, c4 BRONZE->(none), c5 (none)->BRONZE;
  // c6 has no value tier on either day: not listed.
  migrationMatrix: [
    { from_tier: '(none)', to_tier: 'BRONZE', customers: 1 },
    { from_tier: 'BRONZE', to_tier: '(none)', customers: 1 },
    { from_tier: 'GOLD', to_tier: 'PLATINUM', customers: 1 },
    { from_tier: 'PLATINUM', to_tier: 'GOLD', customers: 1 },
    { from_tier: 'SILVER', to_tier: 'SILVER', customers: 1 },
  ],
  // D1: revenue 800 + 100 + 60 + 40 = 1000 over 4 customers with a value tier.
  revenueShareD1: [
    { tier: 'PLATINUM', customers: 1, revenue: 800, customer_share: 0.25, revenue_share: 0.8 },
    { tier: 'GOLD', customers: 1, revenue: 100, customer_share: 0.25, revenue_share: 0.1 },
    { tier: 'SILVER', customers: 1, revenue: 60, customer_share: 0.25, revenue_share: 0.06 },
    { tier: 'BRONZE', customers: 1, revenue: 40, customer_share: 0.25, revenue_share: 0.04 },
  ],
  // D2: 300 + 1200 + 60 + 40 = 1600 (the stale 999 of c2 must not count).
  revenueShareD2: [
    { tier: 'PLATINUM', customers: 1, revenue: 1200, customer_share: 0.25, revenue_share: 0.75 },
    { tier: 'GOLD', customers: 1, revenue: 300, customer_share: 0.25, revenue_share: 0.1875 },
    { tier: 'SILVER', customers: 1, revenue: 60, customer_share: 0.25, revenue_share: 0.0375 },
    { tier: 'BRONZE', customers: 1, revenue: 40, customer_share: 0.25, revenue_share: 0.025 },
  ],
  // PLATINUM/GOLD and AT_RISK now: c8 (2000) and c1 (300). c7 was AT_RISK only in a stale version; c1's stale version is ACTIVE.
  highValueAtRisk: [
    {
      customer_id: 'c8',
      value_tier: 'PLATINUM',
      lifecycle: 'AT_RISK',
      rfm_segment: 'LOYAL_AT_RISK',
      revenue_365d: 2000,
      recency_days: 120,
    },
    {
      customer_id: 'c1',
      value_tier: 'GOLD',
      lifecycle: 'AT_RISK',
      rfm_segment: 'LOYAL_AT_RISK',
      revenue_365d: 300,
      recency_days: 95,
    },
  ],
  // 2024-01-31..2024-02-01, all dimensions (t8 is on 02-02: out). t1 counted once despite the redelivery.
  transitionsByReason: [
    {
      day: D1,
      dimension: 'lifecycle',
      reason: 'REACTIVATED',
      transitions: 1,
      up: 1,
      down: 0,
      enter: 0,
      lateral: 0,
      customers: 1,
    },
    {
      day: D1,
      dimension: 'lifecycle',
      reason: 'repeat_orders',
      transitions: 1,
      up: 1,
      down: 0,
      enter: 0,
      lateral: 0,
      customers: 1,
    },
    {
      day: D2,
      dimension: 'lifecycle',
      reason: 'TIME_ELAPSED',
      transitions: 1,
      up: 0,
      down: 1,
      enter: 0,
      lateral: 0,
      customers: 1,
    },
    {
      day: D2,
      dimension: 'lifecycle',
      reason: 'first_order',
      transitions: 1,
      up: 0,
      down: 0,
      enter: 1,
      lateral: 0,
      customers: 1,
    },
    {
      day: D2,
      dimension: 'value_tier',
      reason: 'value_share',
      transitions: 3,
      up: 1,
      down: 1,
      enter: 1,
      lateral: 0,
      customers: 3,
    },
  ],
  // Current value tier by first-order month (UTC): c8 2022-12; c1 GOLD, c2 & c7 PLATINUM 2023-03; c3 2023-11; c5 2024-02.
  cohortValueTier: [
    { first_order_month: '2022-12', tier: 'PLATINUM', customers: 1 },
    { first_order_month: '2023-03', tier: 'GOLD', customers: 1 },
    { first_order_month: '2023-03', tier: 'PLATINUM', customers: 2 },
    { first_order_month: '2023-11', tier: 'SILVER', customers: 1 },
    { first_order_month: '2024-02', tier: 'BRONZE', customers: 1 },
  ],
  // lifecycle: c6 has no order.
  cohortLifecycle: [
    { first_order_month: '(no order)', tier: 'PROSPECT', customers: 1 },
    { first_order_month: '2022-12', tier: 'AT_RISK', customers: 1 },
    { first_order_month: '2023-03', tier: 'ACTIVE', customers: 2 },
    { first_order_month: '2023-03', tier: 'AT_RISK', customers: 1 },
    { first_order_month: '2023-11', tier: 'ACTIVE', customers: 1 },
    { first_order_month: '2024-02', tier: 'NEW', customers: 1 },
  ],
};

export function uniqueDatabase(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${Math.floor(Math.random() * 1e6).toString(36)}`;
}

/** A copy of the migrations directory, so a test can change a file without touching the repository. */
export async function copyMigrations(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tierstream-migrations-'));
  for (const f of await readdir(MIGRATIONS_DIR)) {
    await writeFile(join(dir, f), await readFile(join(MIGRATIONS_DIR, f), 'utf8'));
  }
  return dir;
}

export async function q(client: ClickHouseClient, database: string, name: string, params: Record<string, string> = {}) {
  const r = await runNamedQuery(client, { dir: QUERIES_DIR, name, params, database });
  return r.rows;
}

/** Every query of the pack against the loaded scenario. */
export async function assertAllQueries(client: ClickHouseClient, db: string): Promise<void> {
  expect(await q(client, db, 'tier_distribution_daily', { from: D1, to: D2 })).toEqual(expected.distributionValueTier);
  expect(await q(client, db, 'tier_distribution_daily', { dimension: 'lifecycle', from: D2, to: D2 })).toEqual(
    expected.distributionLifecycleD2,
  );
  expect(await q(client, db, 'migration_matrix', { from: D1, to: D2 })).toEqual(expected.migrationMatrix);
  expect(await q(client, db, 'revenue_share', { day: D1 })).toEqual(expected.revenueShareD1);
  expect(await q(client, db, 'revenue_share', { day: D2 })).toEqual(expected.revenueShareD2);

  const atRisk = await q(client, db, 'high_value_at_risk');
  expect(atRisk.map(({ as_of, ...rest }) => rest)).toEqual(expected.highValueAtRisk);
  expect(atRisk.map((r) => Number(r.as_of))).toEqual([ms('2024-02-01T12:00:00Z'), ms('2024-02-01T12:00:00Z')]);
  expect((await q(client, db, 'high_value_at_risk', { value_tiers: 'PLATINUM' })).map((r) => r.customer_id)).toEqual([
    'c8',
  ]);
  expect((await q(client, db, 'high_value_at_risk', { limit: '1' })).map((r) => r.customer_id)).toEqual(['c8']);
  expect((await q(client, db, 'high_value_at_risk', { lifecycle: 'ACTIVE' })).map((r) => r.customer_id)).toEqual([
    'c7',
    'c2',
  ]);

  expect(await q(client, db, 'transitions_by_reason', { from: D1, to: D2 })).toEqual(expected.transitionsByReason);
  expect(await q(client, db, 'transitions_by_reason', { from: D1, to: D2, dimension: 'value_tier' })).toEqual(
    expected.transitionsByReason.filter((r) => r.dimension === 'value_tier'),
  );
  expect(await q(client, db, 'cohort_by_first_order_month')).toEqual(expected.cohortValueTier);
  expect(await q(client, db, 'cohort_by_first_order_month', { dimension: 'lifecycle' })).toEqual(
    expected.cohortLifecycle,
  );
}

/** The views give the same deduplicated answers. */
export async function assertViews(client: ClickHouseClient, db: string): Promise<void> {
  const rows = async (sql: string) =>
    (await client.query({ query: sql, format: 'JSONEachRow' })).json<Record<string, unknown>>();
  expect(
    await rows(
      `SELECT tier, toUInt32(customers) AS customers FROM ${db}.tier_distribution_daily WHERE snapshot_day = '2024-02-01' AND dimension = 'value_tier' ORDER BY tier`,
    ),
  ).toEqual([
    { tier: 'BRONZE', customers: 1 },
    { tier: 'GOLD', customers: 1 },
    { tier: 'PLATINUM', customers: 1 },
    { tier: 'SILVER', customers: 1 },
  ]);
  expect(
    await rows(
      `SELECT customer_id, tier FROM ${db}.tier_current_long WHERE dimension = 'lifecycle' AND tier = 'AT_RISK' ORDER BY customer_id`,
    ),
  ).toEqual([
    { customer_id: 'c1', tier: 'AT_RISK' },
    { customer_id: 'c8', tier: 'AT_RISK' },
  ]);
  expect(
    await rows(`SELECT toUInt32(count()) AS n FROM ${db}.tier_snapshots_long WHERE snapshot_day = '2024-02-01'`),
  ).toEqual([{ n: 5 * 2 - 1 }]); // 5 customers × (value_tier, lifecycle), c6 has no value_tier
  expect(await rows(`SELECT toUInt32(count()) AS n FROM ${db}.tier_transitions_dedup`)).toEqual([
    { n: transitions.length },
  ]);
}
