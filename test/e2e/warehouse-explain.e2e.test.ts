import { aggregateConfigIdentity, DEFAULT_AGGREGATE_CONFIG } from '@tierstream/aggregates';
import { bootstrapPipeline, Clients, resetPipelineData } from '@tierstream/cli';
import type { InputEvent } from '@tierstream/contracts';
import { dayOf, endOfDay, TierStateStore } from '@tierstream/tierstate';
import { QUERIES_DIR, runNamedQuery } from '@tierstream/warehouse';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { feedAndClose, placed, type RunningPipeline, startPipeline } from '../support/journeys';

/**
 * Issue 21 item 6 through the real services (replay mode, rules/default.yaml): what explains a tier is in ClickHouse.
 * S1 orders $1,000 on 02-01 and $5,000 on 06-20; C2…C6 order $20 on 06-01. As of 06-30 S1 is the top value customer
 * and STAR, because its revenue of the last 90 days ($5,000) beats the 90 days before ($1,000: revenue_prev_90d).
 * The warehouse must hold revenue_prev_90d with the tiers, every cut-point version the engine used (as in Redis), the
 * fx rates behind the rows, and tier_current's metrics dated.
 */

const ENV = { CUTPOINTS_EVERY_DAYS: '7', SWEEP_INTERVAL_MS: '20' };
const day = (iso: string) => dayOf(Date.parse(`${iso}T00:00:00Z`));
const endAt = endOfDay(day('2024-06-30'));
const others = ['C2', 'C3', 'C4', 'C5', 'C6'];

function script(): InputEvent[] {
  return [
    placed('S1', day('2024-02-01'), 100_000),
    placed('S1', day('2024-06-20'), 500_000),
    ...others.map((id) => placed(id, day('2024-06-01'), 2_000)),
  ];
}

