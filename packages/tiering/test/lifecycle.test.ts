import { describe, expect, it } from 'vitest';
import { initialCutPoints } from '../src/index';
import { type Journey, loadRules, runDaily, runLazy } from './helpers';

const rules = loadRules('rules/default.yaml');
const cutPoints = initialCutPoints(rules);

// A prospect browses (day 0), buys (10), repeats (20, 30, 40: 4 orders in a year -> LOYAL), goes quiet, and comes
// back on day 500. Expected days follow from the documented thresholds with last order on day 40:
//   LOYAL needs recency <= 60   -> ACTIVE on day 101 (recency 61)
//   AT_RISK from recency 91     -> day 131
//   DORMANT from recency 181    -> day 221
//   CHURNED from recency 366    -> day 406
const journey: Journey = {
  orders: [
    { day: 10, amount: 5_000 },
    { day: 20, amount: 7_000 },
    { day: 30, amount: 4_000 },
    { day: 40, amount: 9_000 },
    { day: 500, amount: 6_000 },
  ],
  web: [{ day: 0, weight: 5 }],
  tickets: [],
};

const EXPECTED = [
  { day: 0, from_tier: null, to_tier: 'PROSPECT', direction: 'ENTER', reason: 'prospect_engaged' },
  { day: 10, from_tier: 'PROSPECT', to_tier: 'NEW', direction: 'LATERAL', reason: 'new_first_order' },
  { day: 20, from_tier: 'NEW', to_tier: 'ACTIVE', direction: 'LATERAL', reason: 'active_repeat_buyer' },
  { day: 40, from_tier: 'ACTIVE', to_tier: 'LOYAL', direction: 'LATERAL', reason: 'loyal_frequent_recent' },
  { day: 101, from_tier: 'LOYAL', to_tier: 'ACTIVE', direction: 'LATERAL', reason: 'active_repeat_buyer' },
  { day: 131, from_tier: 'ACTIVE', to_tier: 'AT_RISK', direction: 'LATERAL', reason: 'at_risk_quiet_91_180' },
  { day: 221, from_tier: 'AT_RISK', to_tier: 'DORMANT', direction: 'LATERAL', reason: 'dormant_quiet_181_365' },
  { day: 406, from_tier: 'DORMANT', to_tier: 'CHURNED', direction: 'LATERAL', reason: 'churned_quiet_over_365' },
  { day: 500, from_tier: 'CHURNED', to_tier: 'ACTIVE', direction: 'LATERAL', reason: 'REACTIVATED' },
];

describe('lifecycle journey (default rules)', () => {
  it('moves on the exact days, and a return after churn is REACTIVATED', () => {
    const { transitions } = runDaily(rules, cutPoints, journey, 0, 560);
    const lifecycle = transitions
      .filter((t) => t.dimension === 'lifecycle')
      .map(({ day, from_tier, to_tier, direction, reason }) => ({ day, from_tier, to_tier, direction, reason }));
    expect(lifecycle).toEqual(EXPECTED);
    const reactivated = transitions.find((t) => t.dimension === 'lifecycle' && t.day === 500)!;
    // rule_id stays the deciding rule; the reason tells marketing it was a comeback
    expect(reactivated.rule_id).toBe('active_repeat_buyer');
    expect(reactivated.metrics).toMatchObject({ orders_lifetime: 5, recency_days: 0 });
  });

  it('time-driven moves happen without events: lazy evaluation on due days gives the same transitions', () => {
    // daily up to day 40 (the last event before the quiet period), then only on the days nextDueDay asks for
    const head = runDaily(rules, cutPoints, { ...journey, orders: journey.orders.slice(0, 4) }, 0, 40);
    const quiet = { ...journey, orders: journey.orders.slice(0, 4) };
    const lazy = runLazy(rules, cutPoints, quiet, head.state!, 40, 499);
    const daily = runDaily(rules, cutPoints, quiet, 41, 499, head.state);
    expect(lazy.transitions).toEqual(daily.transitions);
    expect(lazy.transitions.filter((t) => t.dimension === 'lifecycle').map((t) => t.day)).toEqual([101, 131, 221, 406]);
    expect(lazy.evaluations).toBeLessThan(60); // far fewer than the 459 days of the daily scan
  });
});
