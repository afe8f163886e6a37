/**
 * Calibration/holdout validation of Fader, Hardie & Lee (2005) §4 (weekly tracking, Figure 2; conditional
 * expectations, Figure 4) on small hand-made histories whose counts are known by hand, and on the CDNOW sample.
 */
import { describe, expect, it } from 'vitest';
import {
  calibrationRows,
  conditionalExpectationTable,
  conditionalExpectedPurchases,
  expectedPurchases,
  runValidation,
  weeklyTracking,
} from '../src';
import { CDNOW_SPLIT, loadCdnowSample } from './cdnow';

const P = { r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 };
// Day 0 is the start; calibration days 0–13 (weeks 1–2), holdout 14–27 (weeks 3–4).
const SPLIT = { startDay: 0, calibrationEndDay: 13, holdoutEndDay: 27, daysPerUnit: 7 };
const HISTORIES = [
  { id: 'a', purchases: [0, 0, 3, 9, 15, 20, 20].map((day) => ({ day, amountMinor: 100 })) },
  { id: 'b', purchases: [7, 26].map((day) => ({ day, amountMinor: 100 })) },
  { id: 'c', purchases: [20].map((day) => ({ day, amountMinor: 100 })) }, // first seen in the holdout
];

describe('weeklyTracking', () => {
  it('counts repeat purchase days cumulatively per week and sums E[X] from each first day', () => {
    const rows = weeklyTracking(P, HISTORIES, SPLIT);
    expect(rows.map((r) => r.endDay)).toEqual([6, 13, 20, 27]);
    // a: repeats on 3, 9, 15, 20 (two orders on day 20 are one); b: 26; c: none.
    expect(rows.map((r) => r.actual)).toEqual([1, 2, 4, 5]);
    const ex = (d: number) => expectedPurchases(P, d / 7);
    expect(rows[0]!.predicted).toBeCloseTo(ex(6), 12);
    expect(rows[1]!.predicted).toBeCloseTo(ex(13) + ex(6), 12);
    expect(rows[3]!.predicted).toBeCloseTo(ex(27) + ex(20) + ex(7), 12);
  });
});

describe('calibrationRows and conditionalExpectationTable', () => {
  it('keep customers first seen in calibration, with holdout purchase days, grouped by x', () => {
    const rows = calibrationRows(HISTORIES, SPLIT);
    expect(rows.map((r) => [r.id, r.x, r.holdout])).toEqual([
      ['a', 2, 2],
      ['b', 0, 1],
    ]);
    const table = conditionalExpectationTable(P, rows, SPLIT, 2);
    expect(table.horizon).toBe(2);
    expect(table.rows.map((r) => [r.x, r.xOrMore, r.customers, r.actualTotal])).toEqual([
      [0, false, 1, 1],
      [1, false, 0, 0],
      [2, true, 1, 2],
    ]);
    expect(table.rows[2]!.predictedTotal).toBeCloseTo(conditionalExpectedPurchases(P, 2, 2, 9 / 7, 13 / 7), 12);
    expect(table.total).toMatchObject({ customers: 2, actual: 3 });
  });
});

describe('runValidation on the CDNOW sample (FHL 2005 §4)', () => {
  it('fits, tracks 78 weeks and ends within 5 % of the actual 4,339 repeat transactions', () => {
    const report = runValidation(loadCdnowSample(), CDNOW_SPLIT);
    expect(report.bgnbd.converged).toBe(true);
    expect(report.gammaGamma!.sampleSize).toBe(946);
    expect(report.gammaGamma!.params.gamma / 100).toBeCloseTo(15.44, 1); // fitted in cents
    expect(report.end).toMatchObject({ period: 78, actual: 4339 });
    expect(Math.abs(report.end.relativeError)).toBeLessThan(0.05);
    expect(report.table.rows[0]).toMatchObject({ x: 0, customers: 1411, actualTotal: 334 });
  });
});
