/**
 * A small hand-made data set and the answers to every analyst query, worked out by hand (see the comments), shared by
 * the chdb test (current ClickHouse) and the integration test (Debian ClickHouse 18.16). The data contains stale
 * versions inserted AFTER the newer ones and whole batches inserted twice: the answers must not change.
 *
 * Two histories: the daily snapshots of January (tier_snapshots, c1..c6; also the input of the 0003 backfill test) and
 * the change history of March (tier_history and metric_history, h1..h4), which the day-based queries read.
 */
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import type { TierChange, TierTransition } from '@tierstream/contracts';
import { expect } from 'vitest';
import {
  MIGRATIONS_DIR,
  migrate,
  QUERIES_DIR,
  routeHistoryRecord,
  runNamedQuery,
  WarehouseWriter,
} from '../../src/index';

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
  // recency_days moves every day: the 0003 backfill does not count it as a change of metrics.
  state('SNAPSHOT', 'c3', 1, D1, t('SILVER', 'NEW'), { revenue_365d: 60, recency_days: 5 }),
  state('SNAPSHOT', 'c4', 2, D1, t('BRONZE', 'NEW'), { revenue_365d: 40 }),
  state('SNAPSHOT', 'c6', 1, D1, t(null, 'PROSPECT'), { revenue_365d: 0 }),
];
export const snapshotsD2: TierChange[] = [
  state('SNAPSHOT', 'c1', 5, D2, t('GOLD', 'AT_RISK'), { revenue_365d: 300 }),
  state('SNAPSHOT', 'c2', 7, D2, t('PLATINUM', 'ACTIVE'), { revenue_365d: 1200 }),
  state('SNAPSHOT', 'c3', 2, D2, t('SILVER', 'ACTIVE'), { revenue_365d: 60, recency_days: 6 }),
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

// ---- tier_history and metric_history (March 2024) -------------------------------------------------------------------
//
// Tiers (value_tier / lifecycle) per day, as the history says ('-' = no tier in the dimension, blank = not a customer):
//
//   day    h1               h2                h3            h4
//   03-01  BRONZE/NEW                                       SILVER/ACTIVE
//   03-02  BRONZE/NEW       -/PROSPECT                      SILVER/ACTIVE
//   03-03  GOLD/ACTIVE      -/PROSPECT                      SILVER/ACTIVE
//   03-04  GOLD/ACTIVE      PLATINUM/NEW                    -/CHURNED
//   03-05  GOLD/ACTIVE      GOLD/ACTIVE       BRONZE/NEW    -/CHURNED
//   03-06+ GOLD/AT_RISK     GOLD/ACTIVE       BRONZE/NEW    -/CHURNED
//
// h1 changes twice on 03-03 (v2 SILVER, then v3 GOLD: v3 is the day's close; v2 arrives after v3). h2's 03-05 row v5 is
// re-emitted stale as v4 (PLATINUM) after it. h4 loses its value tier on 03-04.
const hist = (customer_id: string, state_version: number, day: string, tiers: Tiers): TierChange => ({
  ...state('CHANGE', customer_id, state_version, day, tiers, { revenue_365d: state_version }),
  as_of: ms(`${day}T12:00:00Z`),
});

export const historyChanges: TierChange[] = [
  hist('h1', 1, '2024-03-01', t('BRONZE', 'NEW')),
  hist('h1', 3, '2024-03-03', t('GOLD', 'ACTIVE')),
  hist('h1', 4, '2024-03-06', t('GOLD', 'AT_RISK')),
  hist('h2', 1, '2024-03-02', t(null, 'PROSPECT')),
  hist('h2', 2, '2024-03-04', t('PLATINUM', 'NEW')),
  hist('h2', 5, '2024-03-05', t('GOLD', 'ACTIVE')),
  hist('h3', 1, '2024-03-05', t('BRONZE', 'NEW')),
  hist('h4', 1, '2024-03-01', t('SILVER', 'ACTIVE')),
  hist('h4', 2, '2024-03-04', t(null, 'CHURNED')),
];
/** Lower versions of existing (customer, day) rows, inserted after them: they must never show. */
export const historyStale: TierChange[] = [
  hist('h1', 2, '2024-03-03', t('SILVER', 'ACTIVE')),
  hist('h2', 4, '2024-03-05', t('PLATINUM', 'ACTIVE')),
];

// Metric paths (revenue_365d / revenue_lifetime), rows as (basis_day → valid_from: values):
//   h1: 03-01 → 03-01: 100/100, 03-04: 80/100 (a roll-off)       superseded from 03-03 by
//       03-03 → 03-03: 350/350 (as_of 13:00; a 300/300 of 09:00 arrives after it), 03-06: 200/350
//   h2: 03-02 → 03-02: 0/0
//       03-04 → 03-04: 1000/1000, 03-08: 900/1000                 superseded from 03-05 (so 03-08 never applies) by
//       03-05 → 03-05: 1500/1500, 03-07: 1400/1500
//   h3: 03-05 → 03-05: 50/50
//   h4: 03-01 → 03-01: 200/200;  03-04 → 03-04: 150/200
// Metrics on day D: the row with the greatest (basis_day, valid_from) among rows valid from D or before:
//   day    01   02   03   04    05    06    07    08
//   h1     100  100  350  350   350   200   200   200   (revenue_365d; lifetime 100 100 350 ...)
//   h2          0    0    1000  1500  1500  1400  1400  (lifetime 0 0 1000 1500 1500 1500 1500)
//   h3                           50    50    50    50
//   h4     200  200  200  150   150   150   150   150   (lifetime 200 throughout)
const point = (
  customer_id: string,
  basis_day: string,
  day: string,
  revenue_365d: number,
  revenue_lifetime: number,
  asOfTime = '12:00:00',
): TierChange => ({
  customer_id,
  kind: 'METRICS',
  state_version: 0,
  snapshot_day: day,
  basis_day,
  tiers: {},
  metrics: { revenue_365d, revenue_lifetime },
  rules_version: 'rules-1',
  cutpoints_version: 'cp-1',
  as_of: ms(`${basis_day}T${asOfTime}Z`),
  emitted_at: ms(`${basis_day}T${asOfTime}Z`) + 1,
});

export const metricPoints: TierChange[] = [
  point('h1', '2024-03-01', '2024-03-01', 100, 100),
  point('h1', '2024-03-01', '2024-03-04', 80, 100),
  point('h1', '2024-03-03', '2024-03-03', 350, 350, '13:00:00'),
  point('h1', '2024-03-03', '2024-03-06', 200, 350, '13:00:00'),
  point('h2', '2024-03-02', '2024-03-02', 0, 0),
  point('h2', '2024-03-04', '2024-03-04', 1000, 1000),
  point('h2', '2024-03-04', '2024-03-08', 900, 1000),
  point('h2', '2024-03-05', '2024-03-05', 1500, 1500),
  point('h2', '2024-03-05', '2024-03-07', 1400, 1500),
  point('h3', '2024-03-05', '2024-03-05', 50, 50),
  point('h4', '2024-03-01', '2024-03-01', 200, 200),
  point('h4', '2024-03-04', '2024-03-04', 150, 200),
];
/** An earlier evaluation of the same basis day (lower as_of), inserted after the later one: replaced. */
export const metricPointsStale: TierChange[] = [point('h1', '2024-03-03', '2024-03-03', 300, 300, '09:00:00')];

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
    // The history topic's records, once through the writer service's routing (one routed insert, mixed kinds), once
    // through the per-table methods.
    if (round === 0) {
      await writer.insertRouted([...historyChanges, ...metricPoints].map(routeHistoryRecord));
      await writer.insertRouted([...historyStale, ...metricPointsStale].map(routeHistoryRecord));
    } else {
      await writer.insertHistory(historyChanges);
      await writer.insertMetricHistory(metricPoints);
      await writer.insertHistory(historyStale);
      await writer.insertMetricHistory(metricPointsStale);
    }
  }
}

