import { describe, expect, it } from 'vitest';
import { computeCutPoints, describeCutPoints, initialCutPoints, type Metrics, ruleMetricNames } from '../src/index';
import { loadRules } from './helpers';

const rules = loadRules('rules/default.yaml');

describe('ruleMetricNames', () => {
  it('lists every metric rules/default.yaml reads, including metric right-hand sides (revenue_prev_90d decides STAR)', () => {
    expect(ruleMetricNames(rules)).toEqual([
      'complaints_90d',
      'csat_avg_90d',
      'engagement_score',
      'escalations_90d',
      'orders_365d',
      'orders_lifetime',
      'recency_days',
      'revenue_365d',
      'revenue_90d',
      'revenue_lifetime',
      'revenue_prev_90d',
    ]);
  });
});

describe('describeCutPoints', () => {
  it('initial cut points: the fallback cuts and bands, with metric, direction and group names', () => {
    const d = describeCutPoints(rules, initialCutPoints(rules));
    expect(d.map((c) => c.key)).toEqual(['value_tier', 'rfm_segment.r', 'rfm_segment.f', 'rfm_segment.m']);
    expect(d[0]).toEqual({
      key: 'value_tier',
      dimension: 'value_tier',
      metric: 'revenue_365d',
      better: 'higher',
      groups: ['PLATINUM', 'GOLD', 'SILVER', 'BRONZE'],
      values: [100000, 30000, 10000],
      anchorDay: null,
    });
    expect(d[1]).toMatchObject({ metric: 'recency_days', better: 'lower', values: [14, 30, 60, 120], anchorDay: null });
    expect(d[1]!.groups).toEqual(['5', '4', '3', '2', '1']);
  });

  it('computed cut points: the computed values, recency anchored to the measured day, fixed F bands kept', () => {
    const population: Metrics[] = Array.from({ length: 10 }, (_, i) => ({
      revenue_365d: (i + 1) * 1000,
      revenue_lifetime: (i + 1) * 1000,
      orders_lifetime: 1,
      recency_days: i,
    }));
    const day = 10_000;
    const cp = computeCutPoints(rules, population, 'cp-x', (day + 1) * 86_400_000 - 1);
    const d = describeCutPoints(rules, cp);
    expect(d[0]!.values).toEqual([9000, 6000, 3000]);
    expect(d[1]).toMatchObject({ key: 'rfm_segment.r', values: [1, 3, 5, 7], anchorDay: day });
    expect(d[2]).toMatchObject({ key: 'rfm_segment.f', values: [10, 6, 3, 2], anchorDay: null });
  });
});
