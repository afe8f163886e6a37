import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type CutPoints,
  computeCutPoints,
  cutPointsForRules,
  cutPointsInForce,
  DEFAULT_CUTPOINT_SCHEDULE,
  evaluateTiers,
  inForceFrom,
  initialCutPoints,
  isCutPointDay,
  type Metrics,
  parseRules,
  type Rules,
  sortCutPoints,
} from '../src/index';
import { DAY_MS, loadRules } from './helpers';

// Cut points for a rules change (rules-change.ts, design-decisions §20).

const TEXT = readFileSync(
  path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../rules/default.yaml'),
  'utf8',
);
const rules = loadRules('rules/default.yaml');
/** PLATINUM 0.2 → 0.1 and GOLD 0.3 → 0.4 (the shares still sum to 1): only the top boundary moves. */
const topTenth: Rules = parseRules(
  TEXT.replace('version: "2026-11.1"', 'version: "top-tenth"')
    .replace('- { tier: PLATINUM, share: 0.2 }', '- { tier: PLATINUM, share: 0.1 }')
    .replace('- { tier: GOLD, share: 0.3 }', '- { tier: GOLD, share: 0.4 }'),
  'top-tenth.yaml',
);
const TIERS = ['PLATINUM', 'GOLD', 'SILVER', 'BRONZE'];

const customer = (revenue: number, recency = 3, orders = 1): Metrics => ({
  revenue_365d: revenue,
  revenue_lifetime: revenue,
  orders_lifetime: orders,
  recency_days: recency,
});
/** Revenues with ties (small range) and zero revenues (ineligible), as a population with varied recency. */
const population = fc
  .array(fc.tuple(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 400 })), { minLength: 0, maxLength: 80 })
  .map((rows) => rows.map(([r, rec]) => customer(r * 500, rec, 1 + (rec % 4))));
const DAY = Math.floor(Date.parse('2024-06-30T00:00:00Z') / DAY_MS);

describe('cutPointsForRules', () => {
  it('the cuts are those a scheduled recompute of the new rules gives on the same population', () => {
    fc.assert(
      fc.property(population, fc.boolean(), (pop, live) => {
        const cp = cutPointsForRules(topTenth, pop, { measuredDay: DAY, fromDay: live ? DAY + 1 : DAY, seq: 3 });
        const scheduled = computeCutPoints(topTenth, pop, 'cp-x', (DAY + 1) * DAY_MS - 1);
        expect(cp.cuts).toEqual(scheduled.cuts);
        expect(cp.anchored).toEqual(scheduled.anchored);
        expect(cp.population).toBe(pop.length);
        expect(cp).toMatchObject({
          version: 'cp-2024-06-30+r3',
          from_day: live ? DAY + 1 : DAY,
          rules_version: 'top-tenth',
          rules_seq: 3,
        });
      }),
    );
  });

  it('the new shares hold at once: groups 0..k never exceed round(C_k × N) under the new cuts', () => {
    fc.assert(
      fc.property(population, (pop) => {
        const cp = cutPointsForRules(topTenth, pop, { measuredDay: DAY, fromDay: DAY, seq: 1 });
        const eligible = pop.filter((m) => (m.revenue_365d ?? 0) > 0);
        const counts = TIERS.map(() => 0);
        for (const m of eligible) {
          const t = evaluateTiers({
            rules: topTenth,
            cutPoints: cp,
            customerId: 'c',
            metrics: m,
            previous: null,
            day: DAY,
            at: 0,
          });
          counts[TIERS.indexOf(t.state.tiers.value_tier!)]!++;
        }
        const n = eligible.length;
        let cumulative = 0;
        [0.1, 0.5, 0.8].forEach((c, k) => {
          cumulative += counts[k]!;
          expect(cumulative).toBeLessThanOrEqual(Math.floor(c * n + 0.5 + 1e-9));
        });
      }),
    );
  });

  it('does not depend on the order the population was read in', () => {
    fc.assert(
      fc.property(
        population.chain((pop) => fc.tuple(fc.constant(pop), fc.shuffledSubarray(pop, { minLength: pop.length }))),
        ([pop, shuffled]) => {
          const a = cutPointsForRules(topTenth, pop, { measuredDay: DAY, fromDay: DAY, seq: 2 });
          const b = cutPointsForRules(topTenth, shuffled, { measuredDay: DAY, fromDay: DAY, seq: 2 });
          expect(b).toEqual(a);
        },
      ),
    );
  });

  it('a PLATINUM share of 0.1: of 20 distinct revenues the top 2 are PLATINUM (the scheduled cuts had 4)', () => {
    const pop = Array.from({ length: 20 }, (_, i) => customer((i + 1) * 1000));
    const before = computeCutPoints(rules, pop, 'cp-2024-06-30', (DAY + 1) * DAY_MS - 1);
    expect(before.cuts.value_tier).toEqual([17000, 11000, 5000]);
    const cp = cutPointsForRules(topTenth, pop, { measuredDay: DAY, fromDay: DAY, seq: 1, inForce: before });
    expect(cp.cuts.value_tier).toEqual([19000, 11000, 5000]);
  });

  it('keeps the recompute schedule: after a same-day scheduled recompute the sizes it compares are unchanged', () => {
    fc.assert(
      fc.property(population, population, fc.integer({ min: 1, max: 20 }), (earlier, pop, gap) => {
        const first = computeCutPoints(rules, earlier, 'cp-a', (DAY - gap + 1) * DAY_MS - 1);
        const scheduled = computeCutPoints(rules, pop, 'cp-b', (DAY + 1) * DAY_MS - 1, first);
        const change = cutPointsForRules(topTenth, pop, {
          measuredDay: DAY,
          fromDay: DAY + 1,
          seq: 1,
          inForce: scheduled,
        });
        expect(change.previous).toEqual(scheduled.previous);
        for (let d = DAY + 1; d < DAY + 15; d++) {
          expect(isCutPointDay(DEFAULT_CUTPOINT_SCHEDULE, change, d)).toBe(
            isCutPointDay(DEFAULT_CUTPOINT_SCHEDULE, scheduled, d),
          );
        }
        // Measured after the version in force: compared with it, as a scheduled recompute on that day would be.
        const later = cutPointsForRules(topTenth, pop, { measuredDay: DAY, fromDay: DAY, seq: 1, inForce: first });
        expect(later.previous).toEqual(scheduled.previous);
      }),
    );
  });

  it('with the rules in force: dimensions whose scoring is unchanged keep the cuts in force, the others are recomputed', () => {
    /** Only lifecycle changes: value_tier and rfm_segment score as before. */
    const lifecycleOnly = parseRules(
      TEXT.replace('version: "2026-11.1"', 'version: "lifecycle-only"').replace(
        /value: \[91, 180\]/,
        'value: [46, 180]',
      ),
      'lifecycle-only.yaml',
    );
    fc.assert(
      fc.property(population, population, (earlier, pop) => {
        const inForce = computeCutPoints(rules, earlier, 'cp-a', DAY * DAY_MS - 1);
        const same = cutPointsForRules(lifecycleOnly, pop, {
          measuredDay: DAY,
          fromDay: DAY,
          seq: 4,
          inForce,
          previousRules: rules,
        });
        expect(same.cuts).toEqual(inForce.cuts);
        expect(same.anchored).toEqual(inForce.anchored);
        const shares = cutPointsForRules(topTenth, pop, {
          measuredDay: DAY,
          fromDay: DAY,
          seq: 4,
          inForce,
          previousRules: rules,
        });
        const recomputed = computeCutPoints(topTenth, pop, 'cp-x', (DAY + 1) * DAY_MS - 1);
        expect(shares.cuts.value_tier).toEqual(recomputed.cuts.value_tier);
        for (const k of ['r', 'f', 'm'])
          expect(shares.cuts[`rfm_segment.${k}`]).toEqual(inForce.cuts[`rfm_segment.${k}`]);
        expect(shares.anchored?.['rfm_segment.r']).toBe(inForce.anchored?.['rfm_segment.r']);
      }),
    );
  });

  it('refuses a first day other than the measured day or the next', () => {
    expect(() => cutPointsForRules(topTenth, [], { measuredDay: DAY, fromDay: DAY + 2, seq: 1 })).toThrow(RangeError);
  });
});

