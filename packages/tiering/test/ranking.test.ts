import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  computeCutPoints,
  cutsFromShares,
  DEFAULT_CUTPOINT_SCHEDULE,
  evaluateTiers,
  groupIndex,
  type Metrics,
  parseRules,
  type Rules,
} from '../src/index';
import { DAY_MS, type Journey, journeyMetrics, loadRules, runPopulation } from './helpers';

// Issue 14, case 5: ties in population ranking (rules/README.md "Quantile rule", design-decisions §16).

const rules = loadRules('rules/default.yaml');
/** The default rules with the old tie rule (`ties: better_group`) on both population dimensions. */
const betterGroupRules: Rules = parseRules(
  readFileSync(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../rules/default.yaml'), 'utf8')
    .replace('fallback_cuts: [100000, 30000, 10000]', 'fallback_cuts: [100000, 30000, 10000]\n      ties: better_group')
    .replace('ineligible_tier: NO_PURCHASE', 'ineligible_tier: NO_PURCHASE\n      ties: better_group'),
  'rules/default.yaml (ties: better_group)',
);

const day = (iso: string) => Math.floor(Date.parse(`${iso}T00:00:00Z`) / DAY_MS);
const JUNE_30 = day('2024-06-30');
const orders = (...list: Array<[string, number]>): Journey => ({
  orders: list.map(([d, amount]) => ({ day: day(d), amount })),
  web: [],
  tickets: [],
});
const ids = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i + 1}`);

/** The tiers without hysteresis (what the ranking says) of each customer, from cut points of `population`. */
function ranked(r: Rules, population: Map<string, Metrics>, measuredDay: number): Map<string, Record<string, string>> {
  const cp = computeCutPoints(r, [...population.values()], 'cp', (measuredDay + 1) * DAY_MS - 1);
  const out = new Map<string, Record<string, string>>();
  for (const [id, metrics] of population) {
    const state = evaluateTiers({
      rules: r,
      cutPoints: cp,
      customerId: id,
      metrics,
      previous: null,
      day: measuredDay,
      at: 0,
    }).state;
    out.set(id, state.tiers);
  }
  return out;
}

describe('issue 14 case 5: sixteen customers, thirteen tied one-time minimum spenders', () => {
  // C1…C13: one order of 1000 on 06-10; C14…C16: five orders of 1000 (06-01, 05, 10, 15, 20).
  const journeys = new Map<string, Journey>();
  for (const id of ids('C', 13)) journeys.set(id, orders(['2024-06-10', 1000]));
  for (const id of ['C14', 'C15', 'C16']) {
    journeys.set(
      id,
      orders(
        ['2024-06-01', 1000],
        ['2024-06-05', 1000],
        ['2024-06-10', 1000],
        ['2024-06-15', 1000],
        ['2024-06-20', 1000],
      ),
    );
  }
  const run = runPopulation(rules, journeys, JUNE_30, DEFAULT_CUTPOINT_SCHEDULE);
  const on30 = run.states.get(JUNE_30)!;

  it('as of 06-30: C1…C13 BRONZE and LOST (never "high M"), C14…C16 PLATINUM and CHAMPION', () => {
    for (const id of ids('C', 13)) {
      expect(on30.get(id)!.tiers.value_tier, id).toBe('BRONZE');
      expect(on30.get(id)!.tiers.rfm_segment, id).toBe('LOST');
      expect(on30.get(id)!.pending, id).toEqual({});
    }
    for (const id of ['C14', 'C15', 'C16']) {
      expect(on30.get(id)!.tiers.value_tier, id).toBe('PLATINUM');
      expect(on30.get(id)!.tiers.rfm_segment, id).toBe('CHAMPION');
    }
  });

  it('the cut points of 06-29: the tied 1000s fall below every cut (no tier over its share)', () => {
    const cp = run.cutPoints.get(JUNE_30)!;
    expect(cp.version).toBe(`cp-${JUNE_30 - 1}`); // recomputed daily: the population is young
    expect(cp.population).toBe(16);
    expect(cp.cuts.value_tier).toEqual([5000, 5000, 5000]);
    expect(cp.cuts['rfm_segment.m']).toEqual([5000, 5000, 5000, 5000]);
    // recency on 06-29: C14…C16 9 days, C1…C13 19 days
    expect(cp.cuts['rfm_segment.r']).toEqual([9, 9, 9, 9]);
    // The old rule (ties: better_group) puts the 13 tied customers into GOLD, M high (and R high) on 06-30.
    const population = new Map([...journeys].map(([id, j]) => [id, journeyMetrics(j, JUNE_30)]));
    const old = ranked(betterGroupRules, population, JUNE_30);
    expect(old.get('C1')).toMatchObject({ value_tier: 'GOLD', rfm_segment: 'POTENTIAL' });
    expect(ranked(rules, population, JUNE_30).get('C1')).toMatchObject({ value_tier: 'BRONZE', rfm_segment: 'LOST' });
  });
});

describe('issue 14 case 5: ten customers, a 20/30/30/20 pyramid with ties at the PLATINUM cut', () => {
  const list: Array<[string, string, number]> = [
    ['D1', '2024-06-29', 90000],
    ['D2', '2024-06-27', 50000],
    ['D3', '2024-06-27', 50000],
    ['D4', '2024-06-27', 50000],
    ['D5', '2024-06-27', 50000],
    ['D6', '2024-06-24', 30000],
    ['D7', '2024-06-23', 20000],
    ['D8', '2024-06-22', 20000],
    ['D9', '2024-06-21', 10000],
    ['D10', '2024-06-20', 5000],
  ];
  const journeys = new Map(list.map(([id, d, amount]) => [id, orders([d, amount])] as const));
  const expected: Record<string, string> = {
    D1: 'PLATINUM', // round(0.2 × 10) = 2, but the 2nd and 3rd best are tied: only the best fits
    D2: 'GOLD',
    D3: 'GOLD',
    D4: 'GOLD',
    D5: 'GOLD', // 5 = round(0.5 × 10): the four 50000s and the 90000
    D6: 'SILVER',
    D7: 'SILVER',
    D8: 'SILVER', // 8 = round(0.8 × 10): the tie of 20000s ends at the 8th
    D9: 'BRONZE',
    D10: 'BRONZE',
  };

  it('ranking as of 06-30: 1 PLATINUM, 4 GOLD, 3 SILVER, 2 BRONZE', () => {
    const population = new Map([...journeys].map(([id, j]) => [id, journeyMetrics(j, JUNE_30)]));
    const tiers = ranked(rules, population, JUNE_30);
    expect(Object.fromEntries([...tiers].map(([id, t]) => [id, t.value_tier]))).toEqual(expected);
  });

  it('through the day-by-day run: the same tiers once the 14 grace days of earlier demotions have passed', () => {
    const end = JUNE_30 + 14;
    const run = runPopulation(rules, journeys, end, DEFAULT_CUTPOINT_SCHEDULE);
    const states = run.states.get(end)!;
    expect(Object.fromEntries([...states].map(([id, s]) => [id, s.tiers.value_tier]))).toEqual(expected);
    // On 06-30 itself the ranking is already that one (cut points of 06-29 include D1's order of 06-29): anyone
    // ranked lower than it was is pending, nobody is ranked higher than the pyramid says.
    const on30 = run.states.get(JUNE_30)!;
    const TIERS = ['PLATINUM', 'GOLD', 'SILVER', 'BRONZE'];
    for (const [id, s] of on30) {
      const shown = TIERS.indexOf(s.tiers.value_tier!);
      const right = TIERS.indexOf(expected[id]!);
      if (shown === right) expect(s.pending.value_tier, id).toBeUndefined();
      else expect(s.pending.value_tier?.tier, id).toBe(expected[id]);
    }
  });
});

// ------------------------------------------------------------------------------------------- properties

const SHARES = [0.2, 0.3, 0.3, 0.2];
const QUINTILES = [0.2, 0.2, 0.2, 0.2, 0.2];
/** Values drawn from a handful, so most of them are tied. */
const tiedValues = fc.array(
  fc.integer({ min: 1, max: 6 }).map((x) => x * 1000),
  { minLength: 1, maxLength: 120 },
);

/** Checks the never_exceed rule on one population: cumulative groups within their share, and as full as it allows. */
function checkNeverExceed(values: number[], shares: number[], better: 'higher' | 'lower') {
  const cuts = cutsFromShares(values, shares, better)!;
  const n = values.length;
  const group = values.map((v) => groupIndex(v, cuts, better));
  let cumulative = 0;
  for (let k = 0; k < shares.length - 1; k++) {
    cumulative = Math.round((cumulative + shares[k]!) * 1e9) / 1e9;
    const m = Math.floor(cumulative * n + 0.5 + 1e-9);
    const inside = values.filter((_, i) => group[i]! <= k);
    const outside = values.filter((_, i) => group[i]! > k);
    expect(inside.length).toBeLessThanOrEqual(m);
    if (outside.length > 0) {
      // the best value outside, with everyone tied with it, would not have fitted
      const best = better === 'higher' ? Math.max(...outside) : Math.min(...outside);
      expect(inside.length + values.filter((v) => v === best).length).toBeGreaterThan(m);
      // and nobody outside is as good as someone inside
      for (const v of inside) expect(better === 'higher' ? v > best : v < best).toBe(true);
    }
  }
  // identical values, identical groups
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) if (values[i] === values[j]) expect(group[i]).toBe(group[j]);
}

describe('ties: never_exceed (default)', () => {
  it('no group holds more than its share, cumulatively from the best, for populations with many ties', () => {
    fc.assert(
      fc.property(tiedValues, fc.constantFrom<'higher' | 'lower'>('higher', 'lower'), (values, better) => {
        checkNeverExceed(values, SHARES, better);
        checkNeverExceed(values, QUINTILES, better);
      }),
      { numRuns: 300 },
    );
  });

  it('better_group keeps the old rule: the tied group straddling a cut goes above it', () => {
    expect(cutsFromShares([5, 5, 5, 1], [0.5, 0.5], 'higher', 'better_group')).toEqual([5]);
    expect(cutsFromShares([5, 5, 5, 1], [0.5, 0.5], 'higher', 'never_exceed')).toEqual([Number.MAX_VALUE]);
    expect(cutsFromShares([9, 5, 5, 1], [0.5, 0.5], 'higher')).toEqual([9]);
    expect(cutsFromShares([0, 3, 3, 8], [0.5, 0.5], 'lower')).toEqual([0]);
  });

  it('permuting customer ids or the order the population arrives in changes no cut and no tier', () => {
    const customer = fc.record({
      revenue: fc.integer({ min: 0, max: 4 }).map((x) => x * 2500),
      recency: fc.integer({ min: 0, max: 3 }).map((x) => x * 10),
      orders: fc.integer({ min: 1, max: 4 }),
    });
    fc.assert(
      fc.property(fc.array(customer, { minLength: 1, maxLength: 60 }), fc.func(fc.integer()), (people, key) => {
        const metrics = people.map(
          (p): Metrics => ({
            revenue_365d: p.revenue,
            revenue_lifetime: p.revenue,
            recency_days: p.recency,
            orders_lifetime: p.orders,
          }),
        );
        const order = metrics.map((_, i) => i).sort((a, b) => key(a) - key(b) || a - b);
        const cp = computeCutPoints(rules, metrics, 'v', 0);
        expect(
          computeCutPoints(
            rules,
            order.map((i) => metrics[i]!),
            'v',
            0,
          ),
        ).toEqual(cp);
        const tiers = (m: Metrics, id: string) =>
          evaluateTiers({ rules, cutPoints: cp, customerId: id, metrics: m, previous: null, day: 0, at: 0 }).state
            .tiers;
        // identical inputs, identical tiers, whatever the ids
        metrics.forEach((m, i) => {
          const twin = metrics.findIndex((x) => JSON.stringify(x) === JSON.stringify(m));
          expect(tiers(m, `c${i}`)).toEqual(tiers(metrics[twin]!, `other-${key(i)}`));
        });
      }),
      { numRuns: 200 },
    );
  });

  it('day by day: renaming customers and reordering their arrival changes no tier; equal journeys stay equal', () => {
    const journey = fc
      .array(
        fc.record({
          day: fc.integer({ min: 0, max: 12 }),
          amount: fc.integer({ min: 1, max: 3 }).map((x) => x * 1000),
        }),
        { minLength: 1, maxLength: 3 },
      )
      .map((o): Journey => ({ orders: o, web: [], tickets: [] }));
    fc.assert(
      fc.property(
        fc.array(journey, { minLength: 1, maxLength: 10 }),
        fc.integer({ min: 1, max: 4 }),
        (list, copies) => {
          const base = 20_000;
          const shift = (j: Journey): Journey => ({ ...j, orders: j.orders.map((o) => ({ ...o, day: o.day + base })) });
          // every journey `copies` times: identical inputs
          const a = new Map<string, Journey>();
          list.forEach((j, i) => {
            for (let c = 0; c < copies; c++) a.set(`a-${i}-${c}`, shift(j));
          });
          // the same customers under other ids, inserted in reverse order
          const rename = (id: string) => `z${id.split('-').reverse().join('.')}`;
          const b = new Map([...a].reverse().map(([id, j]) => [rename(id), j] as const));
          const end = base + 20;
          const ra = runPopulation(rules, a, end, DEFAULT_CUTPOINT_SCHEDULE);
          const rb = runPopulation(rules, b, end, DEFAULT_CUTPOINT_SCHEDULE);
          for (let d = base; d <= end; d++) {
            const sa = ra.states.get(d);
            const sb = rb.states.get(d);
            if (!sa || !sb) continue;
            for (const [id, s] of sa) {
              expect(sb.get(rename(id))!.tiers).toEqual(s.tiers);
              expect(sb.get(rename(id))!.pending).toEqual(s.pending);
              const twin = sa.get(`${id.slice(0, id.lastIndexOf('-'))}-0`)!;
              expect(s.tiers).toEqual(twin.tiers);
            }
          }
        },
      ),
      { numRuns: 25 },
    );
  });
});

describe('rules format: ties', () => {
  it('defaults to never_exceed; better_group is accepted; anything else is rejected with the path', () => {
    const value = rules.dimensions.find((d) => d.id === 'value_tier')!.scoring;
    expect(value.kind === 'shares' && value.ties).toBe('never_exceed');
    const rfm = betterGroupRules.dimensions.find((d) => d.id === 'rfm_segment')!.scoring;
    expect(rfm.kind === 'rfm' && rfm.ties).toBe('better_group');
    expect(() =>
      parseRules(
        `
version: "t1"
dimensions:
  - id: v
    tiers: [TOP, REST]
    scoring:
      kind: shares
      metric: revenue_365d
      tiers: [{ tier: TOP, share: 0.5 }, { tier: REST, share: 0.5 }]
      ineligible_tier: REST
      fallback_cuts: [1]
      ties: lower_group
`,
        't1.yaml',
      ),
    ).toThrow('t1.yaml: dimensions[0].scoring.ties: expected never_exceed or better_group');
  });
});
