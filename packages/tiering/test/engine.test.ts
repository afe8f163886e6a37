import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type CutPoints, evaluateTiers, type Metrics, parseRules, type TierState, transitionId } from '../src/index';
import { DAY_MS, loadRules } from './helpers';

const defaultRules = loadRules('rules/default.yaml');
const VALUE_TIERS = ['PLATINUM', 'GOLD', 'SILVER', 'BRONZE'];

/** Random value_tier cut points: 3 values, highest first. */
const cutsArb = fc
  .uniqueArray(fc.integer({ min: 1, max: 1_000_000 }), { minLength: 3, maxLength: 3 })
  .map(
    (xs): CutPoints => ({ version: 'cp-test', computed_at: 0, cuts: { value_tier: [...xs].sort((a, b) => b - a) } }),
  );

const metricsWithRevenue = (revenue: number): Metrics => ({
  revenue_365d: revenue,
  revenue_90d: 0,
  revenue_prev_90d: 0,
  orders_lifetime: revenue > 0 ? 1 : 0,
  recency_days: revenue > 0 ? 3 : null,
  engagement_score: 0,
});

function valueTierOf(cutPoints: CutPoints, revenue: number, previous: TierState | null = null, day = 100) {
  return evaluateTiers({
    rules: defaultRules,
    cutPoints,
    customerId: 'c1',
    metrics: metricsWithRevenue(revenue),
    previous,
    day,
    at: day * DAY_MS,
  });
}

describe('value_tier with fixed cut points', () => {
  it('more revenue never gives a lower tier (monotone)', () => {
    fc.assert(
      fc.property(
        cutsArb,
        fc.integer({ min: 0, max: 2_000_000 }),
        fc.integer({ min: 0, max: 2_000_000 }),
        (cp, a, b) => {
          const [lo, hi] = a <= b ? [a, b] : [b, a];
          const rankLo = VALUE_TIERS.indexOf(valueTierOf(cp, lo).state.tiers.value_tier!);
          const rankHi = VALUE_TIERS.indexOf(valueTierOf(cp, hi).state.tiers.value_tier!);
          expect(rankHi).toBeLessThanOrEqual(rankLo);
        },
      ),
    );
  });

  it('a value equal to a cut goes to the higher tier', () => {
    const cp: CutPoints = { version: 'v', computed_at: 0, cuts: { value_tier: [300, 200, 100] } };
    expect(valueTierOf(cp, 300).state.tiers.value_tier).toBe('PLATINUM');
    expect(valueTierOf(cp, 299.99).state.tiers.value_tier).toBe('GOLD');
    expect(valueTierOf(cp, 200).state.tiers.value_tier).toBe('GOLD');
    expect(valueTierOf(cp, 100).state.tiers.value_tier).toBe('SILVER');
    expect(valueTierOf(cp, 99).state.tiers.value_tier).toBe('BRONZE');
    expect(valueTierOf(cp, 0).state.tiers.value_tier).toBe('BRONZE'); // ineligible
    expect(valueTierOf(cp, 0).state.decided_by.value_tier).toBe('share:ineligible');
  });

  it('promotion applies on the same evaluation, even while a demotion is pending', () => {
    fc.assert(
      fc.property(
        cutsArb,
        fc.integer({ min: 0, max: 2_000_000 }),
        fc.integer({ min: 0, max: 2_000_000 }),
        (cp, a, b) => {
          const first = valueTierOf(cp, a, null, 100);
          const second = valueTierOf(cp, b, first.state, 101);
          const r1 = VALUE_TIERS.indexOf(first.state.tiers.value_tier!);
          const fresh = VALUE_TIERS.indexOf(valueTierOf(cp, b).state.tiers.value_tier!);
          const r2 = VALUE_TIERS.indexOf(second.state.tiers.value_tier!);
          const t = second.transitions.find((x) => x.dimension === 'value_tier');
          if (fresh < r1) {
            expect(r2).toBe(fresh);
            expect(t).toMatchObject({ direction: 'UP', from_tier: VALUE_TIERS[r1], to_tier: VALUE_TIERS[fresh] });
          } else {
            // not a promotion: a demotion waits for grace_days (14), so nothing moves the next day
            expect(r2).toBe(r1);
            expect(t).toBeUndefined();
          }
        },
      ),
    );
  });

  it('transition carries the numbers behind the decision', () => {
    const cp: CutPoints = { version: 'cp-7', computed_at: 0, cuts: { value_tier: [300, 200, 100] } };
    const { transitions } = valueTierOf(cp, 250);
    const t = transitions.find((x) => x.dimension === 'value_tier')!;
    expect(t).toMatchObject({
      from_tier: null,
      to_tier: 'GOLD',
      direction: 'ENTER',
      reason: 'share:GOLD',
      rule_id: 'share:GOLD',
      rules_version: '2026-11.1',
      cutpoints_version: 'cp-7',
      metrics: { revenue_365d: 250 },
      occurred_at: 100 * DAY_MS,
    });
  });
});