describe('explainable warehouse through the real services (issue 21 item 6)', () => {
  const clients = new Clients();
  let pipeline: RunningPipeline | null = null;
  const rows = async (sql: string) =>
    (await clients.clickhouse.query({ query: sql, format: 'JSONEachRow' })).json<Record<string, unknown>>();
  const db = clients.endpoints.clickhouseDatabase;

  beforeAll(async () => {
    await resetPipelineData(clients);
    await bootstrapPipeline(clients);
    pipeline = startPipeline(ENV);
    await feedAndClose(clients, pipeline, script(), endAt);
  });

  afterAll(async () => {
    await pipeline?.stop();
    await clients.close();
  });

  it('S1 is STAR, and revenue_prev_90d (which decided it) is stored with the tiers and in the metric history', async () => {
    const [current] = await rows(
      `SELECT tiers[indexOf(dims, 'value_potential')] AS potential,
              metric_values[indexOf(metric_names, 'revenue_prev_90d')] AS prev, indexOf(metric_names, 'revenue_prev_90d') > 0 AS has_prev,
              metric_values[indexOf(metric_names, 'revenue_90d')] AS last90
       FROM ${db}.tier_current FINAL WHERE customer_id = 'S1'`,
    );
    expect(current).toMatchObject({ potential: 'STAR', prev: 100_000, has_prev: 1, last90: 500_000 });
    const onDay = await runNamedQuery(clients.clickhouse, {
      dir: QUERIES_DIR,
      name: 'customer_on_day',
      params: { customer_id: 'S1', day: '2024-06-30' },
      database: db,
    });
    const metric = (name: string) => onDay.rows.find((r) => r.kind === 'metric' && r.name === name)?.value;
    expect(metric('revenue_prev_90d')).toBe('100000');
    expect(metric('revenue_90d')).toBe('500000');
    // On 02-10 the first order is in the last 90 days, nothing before it.
    const early = await rows(
      `SELECT value FROM ${db}.metric_intervals_long WHERE customer_id = 'S1' AND metric = 'revenue_prev_90d'
       AND valid_from <= '2024-02-10' AND valid_to >= '2024-02-10'`,
    );
    expect(early).toEqual([{ value: 0 }]);
  });

  it('every cut-point version the engine stored is in cutpoint_history with the same cuts, and each tier row names one', async () => {
    const tierState = new TierStateStore(clients.redis, clients.redisPrefix);
    const stored = (await tierState.getCutPointsHistory()).filter((c) => c.version.startsWith('cp-'));
    expect(stored.length).toBeGreaterThan(5);
    const warehouse = await rows(
      `SELECT version, cut_key, cuts, toString(effective_from) AS from FROM ${db}.cutpoint_history FINAL`,
    );
    for (const cp of stored) {
      for (const [key, cuts] of Object.entries(cp.cuts)) {
        if (key === 'rfm_segment.f') continue; // fixed bands: stored with the version too, not in Redis' computed cuts
        const row = warehouse.find((r) => r.version === cp.version && r.cut_key === key);
        expect(row?.cuts, `${cp.version} ${key}`).toEqual(cuts);
      }
    }
    const versions = new Set(warehouse.map((r) => r.version));
    const used = await rows(`SELECT DISTINCT cutpoints_version AS v FROM ${db}.tier_history FINAL`);
    for (const { v } of used) expect(versions.has(v as string), String(v)).toBe(true);
    // "Why PLATINUM on 06-30": the cuts in force that day are those of the version measured on 06-29.
    const r = await runNamedQuery(clients.clickhouse, {
      dir: QUERIES_DIR,
      name: 'cutpoints_on_day',
      params: { day: '2024-06-30', dimension: 'value_tier' },
      database: db,
    });
    expect(r.rows).toHaveLength(1);
    expect(r.rows[0]).toMatchObject({
      version: 'cp-2024-06-29',
      effective_from: '2024-06-30',
      groups: ['PLATINUM', 'GOLD', 'SILVER', 'BRONZE'],
      cuts: stored.find((c) => c.version === 'cp-2024-06-29')!.cuts.value_tier,
    });
    // …and S1's revenue_365d on the day falls in PLATINUM, its tier.
    const s1 = await runNamedQuery(clients.clickhouse, {
      dir: QUERIES_DIR,
      name: 'cutpoints_on_day',
      params: { day: '2024-06-30', dimension: 'value_tier', customer_id: 'S1' },
      database: db,
    });
    expect(s1.rows[0]).toMatchObject({ customer_value: 600_000, customer_group: 'PLATINUM' });
    const [tier] = await rows(
      `SELECT tiers[indexOf(dims, 'value_tier')] AS t FROM ${db}.tier_current FINAL WHERE customer_id = 'S1'`,
    );
    expect(tier).toEqual({ t: 'PLATINUM' });
  });

  it('the fx rates behind every row are recorded, and tier_current says which day its metrics are as of', async () => {
    const { hash } = aggregateConfigIdentity(DEFAULT_AGGREGATE_CONFIG);
    for (const table of ['tier_current', 'tier_history', 'metric_history', 'tier_transitions', 'cutpoint_history']) {
      expect(await rows(`SELECT DISTINCT aggregate_config AS h FROM ${db}.${table} FINAL`), table).toEqual([
        { h: hash },
      ]);
    }
    const [config] = await rows(
      `SELECT reporting_currency AS c, fx_rates[indexOf(fx_currencies, 'EUR')] AS eur FROM ${db}.aggregate_configs FINAL WHERE aggregate_config = '${hash}'`,
    );
    expect(config).toEqual({ c: 'USD', eur: DEFAULT_AGGREGATE_CONFIG.fxRates.EUR });
    const dated = await rows(
      `SELECT customer_id, toString(metrics_day) AS d, toString(toDate(toDateTime(intDiv(as_of, 1000), 'UTC'))) AS of
       FROM ${db}.tier_current FINAL ORDER BY customer_id`,
    );
    expect(dated.map((r) => r.customer_id)).toEqual(['C2', 'C3', 'C4', 'C5', 'C6', 'S1']);
    for (const r of dated) expect(r.d, String(r.customer_id)).toBe(r.of);
  });
});
