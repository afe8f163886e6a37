/**
 * Issue 21 item 6 (explainable warehouse), shared by explain.chdb.test.ts (current ClickHouse) and explain.it.test.ts
 * (the stack's 18.16): cut-point versions (initial, scheduled, a rules change superseding a scheduled version of the
 * same day, a re-emission), the aggregate configuration behind the rows, the day tier_current's metrics are as of,
 * high_value_at_risk from fresh metrics, the long metric view and the readable-time views. Answers worked out by hand.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import type { TierChange, TierCutPoints, TierTransition } from '@tierstream/contracts';
import { expect } from 'vitest';
import { routeChangeRecord, routeCutPointsRecord, type WarehouseWriter } from '../../src/index';
import { q } from './scenario';

const ms = (iso: string) => Date.parse(iso);
const DAY = 86_400_000;

const cuts = (valueTier: number[], recency: number[], anchor: string | null): TierCutPoints['cuts'] => [
  {
    key: 'value_tier',
    dimension: 'value_tier',
    metric: 'revenue_365d',
    better: 'higher',
    groups: ['PLATINUM', 'GOLD', 'SILVER', 'BRONZE'],
    values: valueTier,
    anchor_day: null,
  },
  {
    key: 'rfm_segment.r',
    dimension: 'rfm_segment',
    metric: 'recency_days',
    better: 'lower',
    groups: ['5', '4', '3', '2', '1'],
    values: recency,
    anchor_day: anchor,
  },
];

const version = (
  v: string,
  rules: string,
  measured: string | null,
  from: string | null,
  seq: number | null,
  c: TierCutPoints['cuts'],
  emittedAt: number,
): TierCutPoints => ({
  version: v,
  rules_version: rules,
  computed_at: measured === null ? 0 : ms(`${measured}T00:00:00Z`) + DAY - 1,
  measured_day: measured,
  population: measured === null ? null : 4,
  effective_from: from,
  rules_seq: seq,
  cuts: c,
  aggregate_config: 'ac-000000000001',
  reporting_currency: 'USD',
  fx_rates: { USD: 1, EUR: 1.08, JPY: 0.67 },
  aggregate_config_json: '{"fxRates":{"EUR":1.08,"JPY":0.67,"USD":1},"reportingCurrency":"USD"}',
  emitted_at: emittedAt,
});

//   version             rules  measured  in force from  seq   value_tier cuts         recency cuts (anchor)
//   initial             r1     -         1970-01-01     -     100000/30000/10000   14/30/60/120 (fixed)
//   cp-2024-03-02       r1     03-02     03-03          -     5000/2000/500        3/10/20/40 (03-02)
//   cp-2024-03-04       r1     03-04     03-05          -     6000/2500/600        2/9/19/39 (03-04)
//   cp-2024-03-04+r1    r2     03-04     03-04          1     7000/3000/700        2/9/19/39 (03-04)
// On 03-02: initial; 03-03: cp-2024-03-02 (recency cuts +1 on the day); 03-04 and 03-05: the rules change (it
// supersedes the scheduled version measured the same day). cp-2024-03-02 is emitted twice (the second copy wins).
export const cutPointVersions: TierCutPoints[] = [
  version('initial', 'r1', null, null, null, cuts([100000, 30000, 10000], [14, 30, 60, 120], null), 1),
  version('cp-2024-03-02', 'r1', '2024-03-02', '2024-03-03', null, cuts([1, 1, 1], [1, 1, 1, 1], '2024-03-02'), 2),
  version(
    'cp-2024-03-02',
    'r1',
    '2024-03-02',
    '2024-03-03',
    null,
    cuts([5000, 2000, 500], [3, 10, 20, 40], '2024-03-02'),
    3,
  ),
  version('cp-2024-03-04', 'r1', '2024-03-04', null, null, cuts([6000, 2500, 600], [2, 9, 19, 39], '2024-03-04'), 4),
  version(
    'cp-2024-03-04+r1',
    'r2',
    '2024-03-04',
    '2024-03-04',
    1,
    cuts([7000, 3000, 700], [2, 9, 19, 39], '2024-03-04'),
    5,
  ),
];

// f1: GOLD / AT_RISK since 03-01 (its last tier change: revenue_365d 999, recency 91 as of 03-01). Its metric path says
// revenue_365d falls to 400 on 03-05 (a roll-off) and its last order was on 2023-12-01; a later evaluation (basis
// 03-06) confirms 400. On 03-06 the fresh numbers are 400 and 96 days (03-06 - 2023-12-01), not 999 and 91.
// f2: PLATINUM / AT_RISK, no metric history: its tier_current numbers, dated 03-01.
const lastOrder = ms('2023-12-01T10:00:00Z');
const current = (customer_id: string, tiers: Record<string, string>, metrics: Record<string, number>): TierChange => ({
  customer_id,
  kind: 'CHANGE',
  state_version: 3,
  snapshot_day: '2024-03-01',
  tiers,
  metrics,
  rules_version: 'r1',
  cutpoints_version: 'initial',
  as_of: ms('2024-03-01T23:59:59.999Z'),
  emitted_at: ms('2024-03-02T00:00:01Z'),
  aggregate_config: 'ac-000000000001',
});
export const currentRows: TierChange[] = [
  current('f1', { value_tier: 'GOLD', lifecycle: 'AT_RISK' }, { revenue_365d: 999, recency_days: 91 }),
  current('f2', { value_tier: 'PLATINUM', lifecycle: 'AT_RISK' }, { revenue_365d: 500, recency_days: 100 }),
];
const metricPoint = (basis: string, day: string, revenue: number, asOf: string): TierChange => ({
  customer_id: 'f1',
  kind: 'METRICS',
  state_version: 3,
  snapshot_day: day,
  basis_day: basis,
  tiers: {},
  metrics: { revenue_365d: revenue, revenue_prev_90d: 50, last_order_at: lastOrder },
  rules_version: 'r1',
  cutpoints_version: 'initial',
  as_of: ms(asOf),
  emitted_at: ms(asOf) + 1,
  aggregate_config: 'ac-000000000001',
});
export const metricRows: TierChange[] = [
  metricPoint('2024-03-01', '2024-03-01', 999, '2024-03-01T23:59:59.999Z'),
  metricPoint('2024-03-01', '2024-03-05', 400, '2024-03-01T23:59:59.999Z'),
  metricPoint('2024-03-06', '2024-03-06', 400, '2024-03-06T23:59:59.999Z'),
];
export const transition: TierTransition = {
  transition_id: 'x1',
  customer_id: 'f1',
  dimension: 'lifecycle',
  from_tier: 'ACTIVE',
  to_tier: 'AT_RISK',
  direction: 'DOWN',
  reason: 'at_risk_quiet_91_180',
  rule_id: 'at_risk_quiet_91_180',
  rules_version: 'r1',
  cutpoints_version: 'initial',
  metrics: { recency_days: 91 },
  occurred_at: ms('2024-03-01T23:59:59.999Z'),
  evaluated_at: ms('2024-03-02T00:00:00.250Z'),
  aggregate_config: 'ac-000000000001',
};

export async function loadExplainScenario(writer: WarehouseWriter): Promise<void> {
  // The cut points through the writer service's routing, the second copy of cp-2024-03-02 after the first.
  await writer.insertRouted(cutPointVersions.flatMap(routeCutPointsRecord));
  await writer.insertRouted(currentRows.map(routeChangeRecord));
  await writer.insertMetricHistory(metricRows);
  await writer.insertTransitions([transition]);
}

const rows = async (client: ClickHouseClient, sql: string) =>
  (await client.query({ query: sql, format: 'JSONEachRow' })).json<Record<string, unknown>>();

export async function assertExplainScenario(client: ClickHouseClient, db: string): Promise<void> {
  const inForce = async (day: string, dimension = '') =>
    (await q(client, db, 'cutpoints_on_day', { day, dimension })).map((r) => ({
      version: r.version,
      rules_version: r.rules_version,
      // 18.16 shows day 0 as 0000-00-00, current servers as 1970-01-01.
      effective_from: r.effective_from === '0000-00-00' ? '1970-01-01' : r.effective_from,
      cut_key: r.cut_key,
      cuts: r.cuts,
      cuts_on_day: r.cuts_on_day,
    }));
  expect(await inForce('2024-03-02', 'value_tier')).toEqual([
    {
      version: 'initial',
      rules_version: 'r1',
      effective_from: '1970-01-01',
      cut_key: 'value_tier',
      cuts: [100000, 30000, 10000],
      cuts_on_day: [100000, 30000, 10000],
    },
  ]);
  expect(await inForce('2024-03-03')).toEqual([
    {
      version: 'cp-2024-03-02',
      rules_version: 'r1',
      effective_from: '2024-03-03',
      cut_key: 'rfm_segment.r',
      cuts: [3, 10, 20, 40],
      cuts_on_day: [4, 11, 21, 41], // anchored to 03-02: one day later, one day more
    },
    {
      version: 'cp-2024-03-02',
      rules_version: 'r1',
      effective_from: '2024-03-03',
      cut_key: 'value_tier',
      cuts: [5000, 2000, 500],
      cuts_on_day: [5000, 2000, 500],
    },
  ]);
  for (const day of ['2024-03-04', '2024-03-05']) {
    const r = await inForce(day, 'value_tier');
    expect(
      r.map((x) => [x.version, x.rules_version, x.cuts]),
      day,
    ).toEqual([['cp-2024-03-04+r1', 'r2', [7000, 3000, 700]]]);
  }
  // The full row: groups best first, the measured day, the population, the configuration.
  const [full] = await q(client, db, 'cutpoints_on_day', { day: '2024-03-03', dimension: 'rfm_segment' });
  expect(full).toMatchObject({
    measured_day: '2024-03-02',
    population: 4,
    dimension: 'rfm_segment',
    metric: 'recency_days',
    better: 'lower',
    groups: ['5', '4', '3', '2', '1'],
    anchor_day: '2024-03-02',
    aggregate_config: 'ac-000000000001',
  });
  expect(await rows(client, `SELECT toUInt32(count()) AS n FROM ${db}.cutpoint_history FINAL`)).toEqual([{ n: 8 }]);
  // Why f1 is where it is on 03-03: its revenue_365d (999) and recency (93 days, from last_order_at) against the cuts.
  const placed = async (customer_id: string) =>
    (await q(client, db, 'cutpoints_on_day', { day: '2024-03-03', customer_id })).map((r) => [
      r.cut_key,
      r.customer_value,
      r.customer_group,
    ]);
  expect(await placed('f1')).toEqual([
    ['rfm_segment.r', 93, '1'],
    ['value_tier', 999, 'SILVER'],
  ]);
  expect(await placed('')).toEqual([
    ['rfm_segment.r', null, ''],
    ['value_tier', null, ''],
  ]);

  // The rates behind the hash on the rows.
  expect(
    await rows(
      client,
      `SELECT aggregate_config, reporting_currency, fx_currencies, fx_rates FROM ${db}.aggregate_configs FINAL`,
    ),
  ).toEqual([
    {
      aggregate_config: 'ac-000000000001',
      reporting_currency: 'USD',
      fx_currencies: ['EUR', 'JPY', 'USD'],
      fx_rates: [1.08, 0.67, 1],
    },
  ]);
  for (const table of ['tier_current', 'metric_history', 'tier_transitions']) {
    expect(
      await rows(client, `SELECT DISTINCT aggregate_config FROM ${db}.${table} FINAL WHERE aggregate_config != ''`),
      table,
    ).toEqual([{ aggregate_config: 'ac-000000000001' }]);
  }

  // tier_current's metrics are dated; high_value_at_risk takes f1's numbers of the day from the metric history.
  expect(
    await rows(client, `SELECT customer_id, metrics_day FROM ${db}.tier_current FINAL ORDER BY customer_id`),
  ).toEqual([
    { customer_id: 'f1', metrics_day: '2024-03-01' },
    { customer_id: 'f2', metrics_day: '2024-03-01' },
  ]);
  const atRisk = (day?: string) =>
    q(client, db, 'high_value_at_risk', day ? { day } : {}).then((r) =>
      r.map(({ customer_id, revenue_365d, recency_days, metrics_day }) => ({
        customer_id,
        revenue_365d,
        recency_days,
        metrics_day,
      })),
    );
  // Default day: the last basis_day of metric_history (03-06).
  expect(await atRisk()).toEqual([
    { customer_id: 'f2', revenue_365d: 500, recency_days: 100, metrics_day: '2024-03-01' },
    { customer_id: 'f1', revenue_365d: 400, recency_days: 96, metrics_day: '2024-03-06' },
  ]);
  expect(await atRisk('2024-03-03')).toEqual([
    { customer_id: 'f1', revenue_365d: 999, recency_days: 93, metrics_day: '2024-03-03' },
    { customer_id: 'f2', revenue_365d: 500, recency_days: 100, metrics_day: '2024-03-01' },
  ]);

  // The long view: one row per metric, revenue_prev_90d included.
  expect(
    await rows(
      client,
      `SELECT valid_from, metric, value FROM ${db}.metric_history_long WHERE customer_id = 'f1' AND basis_day = '2024-03-06' ORDER BY metric`,
    ),
  ).toEqual([
    { valid_from: '2024-03-06', metric: 'last_order_at', value: lastOrder },
    { valid_from: '2024-03-06', metric: 'revenue_365d', value: 400 },
    { valid_from: '2024-03-06', metric: 'revenue_prev_90d', value: 50 },
  ]);
  expect(
    await rows(
      client,
      `SELECT valid_from, valid_to, value FROM ${db}.metric_intervals_long WHERE customer_id = 'f1' AND metric = 'revenue_365d' ORDER BY valid_from`,
    ),
  ).toEqual([
    { valid_from: '2024-03-01', valid_to: '2024-03-04', value: 999 },
    { valid_from: '2024-03-05', valid_to: '2024-03-05', value: 400 },
    { valid_from: '2024-03-06', valid_to: '2105-12-31', value: 400 },
  ]);

  // Readable times (UTC, whole seconds).
  expect(
    await rows(
      client,
      `SELECT toString(occurred_time) AS o, toString(evaluated_time) AS e FROM ${db}.tier_transitions_readable`,
    ),
  ).toEqual([{ o: '2024-03-01 23:59:59', e: '2024-03-02 00:00:00' }]);
  expect(
    await rows(
      client,
      `SELECT toString(as_of_time) AS a, toString(emitted_time) AS e FROM ${db}.tier_current_readable WHERE customer_id = 'f1'`,
    ),
  ).toEqual([{ a: '2024-03-01 23:59:59', e: '2024-03-02 00:00:01' }]);
  expect(
    await rows(
      client,
      `SELECT toString(computed_time) AS c FROM ${db}.cutpoint_history_readable WHERE version = 'cp-2024-03-02' LIMIT 1`,
    ),
  ).toEqual([{ c: '2024-03-02 23:59:59' }]);
}
