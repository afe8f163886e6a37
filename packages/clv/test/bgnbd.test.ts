/**
 * BG/NBD formulas of Fader, Hardie & Lee (2005), "Counting Your Customers the Easy Way", Marketing Science 24(2):
 * identities that break if an equation is mistyped, and a fit that recovers the parameters of a simulated population.
 */
import { Rng } from '@tierstream/generator';
import { describe, expect, it } from 'vitest';
import {
  bgnbdLogLikelihood,
  bgnbdPopulationLogLikelihood,
  compressBgNbd,
  conditionalExpectedPurchases,
  expectedPurchases,
  fitBgNbd,
  pAlive,
  simulateBgNbd,
} from '../src';
import { betaln, gammaln } from '../src/special';

const P = { r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 };

describe('BG/NBD likelihood (FHL 2005 eq. 6 and 7)', () => {
  it('equals eq. 6 written with beta functions, for x = 0 and x > 0', () => {
    const direct = (x: number, tx: number, T: number) => {
      const { r, alpha, a, b } = P;
      const g = Math.exp(gammaln(r + x) - gammaln(r) + r * Math.log(alpha));
      const first = Math.exp(betaln(a, b + x) - betaln(a, b)) * g * (alpha + T) ** -(r + x);
      const second = x > 0 ? Math.exp(betaln(a + 1, b + x - 1) - betaln(a, b)) * g * (alpha + tx) ** -(r + x) : 0;
      return Math.log(first + second);
    };
    for (const [x, tx, T] of [
      [0, 0, 38.86],
      [1, 5, 20],
      [2, 30.43, 38.86],
      [7, 35, 36],
    ] as const) {
      expect(bgnbdLogLikelihood(P, x, tx, T)).toBeCloseTo(direct(x, tx, T), 10);
    }
  });

  it('population log-likelihood is the count-weighted sum of the customers’ and does not change when rows are grouped', () => {
    const rows = [
      { x: 0, tx: 0, T: 30 },
      { x: 3, tx: 10, T: 30 },
      { x: 0, tx: 0, T: 30 },
      { x: 12, tx: 29, T: 30 },
    ];
    const sum = rows.reduce((s, c) => s + bgnbdLogLikelihood(P, c.x, c.tx, c.T), 0);
    const cols = { x: rows.map((c) => c.x), tx: rows.map((c) => c.tx), T: rows.map((c) => c.T) };
    expect(bgnbdPopulationLogLikelihood(P, cols)).toBeCloseTo(sum, 10);
    const grouped = compressBgNbd(rows);
    expect(grouped.x).toHaveLength(3);
    expect(grouped.count).toEqual([2, 1, 1]);
    expect(bgnbdPopulationLogLikelihood(P, grouped)).toBeCloseTo(sum, 10);
  });

  it('rejects a non-integer x', () => {
    expect(() => bgnbdPopulationLogLikelihood(P, { x: [1.5], tx: [1], T: [2] })).toThrow(/integer/);
  });
});

describe('BG/NBD predictions (FHL 2005 eq. 9, 10; P(alive))', () => {
  it('P(alive) is 1 without repeat purchases and decays with T while nothing happens', () => {
    expect(pAlive(P, 0, 0, 50)).toBe(1);
    const early = pAlive(P, 3, 20, 21);
    const late = pAlive(P, 3, 20, 60);
    expect(early).toBeGreaterThan(late);
    expect(late).toBeGreaterThan(0);
    const { r, alpha, a, b } = P;
    expect(late).toBeCloseTo(1 / (1 + (a / (b + 2)) * ((alpha + 60) / (alpha + 20)) ** (r + 3)), 12);
  });

  it('a customer just acquired (x = 0, T = 0) is expected to buy E[X(t)]: eq. 10 reduces to eq. 9', () => {
    for (const t of [0.5, 10, 39, 104]) {
      expect(conditionalExpectedPurchases(P, t, 0, 0, 0)).toBeCloseTo(expectedPurchases(P, t), 10);
    }
  });

  it('E[X(t)] starts at slope r/α and grows; E[Y] grows with t and is 0 at t = 0', () => {
    const eps = 1e-4;
    expect(expectedPurchases(P, eps) / eps).toBeCloseTo(P.r / P.alpha, 4);
    expect(expectedPurchases(P, 0)).toBe(0);
    expect(conditionalExpectedPurchases(P, 0, 2, 30, 38)).toBe(0);
    expect(conditionalExpectedPurchases(P, 52, 2, 30, 38)).toBeGreaterThan(
      conditionalExpectedPurchases(P, 26, 2, 30, 38),
    );
    // A recent buyer is worth more than one with the same x and T who bought long ago.
    expect(conditionalExpectedPurchases(P, 39, 2, 37, 38)).toBeGreaterThan(
      conditionalExpectedPurchases(P, 39, 2, 5, 38),
    );
  });
});

describe('BG/NBD fit on a simulated population (FHL 2005 §2 generative model)', () => {
  it('recovers r, α, a, b within 10 % from 20,000 customers watched 3 years (hourly clock: no same-day merging)', () => {
    const truth = { r: 0.5, alpha: 6, a: 0.7, b: 2.5 };
    const pop = simulateBgNbd(new Rng(11), truth, {
      customers: 20_000,
      daysPerUnit: 7 * 24,
      firstDays: 84 * 24,
      asOfDay: 3 * 365 * 24 - 1, // a and b (dropout) need a long window to be identified
    });
    const fit = fitBgNbd(compressBgNbd(pop.map((c) => c.stats)));
    expect(fit.converged).toBe(true);
    expect(fit.sampleSize).toBe(20_000);
    for (const k of ['r', 'alpha', 'a', 'b'] as const) {
      expect(Math.abs(fit.params[k] / truth[k] - 1)).toBeLessThan(0.1);
    }
  });

  it('says it did not converge when the iteration budget is too small', () => {
    const pop = simulateBgNbd(new Rng(3), { r: 0.5, alpha: 6, a: 0.7, b: 2.5 }, { customers: 2000 });
    const fit = fitBgNbd(compressBgNbd(pop.map((c) => c.stats)), { maxIterations: 2 });
    expect(fit.converged).toBe(false);
    expect(fit.reason).toMatch(/BFGS stopped/);
  });
});
