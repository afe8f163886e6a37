/**
 * rules/clv.yaml (issue 15): a value pyramid by clv_365d shares and alive / at risk / lost by p_alive, evaluated on
 * metrics with and without the CLV predictions.
 */
import { describe, expect, it } from 'vitest';
import { computeCutPoints, evaluateTiers, initialCutPoints, type Metrics } from '../src/index';
import { loadRules } from './helpers';

const rules = loadRules('rules/clv.yaml');
const tiersOf = (metrics: Metrics, cutPoints = initialCutPoints(rules)) =>
  evaluateTiers({ rules, cutPoints, customerId: 'c', metrics, previous: null, day: 10_000, at: 0 }).state.tiers;

describe('rules/clv.yaml', () => {
  it('parses: the two CLV dimensions', () => {
    expect(rules.dimensions.map((d) => d.id)).toEqual(['predicted_value', 'clv_lifecycle']);
  });

  it('alive / at risk / lost by p_alive; without predictions (no model yet) UNSCORED and CLV_UNKNOWN', () => {
    expect(tiersOf({ p_alive: 0.9, clv_365d: 60_000 })).toEqual({
      predicted_value: 'TOP_VALUE',
      clv_lifecycle: 'ALIVE',
    });
    expect(tiersOf({ p_alive: 0.5, clv_365d: 1_000 }).clv_lifecycle).toBe('AT_RISK');
    expect(tiersOf({ p_alive: 0.29, clv_365d: 1_000 }).clv_lifecycle).toBe('LOST');
    expect(tiersOf({ p_alive: null, clv_365d: null })).toEqual({
      predicted_value: 'CLV_UNKNOWN',
      clv_lifecycle: 'UNSCORED',
    });
  });

  it('the pyramid takes 10 / 20 / 30 / 40 % of the customers with a prediction', () => {
    const population: Metrics[] = Array.from({ length: 100 }, (_, i) => ({ clv_365d: (i + 1) * 100, p_alive: 0.5 }));
    population.push({ clv_365d: null, p_alive: null });
    const cp = computeCutPoints(rules, population, 'cp-test', 0, initialCutPoints(rules));
    const count: Record<string, number> = {};
    for (const m of population) {
      const t = tiersOf(m, cp).predicted_value!;
      count[t] = (count[t] ?? 0) + 1;
    }
    expect(count).toEqual({ TOP_VALUE: 10, HIGH_VALUE: 20, MID_VALUE: 30, LOW_VALUE: 40, CLV_UNKNOWN: 1 });
  });
});
