/**
 * Acceptance on the CDNOW sample (2,357 customers; calibration weeks 1–39 = 1997-01-01 … 1997-09-30, holdout weeks
 * 40–78; time in weeks; same-day purchases merged) against the published figures of
 * - Fader, Hardie & Lee (2005), "Counting Your Customers the Easy Way", Marketing Science 24(2) (BG/NBD), and
 * - Fader & Hardie (2013), "The Gamma-Gamma Model of Monetary Value" (note).
 * The point values are those of the papers' worked spreadsheets as reproduced by the public CLV libraries' tests.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type BgNbdParams,
  type CalibrationRow,
  calibrationRows,
  conditionalExpectationTable,
  conditionalExpectedPurchases,
  conditionalExpectedSpend,
  expectedPurchases,
  type FitResult,
  fitBgNbd,
  fitGammaGamma,
  type GammaGammaParams,
  weeklyTracking,
} from '../src';
import { CDNOW_SPLIT, loadCdnowSample } from './cdnow';

const within = (actual: number, expected: number, rel: number) =>
  expect(Math.abs(actual - expected) / Math.abs(expected)).toBeLessThanOrEqual(rel);

let rows: CalibrationRow[];
let bg: FitResult<BgNbdParams>;
let gg: FitResult<GammaGammaParams>;

beforeAll(() => {
  rows = calibrationRows(loadCdnowSample(), CDNOW_SPLIT);
  bg = fitBgNbd({ x: rows.map((r) => r.x), tx: rows.map((r) => r.tx), T: rows.map((r) => r.T) });
  const repeat = rows.filter((r) => r.x > 0);
  gg = fitGammaGamma({ x: repeat.map((r) => r.x), zbar: repeat.map((r) => r.zbar / 100) }); // dollars, as published
});

describe('CDNOW sample: calibration statistics (FHL 2005 setup)', () => {
  it('has 2,357 customers, 1,411 without a repeat purchase, 946 repeat buyers', () => {
    expect(rows).toHaveLength(2357);
    expect(rows.filter((r) => r.x === 0)).toHaveLength(1411);
    expect(rows.filter((r) => r.x > 0)).toHaveLength(946);
  });

  it('sample customer 1 has x = 2, t_x = 30.43, T = 38.86 weeks (FHL 2005 worked example)', () => {
    const c1 = rows[0]!;
    expect(c1.id).toBe('1');
    expect(c1.x).toBe(2);
    expect(c1.tx).toBeCloseTo(30.43, 2);
    expect(c1.T).toBeCloseTo(38.86, 2);
  });
});

describe('BG/NBD maximum likelihood on CDNOW (Fader, Hardie & Lee 2005, Marketing Science 24(2), §4)', () => {
  it('converges to r = 0.243, α = 4.414, a = 0.793, b = 2.426 within 1 %', () => {
    expect(bg.converged).toBe(true);
    within(bg.params.r, 0.243, 0.01);
    within(bg.params.alpha, 4.414, 0.01);
    within(bg.params.a, 0.793, 0.01);
    within(bg.params.b, 2.426, 0.01);
  });

  it('reaches log-likelihood −9582.4 ± 0.5', () => {
    expect(Math.abs(bg.logLikelihood - -9582.4)).toBeLessThanOrEqual(0.5);
    expect(bg.sampleSize).toBe(2357);
  });

  it('E[Y(39) | x = 2, t_x = 30.43, T = 38.86] ≈ 1.226 for sample customer 1 (FHL 2005 eq. 10)', () => {
    expect(conditionalExpectedPurchases(bg.params, 39, 2, 30.43, 38.86)).toBeCloseTo(1.226, 3);
  });

  it('E[X(t)] at t = 1, 3, 32, 78 weeks ≈ 0.0532, 0.1506, 1.0437, 1.8576 (FHL 2005 eq. 9)', () => {
    const expected = [0.0532, 0.1506, 1.0437, 1.8576];
    for (const [i, t] of [1, 3, 32, 78].entries()) within(expectedPurchases(bg.params, t), expected[i]!, 0.001);
  });
});

describe('Gamma-Gamma on the 946 repeat buyers (Fader & Hardie 2013, "The Gamma-Gamma Model of Monetary Value")', () => {
  it('converges to p = 6.25, q = 3.74, γ = 15.44 within 1 %, log-likelihood ≈ −4055.9', () => {
    expect(gg.converged).toBe(true);
    within(gg.params.p, 6.25, 0.01);
    within(gg.params.q, 3.74, 0.01);
    within(gg.params.gamma, 15.44, 0.01);
    expect(gg.logLikelihood).toBeCloseTo(-4055.9, 0);
    expect(gg.sampleSize).toBe(946);
  });

  it('conditional expected average spend of sample customers 1–10', () => {
    const published = [24.65, 18.91, 35.17, 35.17, 35.17, 71.46, 18.91, 35.17, 27.28, 35.17];
    const ours = rows.slice(0, 10).map((r) => conditionalExpectedSpend(gg.params, r.x, r.zbar / 100));
    for (const [i, v] of ours.entries()) expect(v).toBeCloseTo(published[i]!, 2);
  });

  it('fitting in cents gives the same p, q and γ × 100 (the unit only scales γ)', () => {
    const repeat = rows.filter((r) => r.x > 0);
    const cents = fitGammaGamma({ x: repeat.map((r) => r.x), zbar: repeat.map((r) => r.zbar) });
    within(cents.params.p, gg.params.p, 1e-4);
    within(cents.params.q, gg.params.q, 1e-4);
    within(cents.params.gamma, gg.params.gamma * 100, 1e-4);
  });
});

describe('Holdout weeks 40–78 (FHL 2005 §4, Figures 2 and 4)', () => {
  it('tracks cumulative repeat transactions weekly; week 78 predicted within 5 % of the actual 4,339 (under-forecast ≈ 4 %)', () => {
    const tracking = weeklyTracking(bg.params, loadCdnowSample(), CDNOW_SPLIT);
    expect(tracking).toHaveLength(78);
    const w78 = tracking[77]!;
    expect(w78.actual).toBe(4339);
    within(w78.predicted, 4339, 0.05);
    expect(w78.predicted).toBeLessThan(w78.actual);
    expect(tracking[38]!.actual).toBe(2457); // calibration repeat transactions (Σ x)
    for (let i = 1; i < tracking.length; i++) {
      expect(tracking[i]!.predicted).toBeGreaterThan(tracking[i - 1]!.predicted);
      expect(tracking[i]!.actual).toBeGreaterThanOrEqual(tracking[i - 1]!.actual);
    }
  });

  it('the 1,411 zero-repeaters made 334 holdout transactions (mean 0.24); E[Y(39) | x = 0, T] is close', () => {
    const table = conditionalExpectationTable(bg.params, rows, CDNOW_SPLIT);
    expect(table.horizon).toBe(39);
    const zero = table.rows[0]!;
    expect(zero.customers).toBe(1411);
    expect(zero.actualTotal).toBe(334);
    expect(zero.actualMean).toBeCloseTo(0.24, 2);
    expect(Math.abs(zero.predictedMean - zero.actualMean)).toBeLessThan(0.02);
    expect(table.total.customers).toBe(2357);
    expect(table.total.actual).toBe(4339 - 2457);
  });
});
