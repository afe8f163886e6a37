import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type CutPointSchedule,
  type CutPoints,
  computeCutPoints,
  DEFAULT_CUTPOINT_SCHEDULE,
  initialCutPoints,
  isCutPointDay,
  type Metrics,
  nextCutPointDay,
} from '../src/index';
import { DAY_MS, loadRules } from './helpers';

const rules = loadRules('rules/default.yaml');
const S: CutPointSchedule = { everyDays: 7, youngBelow: 100, earlyChange: 0.1 };
const people = (n: number): Metrics[] =>
  Array.from({ length: n }, (_, i) => ({ revenue_365d: 1000 + i, revenue_lifetime: 1000 + i, recency_days: i % 30 }));
/** Cut points measured at the close of `day` from n customers, replacing `previous`. */
const measured = (n: number, day: number, previous?: CutPoints) =>
  computeCutPoints(rules, people(n), `cp-${day}`, (day + 1) * DAY_MS - 1, previous);

describe('cut-point schedule', () => {
  const regular = 20_006; // 20006 % 7 == 0
  it('regular days are every N-th day; 0 = never, early or not', () => {
    expect(regular % 7).toBe(0);
    const settled = measured(500, regular - 7, measured(500, regular - 14));
    for (let d = regular - 6; d <= regular + 7; d++) expect(isCutPointDay(S, settled, d)).toBe(d % 7 === 0);
    expect(isCutPointDay({ ...S, everyDays: 0 }, initialCutPoints(rules), regular)).toBe(false);
    expect(nextCutPointDay({ ...S, everyDays: 0 }, settled, regular)).toBeNull();
  });

  it('young: every day until a recompute measured youngBelow customers (initial cut points count as young)', () => {
    expect(isCutPointDay(S, initialCutPoints(rules), regular + 1)).toBe(true);
    expect(isCutPointDay({ ...S, youngBelow: 0 }, initialCutPoints(rules), regular + 1)).toBe(false);
    expect(isCutPointDay(S, measured(99, regular), regular + 1)).toBe(true);
    // 100 customers: not young; the first measurement has nothing to compare with, so the next day still recomputes
    const first = measured(100, regular);
    expect(first.population).toBe(100);
    expect(first.previous).toBeUndefined();
    expect(isCutPointDay(S, first, regular + 1)).toBe(true);
    expect(isCutPointDay({ ...S, earlyChange: 0 }, first, regular + 1)).toBe(false);
  });

  it('changing: every day while the size changes faster than earlyChange per everyDays days', () => {
    const base = measured(1000, regular);
    // +15 in one day is 105 per week (10.5 % > 10 %): early
    expect(isCutPointDay(S, measured(1015, regular + 1, base), regular + 2)).toBe(true);
    expect(measured(1015, regular + 1, base).previous).toEqual({ population: 1000, day: regular });
    // +14 in one day is exactly 10 % a week: not more than the fraction
    expect(isCutPointDay(S, measured(1014, regular + 1, base), regular + 2)).toBe(false);
    // +80 over a week (8 %): regular schedule
    expect(isCutPointDay(S, measured(1080, regular + 7, base), regular + 8)).toBe(false);
    expect(nextCutPointDay(S, measured(1080, regular + 7, base), regular + 7)).toBe(regular + 14);
  });

  it('nextCutPointDay is the first later day isCutPointDay says yes to', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 3000 }),
        fc.integer({ min: 0, max: 3000 }),
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 1, max: 10 }),
        fc.integer({ min: 0, max: 200 }),
        fc.integer({ min: 0, max: 30 }).map((x) => x / 100),
        (n0, n1, gap, every, young, change) => {
          const s: CutPointSchedule = { everyDays: every, youngBelow: young, earlyChange: change };
          const cp = measured(n1, regular + gap, measured(n0, regular));
          const after = regular + gap;
          const next = nextCutPointDay(s, cp, after)!;
          expect(next).toBeGreaterThan(after);
          expect(isCutPointDay(s, cp, next)).toBe(true);
          for (let d = after + 1; d < next; d++) expect(isCutPointDay(s, cp, d)).toBe(false);
        },
      ),
    );
  });

  it('the defaults: weekly, daily below 1,000 customers or above 10 % change a week', () => {
    expect(DEFAULT_CUTPOINT_SCHEDULE).toEqual({ everyDays: 7, youngBelow: 1000, earlyChange: 0.1 });
  });
});
