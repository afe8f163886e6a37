import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_CUTPOINT_SCHEDULE,
  evaluateTiers,
  initialCutPoints,
  type Metrics,
  parseRules,
  type TierState,
} from '../src/index';
import { DAY_MS, type Journey, journeyMetrics, loadRules, runPopulation } from './helpers';

// Issue 14, case 6: grace damps changes from the clock and the population, not a customer's own move up
// (rules/README.md "Hysteresis", design-decisions §17).

const rules = loadRules('rules/default.yaml');
const DEFAULT_TEXT = readFileSync(
  path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../rules/default.yaml'),
  'utf8',
);
/** The default rules with every rfm_segment change waiting its grace days (the behaviour before §17). */
const waitAllRules = parseRules(
  DEFAULT_TEXT.replace(
    'grace_days: 7 # damp quintile jitter: a segment change must hold a week',
    'grace_days: 7\n    grace_applies_to: all',
  ),
  'rules/default.yaml (grace_applies_to: all)',
);

const day = (iso: string) => Math.floor(Date.parse(`${iso}T00:00:00Z`) / DAY_MS);
const iso = (d: number) => new Date(d * DAY_MS).toISOString().slice(0, 10);
const orders = (...list: Array<[string, number]>): Journey => ({
  orders: list.map(([d, amount]) => ({ day: day(d), amount })),
  web: [],
  tickets: [],
});
const segmentSteps = (run: ReturnType<typeof runPopulation>, id: string) =>
  run.transitions
    .filter((t) => t.customer_id === id && t.dimension === 'rfm_segment')
    .map((t) => `${iso(t.day)} ${t.to_tier}`);

describe('issue 14 case 6: recency cuts do not drift (the more recent buyer stays R high)', () => {
  // C1 PLACED 06-01 5000 and 06-05 3000; C2 PLACED 06-03 4000.
  const journeys = new Map([
    ['C1', orders(['2024-06-01', 5000], ['2024-06-05', 3000])],
    ['C2', orders(['2024-06-03', 4000])],
  ]);
  const end = day('2024-06-30');
  const run = runPopulation(rules, journeys, end, DEFAULT_CUTPOINT_SCHEDULE);

  it('exact segments: C1 POTENTIAL from 06-02 on, C2 LOST once its week of grace has passed', () => {
    expect(segmentSteps(run, 'C1')).toEqual(['2024-06-01 NEW_LOW_VALUE', '2024-06-02 POTENTIAL']);
    expect(segmentSteps(run, 'C2')).toEqual(['2024-06-03 NEW_LOW_VALUE', '2024-06-13 LOST']);
    const on14 = run.states.get(day('2024-06-14'))!;
    expect(on14.get('C1')!.tiers.rfm_segment).toBe('POTENTIAL');
    expect(on14.get('C2')!.tiers.rfm_segment).toBe('LOST');
  });

  it('from 06-05 (C1 the more recent buyer) C1 scores R high and C2 R low on every day', () => {
    for (let d = day('2024-06-06'); d <= end; d++) {
      const cp = run.cutPoints.get(d)!;
      const score = (id: string) =>
        evaluateTiers({
          rules,
          cutPoints: cp,
          customerId: id,
          metrics: journeyMetrics(journeys.get(id)!, d),
          previous: null,
          day: d,
          at: 0,
        }).transitions.find((t) => t.dimension === 'rfm_segment')!.metrics.r_score!;
      expect(score('C1'), iso(d)).toBeGreaterThanOrEqual(3);
      expect(score('C2'), iso(d)).toBeLessThan(3);
    }
  });
});

