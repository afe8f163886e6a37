import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type CutPoints,
  cutMetricNames,
  entryMetricsAt,
  movedBoundaries,
  populationCacheSupported,
  populationEntry,
  recheckDay,
  scoreDimension,
} from '../src/index';
import { type Journey, journeyEventDays, journeyMetrics, journeyRollOffDays, loadRules } from './helpers';

const rules = loadRules('rules/default.yaml');
const names = cutMetricNames(rules);

const journey = fc
  .array(fc.record({ day: fc.integer({ min: 0, max: 500 }), amount: fc.integer({ min: 1, max: 400_000 }) }), {
    minLength: 1,
    maxLength: 8,
  })
  .map((orders): Journey => ({ orders, web: [], tickets: [] }));

/** The entry of an evaluation on `day`, built the way the engine builds it (roll-offs up to the next event). */
function entryOf(j: Journey, day: number, due: number | null, version = 'old') {
  const until = journeyEventDays(j, day)[0] ?? null;
  return populationEntry({
    names,
    day,
    cutPointsVersion: version,
    dueDay: due,
    until,
    pathDays: [day, ...journeyRollOffDays(j, day)],
    metricsAtDay: (d) => journeyMetrics(j, d),
  });
}

const descending = (n: number, max: number) =>
  fc.array(fc.integer({ min: 0, max }), { minLength: n, maxLength: n }).map((xs) => xs.sort((a, b) => b - a));
const ascending = (n: number, max: number) =>
  fc.array(fc.integer({ min: 0, max }), { minLength: n, maxLength: n }).map((xs) => xs.sort((a, b) => a - b));
/** Cut points of the default rules' value tier and RFM R and M; recency anchored to day `a` unless it is undefined. */
function cutPointsOf(c: { v: number[]; r: number[]; m: number[]; a: number | undefined }): CutPoints {
  return {
    version: 'x',
    computed_at: 0,
    cuts: { value_tier: c.v, 'rfm_segment.r': c.r, 'rfm_segment.m': c.m },
    ...(c.a === undefined ? {} : { anchored: { 'rfm_segment.r': c.a } }),
  };
}

/** Recency cuts fixed (bands, older versions) or anchored to a day: both, and a change from one to the other. */
const anchor = fc.option(fc.integer({ min: 0, max: 600 }), { nil: undefined });
const cutPoints = fc
  .record({ v: descending(3, 800_000), r: ascending(4, 400), m: descending(4, 2_000_000), a: anchor })
  .map(cutPointsOf);

const CUT_DIMENSIONS = rules.dimensions.filter((d) => d.scoring.kind === 'shares' || d.scoring.kind === 'rfm');

describe('population cache entries', () => {
  it('the default rules rank on revenue_365d, recency_days and revenue_lifetime (cacheable)', () => {
    expect(names).toEqual(['orders_lifetime', 'recency_days', 'revenue_365d', 'revenue_lifetime']);
    expect(populationCacheSupported(names)).toBe(true);
    expect(populationCacheSupported(['engagement_score'])).toBe(false);
  });

  it('give the exact metrics on every day from the evaluation up to the next event', () => {
    fc.assert(
      fc.property(journey, fc.integer({ min: 0, max: 500 }), (j, day) => {
        const entry = entryOf(j, day, null);
        const end = entry.u ?? day + 420;
        for (let d = day; d < end; d++) {
          const m = entryMetricsAt(entry, names, d);
          const want = journeyMetrics(j, d);
          expect(m).toEqual(Object.fromEntries(names.map((n) => [n, want[n] ?? null])));
        }
        if (entry.u !== null) expect(entryMetricsAt(entry, names, entry.u)).toBeNull();
        expect(entryMetricsAt(entry, names, day - 1)).toBeNull();
      }),
      { numRuns: 300 },
    );
  });

  it('keep a step only where a piecewise-constant value changes', () => {
    const j: Journey = { orders: [{ day: 10, amount: 500 }], web: [], tickets: [] };
    const entry = entryOf(j, 10, null);
    // revenue_365d drops on day 375; the 30/90/180 roll-offs change no cut metric.
    expect(entry.p.map((s) => s[0])).toEqual([10, 375]);
    expect(entry.u).toBeNull();
  });
});

