import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { computeCutPoints, evaluateTiers, initialCutPoints, type Metrics, parseRules } from '../src/index';
import { loadRules } from './helpers';

const rules = loadRules('rules/default.yaml');
/** The default rules with the tie rule before issue 14 (`ties: better_group`). */
const betterGroup = parseRules(
  readFileSync(
    path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../rules/default.yaml'),
    'utf8',
  ).replace('fallback_cuts: [100000, 30000, 10000]', 'fallback_cuts: [100000, 30000, 10000]\n      ties: better_group'),
  'rules/default.yaml (ties: better_group)',
);
const TIERS = ['PLATINUM', 'GOLD', 'SILVER', 'BRONZE'];
const CUMULATIVE = [0.2, 0.5, 0.8];

const customer = (revenue: number): Metrics => ({
  revenue_365d: revenue,
  orders_lifetime: 1,
  recency_days: 1,
  revenue_lifetime: revenue,
});
const tierOf = (cp: ReturnType<typeof computeCutPoints>, m: Metrics) =>
  evaluateTiers({ rules, cutPoints: cp, customerId: 'c', metrics: m, previous: null, day: 0, at: 0 }).state.tiers;

/**
 * Value-tier indexes of the `revenues` customers under cut points computed (with `r`'s tie rule) from them plus
 * `zeros` zero-revenue customers, who must all be BRONZE: ineligible, they do not count in the population.
 */
function valueTiers(r: typeof rules, revenues: number[], zeros: number): number[] {
  const pop = [...revenues, ...Array(zeros).fill(0)].map(customer);
  const cp = computeCutPoints(r, pop, 'cp', 0);
  const tiers = pop.map((m) => TIERS.indexOf(tierOf(cp, m).value_tier!));
  for (const t of tiers.slice(revenues.length)) expect(t).toBe(3);
  return tiers.slice(0, revenues.length);
}

describe('computeCutPoints: shares', () => {
  it('distinct values: exactly 20/30/30/20 when N is a multiple of 10', () => {
    fc.assert(
      fc.property(
        fc
          .integer({ min: 1, max: 30 })
          .chain((k) =>
            fc.uniqueArray(fc.integer({ min: 1, max: 10_000_000 }), { minLength: 10 * k, maxLength: 10 * k }),
          ),
        (revenues) => {
          const cp = computeCutPoints(rules, revenues.map(customer), 'cp-1', 123);
          expect(cp.version).toBe('cp-1');
          expect(cp.computed_at).toBe(123);
          const counts = TIERS.map(() => 0);
          for (const r of revenues) counts[TIERS.indexOf(tierOf(cp, customer(r)).value_tier!)]!++;
          const n = revenues.length;
          expect(counts).toEqual([0.2 * n, 0.3 * n, 0.3 * n, 0.2 * n].map(Math.round));
        },
      ),
    );
  });

  it('with ties (ties: never_exceed, the default): each cumulative group holds at most its share', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 12 }), { minLength: 1, maxLength: 200 }),
        fc.integer({ min: 0, max: 20 }),
        (revenues, zeros) => {
          const tiers = valueTiers(rules, revenues, zeros);
          const n = revenues.length;
          CUMULATIVE.forEach((c, k) => {
            const inGroup = revenues.filter((_, i) => tiers[i]! <= k);
            expect(inGroup.length).toBeLessThanOrEqual(Math.round(c * n));
            // the tied group at the boundary is below it whole: nobody below is as good as someone inside
            const lowest = Math.min(...inGroup);
            revenues.forEach((v, i) => {
              if (tiers[i]! > k) expect(v).toBeLessThan(lowest);
            });
          });
        },
      ),
    );
  });

  it('with ties (ties: better_group): each cumulative group holds its share, plus at most the customers tied at its boundary', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 12 }), { minLength: 1, maxLength: 200 }),
        fc.integer({ min: 0, max: 20 }),
        (revenues, zeros) => {
          const tiers = valueTiers(betterGroup, revenues, zeros);
          const n = revenues.length;
          CUMULATIVE.forEach((c, k) => {
            const inGroup = revenues.filter((_, i) => tiers[i]! <= k);
            const target = Math.round(c * n);
            expect(inGroup.length).toBeGreaterThanOrEqual(target);
            if (inGroup.length > 0) {
              const lowest = Math.min(...inGroup);
              // everyone strictly better than the boundary value fits inside the share
              expect(inGroup.filter((v) => v > lowest).length).toBeLessThan(Math.max(target, 1));
              // nobody outside the group has a value as good as someone inside (ties go to the higher tier)
              revenues.forEach((v, i) => {
                if (tiers[i]! > k) expect(v).toBeLessThan(lowest);
              });
            }
          });
        },
      ),
    );
  });

  it('is deterministic and independent of population order', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 1000 }), { maxLength: 100 }), (revenues) => {
        const a = computeCutPoints(rules, revenues.map(customer), 'v', 1);
        const b = computeCutPoints(rules, [...revenues].reverse().map(customer), 'v', 1);
        expect(b).toEqual(a);
      }),
    );
  });

  it('an empty population keeps the fallback cuts; initialCutPoints uses fallback cuts and bands', () => {
    const init = initialCutPoints(rules);
    expect(init.version).toBe('initial');
    expect(init.cuts.value_tier).toEqual([100000, 30000, 10000]);
    expect(init.cuts['rfm_segment.r']).toEqual([14, 30, 60, 120]);
    expect(computeCutPoints(rules, [], 'v', 0).cuts).toEqual(init.cuts);
  });
});