describe('cutPointsInForce', () => {
  const scheduled = (day: number): CutPoints => ({
    version: `cp-${day}`,
    computed_at: (day + 1) * DAY_MS - 1,
    cuts: {},
  });
  const change = (day: number, from: number, seq: number): CutPoints =>
    cutPointsForRules(topTenth, [], { measuredDay: day, fromDay: from, seq });

  it('a rules change supersedes every version measured on or before its day, from its first day on', () => {
    const history = sortCutPoints([change(DAY, DAY, 1), scheduled(DAY), scheduled(DAY - 7), initialCutPoints(rules)]);
    expect(history.map((c) => c.version)).toEqual(['initial', `cp-${DAY - 7}`, `cp-${DAY}`, 'cp-2024-06-30+r1']);
    expect(cutPointsInForce(history, DAY - 8).version).toBe('initial');
    expect(cutPointsInForce(history, DAY - 1).version).toBe(`cp-${DAY - 7}`);
    expect(cutPointsInForce(history, DAY).version).toBe('cp-2024-06-30+r1');
    expect(cutPointsInForce(history, DAY + 1).version).toBe('cp-2024-06-30+r1');
    expect(cutPointsInForce([...history, scheduled(DAY + 7)], DAY + 8).version).toBe(`cp-${DAY + 7}`);
  });

  it('is the last version in force by then, in measured order (brute force over random histories)', () => {
    const version = fc.oneof(
      fc.integer({ min: 0, max: 30 }).map((d) => scheduled(DAY + d)),
      fc
        .tuple(fc.integer({ min: 0, max: 30 }), fc.boolean(), fc.integer({ min: 1, max: 9 }))
        .map(([d, live, seq]) => change(DAY + d, live ? DAY + d + 1 : DAY + d, seq)),
    );
    fc.assert(
      fc.property(fc.array(version, { maxLength: 12 }), fc.integer({ min: -2, max: 34 }), (versions, offset) => {
        const unique = [...new Map(versions.map((v) => [v.version, v])).values()];
        const sorted = sortCutPoints([initialCutPoints(rules), ...unique]);
        const day = DAY + offset;
        const expected = sorted.filter((c) => inForceFrom(c) <= day).at(-1);
        expect(cutPointsInForce(sorted, day)).toBe(expected);
      }),
    );
  });
});
