/**
 * Sufficient statistics of BG/NBD (x, t_x, T; Fader, Hardie & Lee 2005) and Gamma-Gamma (zbar; Fader & Hardie 2013)
 * from purchase days: properties against a direct computation from the event list.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { dayNumber, mergePurchaseDays, purchaseDaysBetween, sufficientStats } from '../src';

const purchase = fc.record({
  day: fc.integer({ min: 0, max: 400 }),
  amountMinor: fc.integer({ min: 0, max: 100_000 }),
});

/** The direct computation: the definition, event by event, no merging step shared with the code under test. */
function direct(events: { day: number; amountMinor: number }[], asOf: number, unit: number) {
  const kept = events.filter((e) => e.day <= asOf);
  if (kept.length === 0) return null;
  const days = [...new Set(kept.map((e) => e.day))].sort((a, b) => a - b);
  const first = days[0]!;
  const last = days[days.length - 1]!;
  const repeatSpend = kept.filter((e) => e.day !== first).reduce((s, e) => s + e.amountMinor, 0);
  const x = days.length - 1;
  return {
    x,
    tx: (last - first) / unit,
    T: (asOf - first) / unit,
    zbar: x > 0 ? repeatSpend / x : 0,
    firstDay: first,
    lastDay: last,
  };
}

describe('sufficientStats', () => {
  it('equals the direct computation for random histories, as-of days and units (property)', () => {
    fc.assert(
      fc.property(
        fc.array(purchase, { maxLength: 40 }),
        fc.integer({ min: 0, max: 450 }),
        fc.constantFrom(1, 7),
        (events, asOf, unit) => {
          const got = sufficientStats(events, asOf, { daysPerUnit: unit });
          const want = direct(events, asOf, unit);
          if (want === null) expect(got).toBeNull();
          else {
            expect(got).not.toBeNull();
            expect(got!.x).toBe(want.x);
            expect(got!.tx).toBeCloseTo(want.tx, 12);
            expect(got!.T).toBeCloseTo(want.T, 12);
            expect(got!.zbar).toBeCloseTo(want.zbar, 9);
            expect(got!.firstDay).toBe(want.firstDay);
            expect(got!.lastDay).toBe(want.lastDay);
            expect(got!.tx).toBeLessThanOrEqual(got!.T);
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('does not depend on the order of the events (property)', () => {
    fc.assert(
      fc.property(fc.array(purchase, { minLength: 1, maxLength: 30 }), (events) => {
        const reversed = [...events].reverse();
        expect(sufficientStats(reversed, 400)).toEqual(sufficientStats(events, 400));
      }),
    );
  });

  it('merges same-day orders: two orders on a repeat day are one purchase with their summed spend', () => {
    const s = sufficientStats(
      [
        { day: 10, amountMinor: 500 },
        { day: 10, amountMinor: 700 },
        { day: 24, amountMinor: 300 },
        { day: 24, amountMinor: 900 },
        { day: 31, amountMinor: 1800 },
      ],
      38,
    );
    expect(s).toEqual({ x: 2, tx: 3, T: 4, zbar: 1500, firstDay: 10, lastDay: 31 });
  });

  it('measures T from the first purchase day to the as-of day: CDNOW customer first seen 1997-01-01 has T = 272/7 at 1997-09-30', () => {
    const s = sufficientStats([{ day: dayNumber('1997-01-01'), amountMinor: 2933 }], dayNumber('1997-09-30'));
    expect(s!.T).toBeCloseTo(38.857, 3);
    expect(s!.x).toBe(0);
    expect(s!.zbar).toBe(0);
  });

  it('rejects non-integer days and bad units', () => {
    expect(() => sufficientStats([{ day: 1.5, amountMinor: 1 }], 3)).toThrow(/integer/);
    expect(() => sufficientStats([{ day: 1, amountMinor: 1 }], 3, { daysPerUnit: 0 })).toThrow(/daysPerUnit/);
  });
});

describe('mergePurchaseDays and purchaseDaysBetween', () => {
  it('sum per day, ascending, up to the as-of day; holdout counts distinct days in (from, to]', () => {
    const events = [
      { day: 5, amountMinor: 1 },
      { day: 3, amountMinor: 2 },
      { day: 5, amountMinor: 4 },
      { day: 9, amountMinor: 8 },
    ];
    expect(mergePurchaseDays(events, 8)).toEqual([
      { day: 3, amountMinor: 2 },
      { day: 5, amountMinor: 5 },
    ]);
    expect(purchaseDaysBetween(events, 3, 9)).toBe(2);
    expect(purchaseDaysBetween(events, 5, 9)).toBe(1);
  });
});