describe('computeCutPoints: rfm quintiles', () => {
  it('100 distinct recencies and revenues: 20 customers per R score and per M score', () => {
    const pop: Metrics[] = Array.from({ length: 100 }, (_, i) => ({
      orders_lifetime: 1 + (i % 7),
      recency_days: i * 3,
      revenue_lifetime: 1000 + ((i * 37) % 100) * 10,
      revenue_365d: 0,
    }));
    const cp = computeCutPoints(rules, pop, 'q', 0);
    const rScores: number[] = [];
    const mScores: number[] = [];
    for (const m of pop) {
      const tr = evaluateTiers({
        rules,
        cutPoints: cp,
        customerId: 'c',
        metrics: m,
        previous: null,
        day: 0,
        at: 0,
      }).transitions;
      const t = tr.find((x) => x.dimension === 'rfm_segment')!;
      rScores.push(t.metrics.r_score!);
      mScores.push(t.metrics.m_score!);
    }
    for (const s of [1, 2, 3, 4, 5]) {
      expect(rScores.filter((x) => x === s)).toHaveLength(20);
      expect(mScores.filter((x) => x === s)).toHaveLength(20);
    }
    // lower recency is better: the 20 most recent customers (recency 0..57) score 5
    pop.forEach((m, i) => {
      if (m.recency_days! <= 57) expect(rScores[i]).toBe(5);
      if (m.recency_days! >= 240) expect(rScores[i]).toBe(1);
    });
    // F uses fixed bands (quintiles: false), not the population
    expect(cp.cuts['rfm_segment.f']).toEqual([10, 6, 3, 2]);
  });

  it('maps R/F/M high-low combinations to the 8 segments', () => {
    const cp = initialCutPoints(rules); // bands: R <=60 is high, F >= 3 orders is high, M >= 30000 is high
    const seg = (recency: number, orders: number, revenue: number) =>
      evaluateTiers({
        rules,
        cutPoints: cp,
        customerId: 'c',
        metrics: { recency_days: recency, orders_lifetime: orders, revenue_lifetime: revenue, revenue_365d: 0 },
        previous: null,
        day: 0,
        at: 0,
      }).state.tiers.rfm_segment;
    expect(seg(10, 5, 50000)).toBe('CHAMPION');
    expect(seg(200, 5, 50000)).toBe('LOYAL_AT_RISK');
    expect(seg(10, 1, 50000)).toBe('POTENTIAL');
    expect(seg(200, 1, 50000)).toBe('BIG_SPENDER_LOST');
    expect(seg(10, 5, 500)).toBe('PROMISING');
    expect(seg(200, 5, 500)).toBe('NEEDS_ATTENTION');
    expect(seg(10, 1, 500)).toBe('NEW_LOW_VALUE');
    expect(seg(200, 1, 500)).toBe('LOST');
    expect(seg(0, 0, 0)).toBe('NO_PURCHASE');
  });
});

describe('anchored recency cuts (design-decisions §14)', () => {
  const DAY = 86_400_000;
  // Five customers whose last orders were 1, 5, 10, 20 and 40 days before day 100 (recency_days on day 100).
  const recencies = [1, 5, 10, 20, 40];
  const at = (recency: number): Metrics => ({
    revenue_365d: 10_000,
    orders_lifetime: 1,
    recency_days: recency,
    revenue_lifetime: 10_000,
  });
  const cp = computeCutPoints(rules, recencies.map(at), 'cp-100', 101 * DAY - 1);
  const rScore = (recency: number, day: number) =>
    evaluateTiers({ rules, cutPoints: cp, customerId: 'c', metrics: at(recency), previous: null, day, at: 0 }).state
      .tiers.rfm_segment;

  it('are computed from the population and anchored to the day it was measured on', () => {
    expect(cp.cuts['rfm_segment.r']).toEqual([1, 5, 10, 20]);
    expect(cp.anchored).toEqual({ 'rfm_segment.r': 100 });
  });

  it('a customer who does not buy keeps its R group as days pass; a fixed cut would slide it to R low', () => {
    fc.assert(
      fc.property(fc.constantFrom(...recencies), fc.integer({ min: 0, max: 400 }), (r, later) => {
        expect(rScore(r + later, 100 + later)).toBe(rScore(r, 100));
      }),
    );
    // The customer 10 days out is R high (score 3) on day 100; with the cut fixed at 10 days it would be R low on
    // day 101 without having changed anything.
    const fixed = { ...cp, anchored: undefined };
    const seg = (c: typeof cp, recency: number, day: number) =>
      evaluateTiers({ rules, cutPoints: c, customerId: 'c', metrics: at(recency), previous: null, day, at: 0 }).state
        .tiers.rfm_segment;
    expect(seg(cp, 11, 101)).toBe(seg(cp, 10, 100));
    expect(seg(fixed, 11, 101)).not.toBe(seg(fixed, 10, 100));
  });
});