describe('cut-point recheck', () => {
  it('before the recheck day (or in the whole window without one) the old and the new cuts give the same share and RFM tiers', () => {
    fc.assert(
      fc.property(
        journey,
        fc.integer({ min: 0, max: 500 }),
        fc.integer({ min: 0, max: 60 }),
        fc.integer({ min: 1, max: 14 }),
        cutPoints,
        cutPoints,
        (j, day, offset, length, before, after) => {
          const entry = entryOf(j, day, null);
          const from = day + offset;
          const to = from + length - 1;
          const at = recheckDay(entry, names, movedBoundaries(rules, before, after), from, to);
          if (at !== null) expect(at).toBeGreaterThanOrEqual(from);
          const last = Math.min(at === null ? to : at - 1, (entry.u ?? Number.POSITIVE_INFINITY) - 1);
          for (let d = from; d <= last; d++) {
            const m = journeyMetrics(j, d);
            for (const dim of CUT_DIMENSIONS) {
              expect(scoreDimension(dim, after, m, null, {}, d).tier).toBe(
                scoreDimension(dim, before, m, null, {}, d).tier,
              );
            }
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('the same with many ties: order amounts, cuts and recency cuts from a few values', () => {
    const few = (values: number[], n: number, order: 'asc' | 'desc') =>
      fc
        .array(fc.constantFrom(...values), { minLength: n, maxLength: n })
        .map((xs) => xs.sort((a, b) => (order === 'asc' ? a - b : b - a)));
    const amounts = [50_000, 100_000, 150_000, 200_000];
    const sums = [50_000, 100_000, 150_000, 200_000, 250_000, 300_000, 400_000];
    const tied = fc
      .record({
        v: few(sums, 3, 'desc'),
        r: few([28, 30, 32, 35, 40], 4, 'asc'),
        m: few(sums, 4, 'desc'),
        a: fc.option(fc.constantFrom(0, 5, 30, 60), { nil: undefined }),
      })
      .map(cutPointsOf);
    const orders = fc
      .array(fc.record({ day: fc.integer({ min: 0, max: 60 }), amount: fc.constantFrom(...amounts) }), {
        minLength: 1,
        maxLength: 4,
      })
      .map((o): Journey => ({ orders: o, web: [], tickets: [] }));
    fc.assert(
      fc.property(
        orders,
        fc.integer({ min: 0, max: 60 }),
        fc.integer({ min: 0, max: 30 }),
        tied,
        tied,
        (j, day, offset, before, after) => {
          const entry = entryOf(j, day, null);
          const from = day + offset;
          const to = from + 13;
          const moved = movedBoundaries(rules, before, after);
          const at = recheckDay(entry, names, moved, from, to);
          const last = Math.min(at === null ? to : at - 1, (entry.u ?? Number.POSITIVE_INFINITY) - 1);
          for (let d = from; d <= last; d++) {
            const m = journeyMetrics(j, d);
            for (const dim of CUT_DIMENSIONS) {
              expect(scoreDimension(dim, after, m, null, {}, d).tier).toBe(
                scoreDimension(dim, before, m, null, {}, d).tier,
              );
            }
          }
          // The recheck day itself is one on which some share or RFM tier does differ (a change between fixed and
          // anchored cuts is conservative: it rechecks every value).
          if (at !== null && at <= to && (entry.u === null || at < entry.u) && !moved.some((b) => b.mixed)) {
            const m = journeyMetrics(j, at);
            expect(
              CUT_DIMENSIONS.some(
                (dim) =>
                  scoreDimension(dim, after, m, null, {}, at).tier !==
                  scoreDimension(dim, before, m, null, {}, at).tier,
              ),
            ).toBe(true);
          }
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('selects a customer whose value lies between an old and a new cut, and not one far from every cut', () => {
    const before: CutPoints = {
      version: 'a',
      computed_at: 0,
      cuts: { value_tier: [100_000, 50_000, 10_000], 'rfm_segment.r': [10, 20, 30, 40], 'rfm_segment.m': [9, 8, 7, 6] },
    };
    const after: CutPoints = {
      ...before,
      version: 'b',
      cuts: { ...before.cuts, value_tier: [120_000, 50_000, 10_000] },
    };
    const moved = movedBoundaries(rules, before, after);
    expect(moved).toEqual([{ metric: 'revenue_365d', lo: 100_000, hi: 120_000, better: 'higher', anchor: null }]);
    const between = entryOf({ orders: [{ day: 0, amount: 110_000 }], web: [], tickets: [] }, 0, null);
    const far = entryOf({ orders: [{ day: 0, amount: 300_000 }], web: [], tickets: [] }, 0, null);
    expect(recheckDay(between, names, moved, 1, 7)).toBe(1);
    expect(recheckDay(far, names, moved, 1, 7)).toBeNull();
    // A value equal to a cut is in the better group: at the old cut (higher is better) nothing changes.
    const atOldCut = entryOf({ orders: [{ day: 0, amount: 120_000 }], web: [], tickets: [] }, 0, null);
    expect(recheckDay(atOldCut, names, moved, 1, 7)).toBeNull();
    // Recency grows by one a day: rechecked on the first day it is past the lower cut (lower is better).
    const recency: CutPoints = { ...before, version: 'd', cuts: { ...before.cuts, 'rfm_segment.r': [10, 20, 25, 40] } };
    const quiet = entryOf({ orders: [{ day: 0, amount: 50_000 }], web: [], tickets: [] }, 0, null);
    expect(movedBoundaries(rules, before, recency)).toEqual([
      { metric: 'recency_days', lo: 25, hi: 30, better: 'lower', anchor: null },
    ]);
    expect(recheckDay(quiet, names, movedBoundaries(rules, before, recency), 20, 27)).toBe(26);
    expect(recheckDay(quiet, names, movedBoundaries(rules, before, recency), 20, 25)).toBeNull();
    // RFM: only the cut at high_from (score 3, index 2) decides H/L: moving the score-5 cut changes no segment.
    const r5: CutPoints = { ...before, version: 'c', cuts: { ...before.cuts, 'rfm_segment.r': [5, 20, 30, 40] } };
    expect(movedBoundaries(rules, before, r5)).toEqual([]);
  });

  it('anchored recency cuts: a quiet customer never drifts into a moved range; only a moved last-order day rechecks', () => {
    const at = (day: number, r: number[]): CutPoints => ({
      version: `cp-${day}`,
      computed_at: 0,
      cuts: { value_tier: [100_000, 50_000, 10_000], 'rfm_segment.r': r, 'rfm_segment.m': [9, 8, 7, 6] },
      anchored: { 'rfm_segment.r': day },
    });
    // A week later the same population measures 7 days older: the same last-order-day cuts, nothing moved.
    expect(movedBoundaries(rules, at(100, [10, 20, 30, 40]), at(107, [17, 27, 37, 47]))).toEqual([]);
    // The H/L cut (index 2) as a last-order day moved from day 70 to day 72 (37 days before day 107 → 35).
    const moved = movedBoundaries(rules, at(100, [10, 20, 30, 40]), at(107, [17, 27, 35, 47]));
    expect(moved).toEqual([{ metric: 'recency_days', lo: 35, hi: 37, better: 'lower', anchor: 107 }]);
    const lastOrder = (day: number) => entryOf({ orders: [{ day, amount: 50_000 }], web: [], tickets: [] }, day, null);
    // Last order on day 71: recency 36 on day 107, between the cuts there and on every later day.
    expect(recheckDay(lastOrder(71), names, moved, 108, 114)).toBe(108);
    // Last orders on days 69 and 73: outside on every day (a fixed cut would have caught 73 a few days later).
    expect(recheckDay(lastOrder(69), names, moved, 108, 200)).toBeNull();
    expect(recheckDay(lastOrder(73), names, moved, 108, 200)).toBeNull();
    // Fallback bands replaced by anchored cuts: every customer with a recency is suspect.
    const bands: CutPoints = { ...at(0, [14, 30, 60, 120]), version: 'initial', anchored: undefined };
    expect(movedBoundaries(rules, bands, at(107, [17, 27, 37, 47]))[0]).toMatchObject({ mixed: true });
    expect(recheckDay(lastOrder(0), names, movedBoundaries(rules, bands, at(107, [17, 27, 37, 47])), 108, 114)).toBe(
      108,
    );
  });
});