describe('issue 14 case 6: a customer who buys again is not held in a win-back segment', () => {
  // C1 PLACED 06-10 2500, 06-10 1500, 06-25 4000; C2 PLACED 06-20 1000 twice.
  const journeys = new Map([
    ['C1', orders(['2024-06-10', 2500], ['2024-06-10', 1500], ['2024-06-25', 4000])],
    ['C2', orders(['2024-06-20', 1000], ['2024-06-20', 1000])],
  ]);
  const end = day('2024-06-30');

  it('exact segments: C1 CHAMPION on the day of its third order; C2 still waiting to become LOST on 06-30', () => {
    const run = runPopulation(rules, journeys, end, DEFAULT_CUTPOINT_SCHEDULE);
    // 06-11: the first cut points make C1's M high (a move up: at once). 06-21: C2 is the more recent buyer, C1 is R
    // low: BIG_SPENDER_LOST would be a move down, it waits. 06-25: C1 buys, HHH beats HLH on every letter: at once.
    expect(segmentSteps(run, 'C1')).toEqual([
      '2024-06-10 NEW_LOW_VALUE',
      '2024-06-11 POTENTIAL',
      '2024-06-25 CHAMPION',
    ]);
    expect(segmentSteps(run, 'C2')).toEqual(['2024-06-20 NEW_LOW_VALUE']);
    const on30 = run.states.get(end)!;
    expect(on30.get('C1')!.tiers.rfm_segment).toBe('CHAMPION');
    expect(on30.get('C1')!.pending).toEqual({});
    expect(on30.get('C2')!.tiers.rfm_segment).toBe('NEW_LOW_VALUE');
    expect(on30.get('C2')!.pending.rfm_segment).toEqual({ tier: 'LOST', since_day: day('2024-06-26') });
  });

  it('with grace_applies_to: all (the old behaviour) the purchase waits behind the pending demotion', () => {
    const run = runPopulation(waitAllRules, journeys, end, DEFAULT_CUTPOINT_SCHEDULE);
    expect(segmentSteps(run, 'C1')).toEqual([
      '2024-06-10 NEW_LOW_VALUE',
      '2024-06-18 POTENTIAL',
      '2024-06-28 CHAMPION', // 7 days after the demotion started on 06-21, not on the day of the order
    ]);
    const on25 = run.states.get(day('2024-06-25'))!.get('C1')!;
    expect(on25.tiers.rfm_segment).toBe('POTENTIAL');
    expect(on25.pending.rfm_segment).toEqual({ tier: 'CHAMPION', since_day: day('2024-06-21') });
  });
});

