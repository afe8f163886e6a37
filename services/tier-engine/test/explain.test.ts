import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { aggregateConfigIdentity, DEFAULT_AGGREGATE_CONFIG } from '@tierstream/aggregates';
import type { TierCutPoints } from '@tierstream/contracts';
import type { OutgoingRecord } from '@tierstream/kafka';
import { computeCutPoints, initialCutPoints, type Metrics, parseRules, ruleMetricNames } from '@tierstream/tiering';
import { describe, expect, it } from 'vitest';
import { type EngineDeps, TierEngine } from '../src/engine';
import { ROW_METRICS, rowMetricNames } from '../src/rows';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const rules = parseRules(readFileSync(path.join(ROOT, 'rules/default.yaml'), 'utf8'), 'rules/default.yaml');

/** An engine whose producer and serde record what it sends (JSON instead of Avro); nothing else is used here. */
function engineWithOutbox() {
  const sent: Array<{ topic: string; records: OutgoingRecord[] }> = [];
  const deps = {
    aggregateConfig: DEFAULT_AGGREGATE_CONFIG,
    producer: { sendMany: async (batches: typeof sent) => void sent.push(...batches) },
    serde: {
      encodeIfCached: () => undefined,
      encode: async (_topic: string, value: unknown) => Buffer.from(JSON.stringify(value)),
    },
    topics: { transitions: 't', changes: 'c', snapshots: 's', cutpoints: 'cutpoints' },
    wallClock: () => 42,
  } as unknown as EngineDeps;
  return { engine: new TierEngine(deps, rules, initialCutPoints(rules)), sent };
}

describe('metrics stored with the tiers', () => {
  it('every metric rules/default.yaml reads is stored, besides the fixed set (revenue_prev_90d decides STAR)', () => {
    const stored = rowMetricNames(rules);
    for (const m of ruleMetricNames(rules)) expect(stored, m).toContain(m);
    for (const m of ROW_METRICS) expect(stored, m).toContain(m);
    expect(stored).toContain('revenue_prev_90d');
  });

  it('change rows carry them, and the hash of the aggregate configuration', () => {
    const { engine } = engineWithOutbox();
    const metrics: Metrics = { revenue_90d: 500, revenue_prev_90d: 200, revenue_365d: 700, orders_lifetime: 2 };
    const state = {
      customer_id: 'c1',
      version: 1,
      rules_version: rules.version,
      cutpoints_version: 'initial',
      last_eval_day: 0,
      tiers: { value_potential: 'STAR' },
      pending: {},
      decided_by: {},
    };
    const row = engine.changeRow(state, metrics, 'CHANGE', '2024-03-01', 1, 2);
    expect(row.metrics.revenue_prev_90d).toBe(200);
    expect(row.aggregate_config).toBe(aggregateConfigIdentity(DEFAULT_AGGREGATE_CONFIG).hash);
  });
});

describe('cut points published for the warehouse', () => {
  it('publishes a version once, keyed by version, with its cuts, rules version and fx rates', async () => {
    const { engine, sent } = engineWithOutbox();
    const population: Metrics[] = Array.from({ length: 10 }, (_, i) => ({
      revenue_365d: (i + 1) * 1000,
      revenue_lifetime: (i + 1) * 1000,
      orders_lifetime: 1,
      recency_days: i,
    }));
    const day = 19_783; // 2024-03-01
    const cp = computeCutPoints(rules, population, 'cp-2024-03-01', (day + 1) * 86_400_000 - 1);
    await engine.publishCutPoints(cp);
    await engine.publishCutPoints(cp);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.topic).toBe('cutpoints');
    expect(sent[0]!.records.map((r) => r.key)).toEqual(['cp-2024-03-01']);
    const record = JSON.parse(sent[0]!.records[0]!.value.toString()) as TierCutPoints;
    expect(record).toMatchObject({
      version: 'cp-2024-03-01',
      rules_version: rules.version,
      measured_day: '2024-03-01',
      effective_from: '2024-03-02',
      population: 10,
      rules_seq: null,
      reporting_currency: 'USD',
      aggregate_config: aggregateConfigIdentity(DEFAULT_AGGREGATE_CONFIG).hash,
      emitted_at: 42,
    });
    expect(record.fx_rates.EUR).toBe(DEFAULT_AGGREGATE_CONFIG.fxRates.EUR);
    expect(record.cuts.find((c) => c.key === 'value_tier')).toEqual({
      key: 'value_tier',
      dimension: 'value_tier',
      metric: 'revenue_365d',
      better: 'higher',
      groups: ['PLATINUM', 'GOLD', 'SILVER', 'BRONZE'],
      values: [9000, 6000, 3000],
      anchor_day: null,
    });
    expect(record.cuts.find((c) => c.key === 'rfm_segment.r')?.anchor_day).toBe('2024-03-01');
    // A rules change's version, stored before the engine switches to its rules: published once it has switched.
    const next = parseRules(
      readFileSync(path.join(ROOT, 'rules/default.yaml'), 'utf8').replace('version: "2026-11.1"', 'version: "next"'),
      'next.yaml',
    );
    const change = { ...cp, version: 'cp-2024-03-01+r1', rules_version: 'next', rules_seq: 1 };
    await engine.publishCutPoints(change);
    expect(sent).toHaveLength(1);
    engine.rules = next;
    await engine.publishCutPoints(change);
    expect(sent).toHaveLength(2);
    expect(JSON.parse(sent[1]!.records[0]!.value.toString())).toMatchObject({ rules_version: 'next', rules_seq: 1 });
    // The initial cut points: no measured day, in force from the start.
    const initial = engine.cutPointsRecord(initialCutPoints(rules));
    expect(initial).toMatchObject({ version: 'initial', measured_day: null, effective_from: null, population: null });
  });
});