/** Only the daily snapshots, twice, stale last: the data of a database from before migration 0003. */
export async function loadSnapshotsOnly(writer: WarehouseWriter): Promise<void> {
  for (let round = 0; round < 2; round++) {
    await writer.insertSnapshots([...snapshotsD0, ...snapshotsD1]);
    await writer.insertSnapshots(snapshotsD2);
    await writer.insertSnapshots(snapshotsStale);
  }
}

// ---- expected answers, by hand ------------------------------------------------------------------------------------
const FOREVER = '2105-12-31';
const row = (day: string, tier: string, customers: number) => ({ day: `2024-${day}`, tier, customers });

export const expected = {
  // value_tier, 02-28..03-07 (from the table above): nothing before 03-01 (02-28 and the leap day 02-29 have no row).
  distributionValueTier: [
    row('03-01', 'BRONZE', 1),
    row('03-01', 'SILVER', 1),
    row('03-02', 'BRONZE', 1),
    row('03-02', 'SILVER', 1),
    row('03-03', 'GOLD', 1), // h1's v3 (GOLD), not the stale v2 (SILVER) of the same day
    row('03-03', 'SILVER', 1),
    row('03-04', 'GOLD', 1), // h4 has no value tier from 03-04
    row('03-04', 'PLATINUM', 1),
    row('03-05', 'BRONZE', 1), // h3 starts; h2's v5 (GOLD), not the stale v4 (PLATINUM)
    row('03-05', 'GOLD', 2),
    row('03-06', 'BRONZE', 1),
    row('03-06', 'GOLD', 2),
    row('03-07', 'BRONZE', 1),
    row('03-07', 'GOLD', 2),
  ],
  // lifecycle, 03-04..03-06: every customer's interval starts before the range, or inside it.
  distributionLifecycle: [
    row('03-04', 'ACTIVE', 1),
    row('03-04', 'CHURNED', 1),
    row('03-04', 'NEW', 1),
    row('03-05', 'ACTIVE', 2),
    row('03-05', 'CHURNED', 1),
    row('03-05', 'NEW', 1),
    row('03-06', 'ACTIVE', 1),
    row('03-06', 'AT_RISK', 1),
    row('03-06', 'CHURNED', 1),
    row('03-06', 'NEW', 1),
  ],
  // value_tier 03-02 -> 03-06: h1 BRONZE->GOLD, h2 (no tier)->GOLD, h3 (not a customer)->BRONZE, h4 SILVER->(no tier).
  migrationMatrix: [
    { from_tier: '(none)', to_tier: 'BRONZE', customers: 1 },
    { from_tier: '(none)', to_tier: 'GOLD', customers: 1 },
    { from_tier: 'BRONZE', to_tier: 'GOLD', customers: 1 },
    { from_tier: 'SILVER', to_tier: '(none)', customers: 1 },
  ],
  // lifecycle 03-01 -> 03-03: h1 NEW->ACTIVE, h2 (not a customer)->PROSPECT, h4 ACTIVE->ACTIVE; h3 on neither day.
  migrationMatrixLifecycle: [
    { from_tier: '(none)', to_tier: 'PROSPECT', customers: 1 },
    { from_tier: 'ACTIVE', to_tier: 'ACTIVE', customers: 1 },
    { from_tier: 'NEW', to_tier: 'ACTIVE', customers: 1 },
  ],
  // 03-04: h1 GOLD 350 (basis 03-03 supersedes the 03-01 path's roll-off to 80), h2 PLATINUM 1000; h4 has no value
  // tier. 1350 over 2 customers.
  revenueShare0304: [
    { tier: 'PLATINUM', customers: 1, revenue: 1000, customer_share: 0.5, revenue_share: 0.7407 },
    { tier: 'GOLD', customers: 1, revenue: 350, customer_share: 0.5, revenue_share: 0.2593 },
  ],
  // 03-08: h1 GOLD 200, h2 GOLD 1400 (basis 03-05's 03-07 row; basis 03-04's 03-08 row is superseded), h3 BRONZE 50.
  revenueShare0308: [
    { tier: 'GOLD', customers: 2, revenue: 1600, customer_share: 0.6667, revenue_share: 0.9697 },
    { tier: 'BRONZE', customers: 1, revenue: 50, customer_share: 0.3333, revenue_share: 0.0303 },
  ],
  // 03-07, revenue_lifetime: h1 GOLD 350, h2 GOLD 1500, h3 BRONZE 50 = 1900.
  revenueShareLifetime0307: [
    { tier: 'GOLD', customers: 2, revenue: 1850, customer_share: 0.6667, revenue_share: 0.9737 },
    { tier: 'BRONZE', customers: 1, revenue: 50, customer_share: 0.3333, revenue_share: 0.0263 },
  ],
  // h1 on 03-04: tiers of 03-03 (v3), metrics of basis 03-03 (the 13:00 evaluation, not the stale 09:00 one).
  customerH1On0304: [
    { kind: 'tier', name: 'lifecycle', value: 'ACTIVE', valid_from: '2024-03-03', basis_day: '2024-03-03' },
    { kind: 'tier', name: 'value_tier', value: 'GOLD', valid_from: '2024-03-03', basis_day: '2024-03-03' },
    { kind: 'metric', name: 'revenue_365d', value: '350', valid_from: '2024-03-03', basis_day: '2024-03-03' },
    { kind: 'metric', name: 'revenue_lifetime', value: '350', valid_from: '2024-03-03', basis_day: '2024-03-03' },
  ],
  // h2 on 03-08: tiers of 03-05 (v5), metrics of basis 03-05 valid from 03-07.
  customerH2On0308: [
    { kind: 'tier', name: 'lifecycle', value: 'ACTIVE', valid_from: '2024-03-05', basis_day: '2024-03-05' },
    { kind: 'tier', name: 'value_tier', value: 'GOLD', valid_from: '2024-03-05', basis_day: '2024-03-05' },
    { kind: 'metric', name: 'revenue_365d', value: '1400', valid_from: '2024-03-07', basis_day: '2024-03-05' },
    { kind: 'metric', name: 'revenue_lifetime', value: '1500', valid_from: '2024-03-07', basis_day: '2024-03-05' },
  ],
  // Consecutive rows with the same tier are one interval (h1 GOLD from 03-03 on, across its 03-06 lifecycle change);
  // days without a tier in the dimension (h2 before 03-04, h4 from 03-04) are not listed.
  tierIntervals: [
    ['h1', 'lifecycle', 'NEW', '2024-03-01', '2024-03-02'],
    ['h1', 'lifecycle', 'ACTIVE', '2024-03-03', '2024-03-05'],
    ['h1', 'lifecycle', 'AT_RISK', '2024-03-06', FOREVER],
    ['h1', 'value_tier', 'BRONZE', '2024-03-01', '2024-03-02'],
    ['h1', 'value_tier', 'GOLD', '2024-03-03', FOREVER],
    ['h2', 'lifecycle', 'PROSPECT', '2024-03-02', '2024-03-03'],
    ['h2', 'lifecycle', 'NEW', '2024-03-04', '2024-03-04'],
    ['h2', 'lifecycle', 'ACTIVE', '2024-03-05', FOREVER],
    ['h2', 'value_tier', 'PLATINUM', '2024-03-04', '2024-03-04'],
    ['h2', 'value_tier', 'GOLD', '2024-03-05', FOREVER],
    ['h3', 'lifecycle', 'NEW', '2024-03-05', FOREVER],
    ['h3', 'value_tier', 'BRONZE', '2024-03-05', FOREVER],
    ['h4', 'lifecycle', 'ACTIVE', '2024-03-01', '2024-03-03'],
    ['h4', 'lifecycle', 'CHURNED', '2024-03-04', FOREVER],
    ['h4', 'value_tier', 'SILVER', '2024-03-01', '2024-03-03'],
  ].map(([customer_id, dimension, tier, valid_from, valid_to]) => ({
    customer_id,
    dimension,
    tier,
    valid_from,
    valid_to,
  })),
  // The rows in effect and their days (customer, basis_day, valid_from, valid_to, revenue_365d): h1's 03-04 roll-off
  // and h2's 03-08 one are superseded before they start, so they are not listed.
  metricIntervals: [
    ['h1', '2024-03-01', '2024-03-01', '2024-03-02', 100],
    ['h1', '2024-03-03', '2024-03-03', '2024-03-05', 350],
    ['h1', '2024-03-03', '2024-03-06', FOREVER, 200],
    ['h2', '2024-03-02', '2024-03-02', '2024-03-03', 0],
    ['h2', '2024-03-04', '2024-03-04', '2024-03-04', 1000],
    ['h2', '2024-03-05', '2024-03-05', '2024-03-06', 1500],
    ['h2', '2024-03-05', '2024-03-07', FOREVER, 1400],
    ['h3', '2024-03-05', '2024-03-05', FOREVER, 50],
    ['h4', '2024-03-01', '2024-03-01', '2024-03-03', 200],
    ['h4', '2024-03-04', '2024-03-04', FOREVER, 150],
  ].map(([customer_id, basis_day, valid_from, valid_to, revenue_365d]) => ({
    customer_id,
    basis_day,
    valid_from,
    valid_to,
    revenue_365d,
  })),
  // PLATINUM/GOLD and AT_RISK now: c8 (2000) and c1 (300). c7 was AT_RISK only in a stale version; c1's stale version is ACTIVE.
  highValueAtRisk: [
    {
      customer_id: 'c8',
      value_tier: 'PLATINUM',
      lifecycle: 'AT_RISK',
      rfm_segment: 'LOYAL_AT_RISK',
      revenue_365d: 2000,
      recency_days: 120,
      metrics_day: '2024-02-01', // no metric history: the numbers of tier_current, dated
    },
    {
      customer_id: 'c1',
      value_tier: 'GOLD',
      lifecycle: 'AT_RISK',
      rfm_segment: 'LOYAL_AT_RISK',
      revenue_365d: 300,
      recency_days: 95,
      metrics_day: '2024-02-01', // no metric history: the numbers of tier_current, dated
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

/**
 * A copy of the migrations directory (or of some of its files), so a test can change a file without touching the
 * repository, or migrate a database as it was before a migration.
 */
export async function copyMigrations(files?: readonly string[]): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tierstream-migrations-'));
  for (const f of files ?? (await readdir(MIGRATIONS_DIR))) {
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
  expect(await q(client, db, 'tier_distribution_daily', { from: '2024-02-28', to: '2024-03-07' })).toEqual(
    expected.distributionValueTier,
  );
  expect(
    await q(client, db, 'tier_distribution_daily', { dimension: 'lifecycle', from: '2024-03-04', to: '2024-03-06' }),
  ).toEqual(expected.distributionLifecycle);
  expect(await q(client, db, 'tier_distribution_daily', { from: '2024-03-05', to: '2024-03-04' })).toEqual([]);
  expect(await q(client, db, 'tier_distribution_daily', { from: '2024-03-06', to: '2024-03-06' })).toEqual(
    expected.distributionValueTier.filter((r) => r.day === '2024-03-06'),
  );
  expect(await q(client, db, 'migration_matrix', { from: '2024-03-02', to: '2024-03-06' })).toEqual(
    expected.migrationMatrix,
  );
  expect(
    await q(client, db, 'migration_matrix', { dimension: 'lifecycle', from: '2024-03-01', to: '2024-03-03' }),
  ).toEqual(expected.migrationMatrixLifecycle);
  // Each cell's customers: as many as the matrix counts, the ones worked out above.
  const cell = (from_tier: string, to_tier: string, extra: Record<string, string> = {}) =>
    q(client, db, 'migration_customers', { from: '2024-03-02', to: '2024-03-06', from_tier, to_tier, ...extra });
  for (const c of expected.migrationMatrix) expect(await cell(c.from_tier, c.to_tier)).toHaveLength(c.customers);
  expect(await cell('BRONZE', 'GOLD')).toEqual([{ customer_id: 'h1', from_tier: 'BRONZE', to_tier: 'GOLD' }]);
  expect(await cell('(none)', 'GOLD')).toEqual([{ customer_id: 'h2', from_tier: '(none)', to_tier: 'GOLD' }]);
  expect(await cell('SILVER', '(none)')).toEqual([{ customer_id: 'h4', from_tier: 'SILVER', to_tier: '(none)' }]);
  expect(await cell('GOLD', 'GOLD')).toEqual([]);
  // h1 on 03-03 is GOLD (v3), not the stale SILVER (v2) of the same day.
  expect(await cell('BRONZE', 'SILVER', { to: '2024-03-03' })).toEqual([]);
  expect(
    (await cell('NEW', 'ACTIVE', { dimension: 'lifecycle', from: '2024-03-01', to: '2024-03-03' })).map(
      (r) => r.customer_id,
    ),
  ).toEqual(['h1']);
  expect((await cell('(none)', 'GOLD', { to: '2024-03-05', from: '2024-02-29' })).map((r) => r.customer_id)).toEqual([
    'h1',
    'h2',
  ]);
  expect(
    (await cell('(none)', 'GOLD', { to: '2024-03-05', from: '2024-02-29', limit: '1' })).map((r) => r.customer_id),
  ).toEqual(['h1']);
  expect(await q(client, db, 'revenue_share', { day: '2024-03-04' })).toEqual(expected.revenueShare0304);
  expect(await q(client, db, 'revenue_share', { day: '2024-03-08' })).toEqual(expected.revenueShare0308);
  expect(await q(client, db, 'revenue_share', { day: '2024-03-07', metric: 'revenue_lifetime' })).toEqual(
    expected.revenueShareLifetime0307,
  );
  expect(await q(client, db, 'revenue_share', { day: '2024-02-29' })).toEqual([]);
  expect(await q(client, db, 'customer_on_day', { customer_id: 'h1', day: '2024-03-04' })).toEqual(
    expected.customerH1On0304,
  );
  expect(await q(client, db, 'customer_on_day', { customer_id: 'h2', day: '2024-03-08' })).toEqual(
    expected.customerH2On0308,
  );
  expect(await q(client, db, 'customer_on_day', { customer_id: 'h3', day: '2024-03-04' })).toEqual([]);

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
  // History views (0003).
  expect(
    await rows(
      `SELECT customer_id, dimension, tier, valid_from, valid_to FROM ${db}.tier_intervals ORDER BY customer_id, dimension, valid_from`,
    ),
  ).toEqual(expected.tierIntervals);
  // "Tiers on day D" through the view equals the query's answer for every day of the history.
  for (let d = 1; d <= 7; d++) {
    const day = `2024-03-0${d}`;
    expect(
      await rows(
        `SELECT toString(toDate('${day}')) AS day, tier, toUInt32(count()) AS customers FROM ${db}.tier_intervals WHERE dimension = 'value_tier' AND valid_from <= '${day}' AND valid_to >= '${day}' GROUP BY tier ORDER BY tier`,
      ),
    ).toEqual(expected.distributionValueTier.filter((r) => r.day === day));
  }
  expect(
    await rows(
      `SELECT customer_id, basis_day, valid_from, valid_to, metric_values[indexOf(metric_names, 'revenue_365d')] AS revenue_365d FROM ${db}.metric_intervals ORDER BY customer_id, valid_from`,
    ),
  ).toEqual(expected.metricIntervals);
  expect(await rows(`SELECT toUInt32(count()) AS n FROM ${db}.tier_history_dedup`)).toEqual([
    { n: historyChanges.length },
  ]);
  expect(await rows(`SELECT toUInt32(count()) AS n FROM ${db}.metric_history_dedup`)).toEqual([
    { n: metricPoints.length },
  ]);
}

/**
 * Migration 0003 on a database that has only daily snapshots (loadSnapshotsOnly): the backfilled history, and the
 * day-based queries on it. On a day whose previous day is fully covered by snapshots (D1) they give exactly the
 * answers of the old snapshot queries; c4 has a D1 snapshot and none on D2, which only a snapshot table can say (the
 * pipeline snapshots every customer every day): in the history c4 keeps its tiers and metrics on D2.
 */
/**
 * A database as an older tierstream left it (migrations 0001–0002, daily snapshots only), then migrated to the
 * current migrations: 0003 must be the one applied. Returns its name; the caller drops it.
 */
export async function migratedOldDatabase(client: ClickHouseClient, prefix: string): Promise<string> {
  const old = uniqueDatabase(prefix);
  const dir = await copyMigrations(['0001_tier_tables.sql', '0002_views.sql']);
  expect((await migrate(client, { database: old, dir })).applied).toHaveLength(2);
  await loadSnapshotsOnly(new WarehouseWriter(client, { database: old, maxBatchRows: 3 }));
  expect((await migrate(client, { database: old, dir: MIGRATIONS_DIR })).applied).toEqual([
    '0003_history.sql',
    '0004_explain.sql',
    '0005_erasure_audit.sql',
    '0006_identity.sql',
  ]);
  return old;
}

export async function assertBackfill(client: ClickHouseClient, db: string): Promise<void> {
  const rows = async (sql: string) =>
    (await client.query({ query: sql, format: 'JSONEachRow' })).json<Record<string, unknown>>();
  // A row on the first snapshot day and where the tiers differ from the previous snapshot (c6 and c2's stale v6 not).
  expect(
    await rows(
      `SELECT customer_id, valid_from, toUInt32(state_version) AS v, tiers FROM ${db}.tier_history FINAL ORDER BY customer_id, valid_from`,
    ),
  ).toEqual([
    { customer_id: 'c1', valid_from: D0, v: 2, tiers: ['NEW', 'PLATINUM'] },
    { customer_id: 'c1', valid_from: D1, v: 3, tiers: ['ACTIVE', 'PLATINUM'] },
    { customer_id: 'c1', valid_from: D2, v: 5, tiers: ['AT_RISK', 'GOLD'] },
    { customer_id: 'c2', valid_from: D1, v: 4, tiers: ['ACTIVE', 'GOLD'] },
    { customer_id: 'c2', valid_from: D2, v: 7, tiers: ['ACTIVE', 'PLATINUM'] },
    { customer_id: 'c3', valid_from: D1, v: 1, tiers: ['NEW', 'SILVER'] },
    { customer_id: 'c3', valid_from: D2, v: 2, tiers: ['ACTIVE', 'SILVER'] },
    { customer_id: 'c4', valid_from: D1, v: 2, tiers: ['NEW', 'BRONZE'] },
    { customer_id: 'c5', valid_from: D2, v: 1, tiers: ['NEW', 'BRONZE'] },
    { customer_id: 'c6', valid_from: D1, v: 1, tiers: ['PROSPECT'] },
  ]);
  // basis_day = valid_from = the snapshot day, where the metrics changed: c3's D2 row differs only in recency_days.
  expect(
    await rows(
      `SELECT customer_id, basis_day, valid_from, metric_names, metric_values FROM ${db}.metric_history FINAL ORDER BY customer_id, valid_from`,
    ),
  ).toEqual(
    [
      ['c1', D0, 700],
      ['c1', D1, 800],
      ['c1', D2, 300],
      ['c2', D1, 100],
      ['c2', D2, 1200],
      ['c3', D1, 60, 5],
      ['c4', D1, 40],
      ['c5', D2, 40],
      ['c6', D1, 0],
    ].map(([customer_id, day, revenue, recency]) => ({
      customer_id,
      basis_day: day,
      valid_from: day,
      metric_names: recency === undefined ? ['revenue_365d'] : ['recency_days', 'revenue_365d'],
      metric_values: recency === undefined ? [revenue] : [recency, revenue],
    })),
  );
  const d1Distribution = [
    { day: D1, tier: 'BRONZE', customers: 1 },
    { day: D1, tier: 'GOLD', customers: 1 },
    { day: D1, tier: 'PLATINUM', customers: 1 },
    { day: D1, tier: 'SILVER', customers: 1 },
  ];
  expect(await q(client, db, 'tier_distribution_daily', { from: D1, to: D2 })).toEqual([
    ...d1Distribution, // the old query's answer for D1
    { day: D2, tier: 'BRONZE', customers: 2 }, // c4 (from D1) and c5
    { day: D2, tier: 'GOLD', customers: 1 },
    { day: D2, tier: 'PLATINUM', customers: 1 },
    { day: D2, tier: 'SILVER', customers: 1 },
  ]);
  // c1's D0 state holds on the days between its snapshots.
  expect(await q(client, db, 'tier_distribution_daily', { from: D0, to: '2024-01-16' })).toEqual([
    { day: D0, tier: 'PLATINUM', customers: 1 },
    { day: '2024-01-16', tier: 'PLATINUM', customers: 1 },
  ]);
  // D1: exactly the old snapshot query's answer (800 + 100 + 60 + 40).
  expect(await q(client, db, 'revenue_share', { day: D1 })).toEqual([
    { tier: 'PLATINUM', customers: 1, revenue: 800, customer_share: 0.25, revenue_share: 0.8 },
    { tier: 'GOLD', customers: 1, revenue: 100, customer_share: 0.25, revenue_share: 0.1 },
    { tier: 'SILVER', customers: 1, revenue: 60, customer_share: 0.25, revenue_share: 0.06 },
    { tier: 'BRONZE', customers: 1, revenue: 40, customer_share: 0.25, revenue_share: 0.04 },
  ]);
  // D2: 1200 + 300 + 60 + 40 (c5) + 40 (c4, still BRONZE with its D1 metrics) = 1640 over 5 customers.
  expect(await q(client, db, 'revenue_share', { day: D2 })).toEqual([
    { tier: 'PLATINUM', customers: 1, revenue: 1200, customer_share: 0.2, revenue_share: 0.7317 },
    { tier: 'GOLD', customers: 1, revenue: 300, customer_share: 0.2, revenue_share: 0.1829 },
    { tier: 'BRONZE', customers: 2, revenue: 80, customer_share: 0.4, revenue_share: 0.0488 },
    { tier: 'SILVER', customers: 1, revenue: 60, customer_share: 0.2, revenue_share: 0.0366 },
  ]);
  expect(await q(client, db, 'migration_matrix', { from: D1, to: D2 })).toEqual([
    { from_tier: '(none)', to_tier: 'BRONZE', customers: 1 },
    { from_tier: 'BRONZE', to_tier: 'BRONZE', customers: 1 },
    { from_tier: 'GOLD', to_tier: 'PLATINUM', customers: 1 },
    { from_tier: 'PLATINUM', to_tier: 'GOLD', customers: 1 },
    { from_tier: 'SILVER', to_tier: 'SILVER', customers: 1 },
  ]);
  expect(
    await rows(
      `SELECT customer_id, tier, valid_from, valid_to FROM ${db}.tier_intervals WHERE dimension = 'lifecycle' AND customer_id = 'c1' ORDER BY valid_from`,
    ),
  ).toEqual([
    { customer_id: 'c1', tier: 'NEW', valid_from: D0, valid_to: '2024-01-30' },
    { customer_id: 'c1', tier: 'ACTIVE', valid_from: D1, valid_to: D1 },
    { customer_id: 'c1', tier: 'AT_RISK', valid_from: D2, valid_to: FOREVER },
  ]);
}