describe('grace_applies_to: demotions on an rfm dimension (segments ordered by their letters)', () => {
  // Initial cut points (bands): R high when recency <= 60 days, F high from 3 orders, M high from 30000.
  const cp = initialCutPoints(rules);
  const metrics = (letters: string): Metrics => ({
    recency_days: letters[0] === 'H' ? 10 : 200,
    orders_lifetime: letters[1] === 'H' ? 5 : 1,
    revenue_lifetime: letters[2] === 'H' ? 50_000 : 500,
    revenue_365d: 0,
  });
  const state = (segment: string): TierState => ({
    customer_id: 'c',
    version: 1,
    rules_version: rules.version,
    cutpoints_version: cp.version,
    last_eval_day: 99,
    tiers: { rfm_segment: segment },
    pending: {},
    decided_by: {},
  });
  const after = (from: string, m: Metrics) => {
    const s = evaluateTiers({
      rules,
      cutPoints: cp,
      customerId: 'c',
      metrics: m,
      previous: state(from),
      day: 100,
      at: 0,
    }).state;
    return { tier: s.tiers.rfm_segment, pending: s.pending.rfm_segment?.tier ?? null };
  };

  it('a segment at least as high on R, F and M applies at once; any letter going down waits', () => {
    expect(after('BIG_SPENDER_LOST', metrics('HHH'))).toEqual({ tier: 'CHAMPION', pending: null }); // LLH → HHH
    expect(after('LOST', metrics('HLL'))).toEqual({ tier: 'NEW_LOW_VALUE', pending: null }); // LLL → HLL
    expect(after('CHAMPION', metrics('LHH'))).toEqual({ tier: 'CHAMPION', pending: 'LOYAL_AT_RISK' }); // R down
    // R up but F down: not better on every letter, so it waits
    expect(after('LOYAL_AT_RISK', metrics('HLH'))).toEqual({ tier: 'LOYAL_AT_RISK', pending: 'POTENTIAL' });
  });

  it('leaving the ineligible tier (a first order) applies at once; entering it waits', () => {
    expect(after('NO_PURCHASE', metrics('HLL'))).toEqual({ tier: 'NEW_LOW_VALUE', pending: null });
    expect(after('NEW_LOW_VALUE', { ...metrics('HLL'), orders_lifetime: 0 })).toEqual({
      tier: 'NEW_LOW_VALUE',
      pending: 'NO_PURCHASE',
    });
  });

  it('a promotion drops a pending demotion', () => {
    const pendingLost: TierState = { ...state('POTENTIAL'), pending: { rfm_segment: { tier: 'LOST', since_day: 95 } } };
    const r = evaluateTiers({
      rules,
      cutPoints: cp,
      customerId: 'c',
      metrics: metrics('HHH'),
      previous: pendingLost,
      day: 100,
      at: 0,
    });
    expect(r.state.tiers.rfm_segment).toBe('CHAMPION');
    expect(r.state.pending).toEqual({});
    expect(r.transitions.find((t) => t.dimension === 'rfm_segment')!.direction).toBe('LATERAL');
  });

  it('several letter combinations per segment: better only than every combination of the old segment', () => {
    const r = parseRules(
      `
version: "g1"
dimensions:
  - id: seg
    ordered: false
    grace_days: 3
    tiers: [A, B, N]
    scoring:
      kind: rfm
      r: { metric: recency_days, better: lower, quintiles: false, bands: [14, 30, 60, 120] }
      f: { metric: orders_lifetime, quintiles: false, bands: [10, 6, 3, 2] }
      m: { metric: revenue_lifetime, quintiles: false, bands: [200000, 80000, 30000, 10000] }
      segments: { HHH: A, HHL: A, HLH: B, HLL: B, LHH: B, LHL: N, LLH: N, LLL: N }
      eligible: { metric: orders_lifetime, op: gte, value: 1 }
      ineligible_tier: N
`,
      'g1.yaml',
    );
    const go = (from: string, letters: string) =>
      evaluateTiers({
        rules: r,
        cutPoints: initialCutPoints(r),
        customerId: 'c',
        metrics: metrics(letters),
        previous: { ...state(from), tiers: { seg: from } },
        day: 100,
        at: 0,
      }).state;
    expect(go('B', 'HHH').tiers.seg).toBe('A'); // HHH is above HLH, HLL and LHH
    expect(go('B', 'HHL').pending.seg?.tier).toBe('A'); // HHL is not above HLH (M)
    // N is also the ineligible tier, but its combinations include LHL, which HLL is not above: it waits
    expect(go('N', 'HLL').tiers.seg).toBe('N');
    expect(go('N', 'HLL').pending.seg?.tier).toBe('B');
    expect(go('N', 'HHH').tiers.seg).toBe('A');
  });

  it('rules format: demotions needs an order (ordered, or kind rfm); all is accepted everywhere', () => {
    const seg = rules.dimensions.find((d) => d.id === 'rfm_segment')!;
    expect(seg.grace_applies_to).toBe('demotions');
    expect(rules.dimensions.find((d) => d.id === 'lifecycle')!.grace_applies_to).toBe('all');
    expect(rules.dimensions.find((d) => d.id === 'value_tier')!.grace_applies_to).toBe('demotions');
    expect(() =>
      parseRules(
        DEFAULT_TEXT.replace(
          'grace_days: 0\n    reactivation:',
          'grace_days: 0\n    grace_applies_to: demotions\n    reactivation:',
        ),
        'x.yaml',
      ),
    ).toThrow('x.yaml: dimensions[2].grace_applies_to: expected all');
  });
});