describe('determinism', () => {
  it('same input gives the same state and the same transition ids', () => {
    fc.assert(
      fc.property(
        cutsArb,
        fc.integer({ min: 0, max: 2_000_000 }),
        fc.integer({ min: 0, max: 5000 }),
        (cp, rev, day) => {
          const a = valueTierOf(cp, rev, null, day);
          const b = valueTierOf(cp, rev, null, day);
          expect(b).toEqual(a);
          for (const t of a.transitions) {
            expect(t.transition_id).toMatch(/^[0-9a-f]{64}$/);
            expect(t.transition_id).toBe(
              transitionId('c1', t.dimension, t.from_tier, t.to_tier, day * DAY_MS, '2026-11.1'),
            );
          }
          expect(new Set(a.transitions.map((t) => t.transition_id)).size).toBe(a.transitions.length);
        },
      ),
    );
  });

  it('transition ids differ when any part of the cause differs', () => {
    const base = transitionId('c1', 'value_tier', 'GOLD', 'PLATINUM', 1000, 'v1');
    const variants = [
      transitionId('c2', 'value_tier', 'GOLD', 'PLATINUM', 1000, 'v1'),
      transitionId('c1', 'lifecycle', 'GOLD', 'PLATINUM', 1000, 'v1'),
      transitionId('c1', 'value_tier', null, 'PLATINUM', 1000, 'v1'),
      transitionId('c1', 'value_tier', 'GOLD', 'SILVER', 1000, 'v1'),
      transitionId('c1', 'value_tier', 'GOLD', 'PLATINUM', 1001, 'v1'),
      transitionId('c1', 'value_tier', 'GOLD', 'PLATINUM', 1000, 'v2'),
      // no ambiguity from concatenation
      transitionId('c1|value_tier', 'x', 'GOLD', 'PLATINUM', 1000, 'v1'),
    ];
    expect(new Set([base, ...variants]).size).toBe(variants.length + 1);
  });
});

// A single ordered dimension on a plain metric: GOLD >= 200, SILVER >= 100, else BRONZE; grace G days.
const hysteresisRules = (grace: number) =>
  parseRules(
    `
version: "h1"
dimensions:
  - id: level
    tiers: [GOLD, SILVER, BRONZE]
    grace_days: ${grace}
    scoring:
      kind: thresholds
      metric: revenue_90d
      tiers: [{ tier: GOLD, min: 200 }, { tier: SILVER, min: 100 }]
      default_tier: BRONZE
`,
    'test/h1.yaml',
  );
const LEVELS = ['GOLD', 'SILVER', 'BRONZE'];
const rawLevel = (v: number) => (v >= 200 ? 0 : v >= 100 ? 1 : 2); // the tier without hysteresis
const NO_CUTS: CutPoints = { version: 'none', computed_at: 0, cuts: {} };

