/** The seeded simulator and the fit timing the benchmark (bench/clv-fit.ts) calls, at a small size. */
import { Rng } from '@tierstream/generator';
import { describe, expect, it } from 'vitest';
import { simulateBgNbd, timeFit } from '../src';

describe('simulateBgNbd', () => {
  it('is deterministic for a seed and gives whole-minor-unit Gamma-Gamma spends', () => {
    const opts = { customers: 200, spend: { p: 6, q: 4, gamma: 1500 } };
    const P = { r: 0.5, alpha: 4, a: 0.8, b: 2.4 };
    const one = simulateBgNbd(new Rng(9), P, opts);
    expect(simulateBgNbd(new Rng(9), P, opts)).toEqual(one);
    expect(one).toHaveLength(200);
    for (const c of one) {
      for (const p of c.purchases) expect(Number.isInteger(p.amountMinor) && p.amountMinor >= 1).toBe(true);
      expect(c.stats.T).toBeGreaterThanOrEqual(c.stats.tx);
    }
  });
});

describe('timeFit', () => {
  it('groups, fits both models and reports timings (5,000 customers)', () => {
    const t = timeFit(new Rng(2), 5000);
    expect(t.customers).toBe(5000);
    expect(t.converged).toBe(true);
    expect(t.distinctRows).toBeLessThan(5000);
    expect(t.totalFitMs).toBeGreaterThanOrEqual(t.bgnbdMs);
    expect(Math.abs(t.gammaGamma.p / 6.25 - 1)).toBeLessThan(0.3);
    expect(Number.isNaN(t.bgnbdUngroupedMs)).toBe(true);
  });
});