describe('hysteresis', () => {
  // values oscillating around the thresholds, one per day
  const journeyArb = fc.array(fc.constantFrom(50, 99, 100, 150, 199, 200, 250), { minLength: 1, maxLength: 80 });

  it('promotes at once, demotes exactly after grace_days of continuous lower candidates, never flaps', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10 }), journeyArb, (grace, values) => {
        const rules = hysteresisRules(grace);
        let state: TierState | null = null;
        let belowSince: number | null = null; // first day of the current run of lower candidates
        for (let day = 0; day < values.length; day++) {
          const cand = rawLevel(values[day]!);
          const prevRank = state === null ? null : LEVELS.indexOf(state.tiers.level!);
          const r = evaluateTiers({
            rules,
            cutPoints: NO_CUTS,
            customerId: 'h',
            metrics: { revenue_90d: values[day]! },
            previous: state,
            day,
            at: day * DAY_MS,
          });
          const rank = LEVELS.indexOf(r.state.tiers.level!);
          if (prevRank === null) {
            expect(rank).toBe(cand);
            expect(r.transitions[0]!.direction).toBe('ENTER');
          } else if (cand < prevRank) {
            expect(rank).toBe(cand); // promotion: immediate
            expect(r.transitions).toHaveLength(1);
            expect(r.transitions[0]!.direction).toBe('UP');
            belowSince = null;
          } else if (cand === prevRank) {
            expect(rank).toBe(prevRank);
            expect(r.transitions).toHaveLength(0);
            expect(r.state.pending).toEqual({});
            belowSince = null;
          } else {
            belowSince ??= day;
            if (day - belowSince >= grace) {
              expect(rank).toBe(cand); // demotion to the current candidate, exactly when grace has elapsed
              expect(r.transitions[0]!.direction).toBe('DOWN');
              expect(r.state.pending).toEqual({});
              belowSince = null;
            } else {
              expect(rank).toBe(prevRank); // held: no flapping
              expect(r.transitions).toHaveLength(0);
              expect(r.state.pending.level).toEqual({ tier: LEVELS[cand], since_day: belowSince });
            }
          }
          state = r.state;
        }
      }),
      { numRuns: 300 },
    );
  });

  it('a journey oscillating around a threshold every day does not flap', () => {
    const rules = hysteresisRules(7);
    let state: TierState | null = null;
    let transitions = 0;
    for (let day = 0; day < 60; day++) {
      const r = evaluateTiers({
        rules,
        cutPoints: NO_CUTS,
        customerId: 'h',
        metrics: { revenue_90d: day % 2 === 0 ? 210 : 190 },
        previous: state,
        day,
        at: day * DAY_MS,
      });
      transitions += r.transitions.length;
      state = r.state;
    }
    expect(transitions).toBe(1); // only the ENTER into GOLD
    expect(state!.tiers.level).toBe('GOLD');
  });

  it('state.version bumps on every change of tiers or pending, and only then', () => {
    const rules = hysteresisRules(3);
    const values = [250, 250, 150, 150, 250, 150, 150, 150, 150, 150];
    let state: TierState | null = null;
    const versions: number[] = [];
    for (let day = 0; day < values.length; day++) {
      state = evaluateTiers({
        rules,
        cutPoints: NO_CUTS,
        customerId: 'h',
        metrics: { revenue_90d: values[day]! },
        previous: state,
        day,
        at: day,
      }).state;
      versions.push(state.version);
    }
    // day0 enter(1), day1 same, day2 pending(2), day3 pending tier unchanged, day4 clear pending(3), day5 pending(4),
    // day6,7 held, day8 demotion applied (since 5 + grace 3)(5), day9 same
    expect(versions).toEqual([1, 1, 2, 2, 3, 4, 4, 4, 5, 5]);
  });
});

describe('reasons and directions', () => {
  it('unordered dimensions move LATERAL; rulesChanged gives reason RULES_CHANGED with the deciding rule_id', () => {
    const m: Metrics = { orders_lifetime: 1, orders_365d: 1, recency_days: 5, engagement_score: 0, revenue_365d: 100 };
    const cp: CutPoints = { version: 'c', computed_at: 0, cuts: {} };
    const first = evaluateTiers({
      rules: defaultRules,
      cutPoints: cp,
      customerId: 'x',
      metrics: m,
      previous: null,
      day: 10,
      at: 1,
    });
    expect(first.state.tiers.lifecycle).toBe('NEW');
    const later = evaluateTiers({
      rules: defaultRules,
      cutPoints: cp,
      customerId: 'x',
      metrics: { ...m, orders_lifetime: 2, orders_365d: 2, recency_days: 0 },
      previous: first.state,
      day: 11,
      at: 2,
      rulesChanged: true,
    });
    const t = later.transitions.find((x) => x.dimension === 'lifecycle')!;
    expect(t).toMatchObject({
      from_tier: 'NEW',
      to_tier: 'ACTIVE',
      direction: 'LATERAL',
      reason: 'RULES_CHANGED',
      rule_id: 'active_repeat_buyer',
    });
    expect(later.state.decided_by.lifecycle).toBe('active_repeat_buyer');
  });

  it('service_flag: raising COMPLAINT_RISK is immediate (UP), clearing waits 7 days (DOWN)', () => {
    const cp: CutPoints = { version: 'c', computed_at: 0, cuts: {} };
    const base: Metrics = {
      orders_lifetime: 0,
      engagement_score: 0,
      complaints_90d: 0,
      escalations_90d: 0,
      csat_avg_90d: null,
    };
    const run = (metrics: Metrics, previous: TierState | null, day: number) =>
      evaluateTiers({ rules: defaultRules, cutPoints: cp, customerId: 's', metrics, previous, day, at: day });
    let r = run(base, null, 0);
    expect(r.state.tiers.service_flag).toBe('OK');
    r = run({ ...base, escalations_90d: 1 }, r.state, 1);
    expect(r.transitions.find((t) => t.dimension === 'service_flag')).toMatchObject({
      direction: 'UP',
      to_tier: 'COMPLAINT_RISK',
      metrics: { escalations_90d: 1, complaints_90d: 0 },
    });
    let state = r.state;
    for (let day = 2; day <= 8; day++) {
      r = run(base, state, day);
      state = r.state;
      expect(state.tiers.service_flag).toBe('COMPLAINT_RISK');
    }
    r = run(base, state, 9); // below since day 2, grace 7
    expect(r.transitions.find((t) => t.dimension === 'service_flag')).toMatchObject({
      direction: 'DOWN',
      to_tier: 'OK',
      rule_id: 'service_ok',
    });
  });
});

describe('unordered dimension with grace_days', () => {
  const rules = parseRules(
    `
version: "u1"
dimensions:
  - id: mood
    ordered: false
    grace_days: 2
    tiers: [A, B, C]
    scoring:
      kind: rules
      rules:
        - { id: a, tier: A, when: { metric: orders_30d, op: gte, value: 5 } }
        - { id: b, tier: B, when: { metric: orders_30d, op: gte, value: 1 } }
      default: { id: c, tier: C }
`,
    'test/u1.yaml',
  );
  it('every change waits grace_days, keeps the first day of the streak, and applies the current candidate', () => {
    const orders = [5, 1, 0, 0, 5, 1, 1];
    let state: TierState | null = null;
    const seen: { tier: string; pending: unknown; moved: string | null }[] = [];
    for (let day = 0; day < orders.length; day++) {
      const r = evaluateTiers({
        rules,
        cutPoints: NO_CUTS,
        customerId: 'u',
        metrics: { orders_30d: orders[day]! },
        previous: state,
        day,
        at: day,
      });
      state = r.state;
      seen.push({
        tier: state.tiers.mood!,
        pending: state.pending.mood ?? null,
        moved: r.transitions[0]?.direction ?? null,
      });
    }
    expect(seen).toEqual([
      { tier: 'A', pending: null, moved: 'ENTER' },
      { tier: 'A', pending: { tier: 'B', since_day: 1 }, moved: null },
      { tier: 'A', pending: { tier: 'C', since_day: 1 }, moved: null },
      { tier: 'C', pending: null, moved: 'LATERAL' }, // day 3 - since 1 >= 2: the current candidate C applies
      { tier: 'C', pending: { tier: 'A', since_day: 4 }, moved: null }, // unordered: even "up" waits
      { tier: 'C', pending: { tier: 'B', since_day: 4 }, moved: null },
      { tier: 'B', pending: null, moved: 'LATERAL' },
    ]);
  });
});
