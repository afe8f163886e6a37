/**
 * Gamma-Gamma spend model: Fader & Hardie (2013), "The Gamma-Gamma Model of Monetary Value" (note), after Colombo &
 * Jiang (1999). Formula identities and a fit that recovers the parameters of a simulated population.
 */
import { Rng } from '@tierstream/generator';
import { describe, expect, it } from 'vitest';
import {
  conditionalExpectedSpend,
  fitGammaGamma,
  gammaGammaLogLikelihood,
  gammaGammaPopulationLogLikelihood,
  gammaVariate,
  populationMeanSpend,
} from '../src';

const P = { p: 6.25, q: 3.74, gamma: 15.44 };

describe('Gamma-Gamma formulas', () => {
  it('the density of zbar integrates to 1 over zbar (x = 1 and x = 4)', () => {
    for (const x of [1, 4]) {
      let area = 0;
      const step = (lo: number, hi: number, h: number) => {
        for (let z = lo + h / 2; z < hi; z += h) area += Math.exp(gammaGammaLogLikelihood(P, x, z)) * h;
      };
      step(0, 100, 0.01);
      step(100, 20_000, 0.5); // heavy tail: the density falls like zbar^−(q+1)
      expect(area).toBeCloseTo(1, 4);
    }
  });

  it('the conditional expected spend is the credibility-weighted mean of pγ/(q−1) and zbar', () => {
    const mean = populationMeanSpend(P);
    expect(mean).toBeCloseTo((6.25 * 15.44) / 2.74, 10);
    expect(conditionalExpectedSpend(P, 0, 999)).toBe(mean);
    const x = 3;
    const zbar = 50;
    const w = (P.p * x) / (P.p * x + P.q - 1);
    expect(conditionalExpectedSpend(P, x, zbar)).toBeCloseTo((1 - w) * mean + w * zbar, 10);
  });

  it('rejects x < 1, zbar ≤ 0 and q ≤ 1', () => {
    expect(() => gammaGammaLogLikelihood(P, 0, 10)).toThrow(/x must be/);
    expect(() => gammaGammaLogLikelihood(P, 2, 0)).toThrow(/zbar must be/);
    expect(() => conditionalExpectedSpend({ ...P, q: 1 }, 2, 10)).toThrow(/q > 1/);
  });

  it('the population log-likelihood is the count-weighted sum of the buyers’ (shared per-x terms included)', () => {
    const one = gammaGammaLogLikelihood(P, 2, 30);
    expect(gammaGammaPopulationLogLikelihood(P, { x: [2], zbar: [30], count: [3] })).toBeCloseTo(3 * one, 10);
    const x = [1, 2, 2, 5, 1];
    const zbar = [10, 30, 45, 22.5, 80];
    const sum = x.reduce((s, xi, i) => s + gammaGammaLogLikelihood(P, xi, zbar[i]!), 0);
    expect(gammaGammaPopulationLogLikelihood(P, { x, zbar })).toBeCloseTo(sum, 10);
  });
});

describe('Gamma-Gamma fit on a simulated population', () => {
  it('recovers p, q, γ within 10 % from 20,000 repeat buyers (ν ~ Gamma(q, γ), z ~ Gamma(p, ν))', () => {
    const rng = new Rng(5);
    const truth = { p: 4, q: 5, gamma: 800 }; // γ in cents
    const x: number[] = [];
    const zbar: number[] = [];
    for (let i = 0; i < 20_000; i++) {
      const nu = gammaVariate(rng, truth.q, truth.gamma);
      const n = 1 + Math.floor(rng.next() * 6);
      let sum = 0;
      for (let k = 0; k < n; k++) sum += gammaVariate(rng, truth.p, nu);
      x.push(n);
      zbar.push(sum / n);
    }
    const fit = fitGammaGamma({ x, zbar });
    expect(fit.converged).toBe(true);
    for (const k of ['p', 'q', 'gamma'] as const) expect(Math.abs(fit.params[k] / truth[k] - 1)).toBeLessThan(0.1);
  });

  it('refuses a row without repeat spend', () => {
    expect(() => fitGammaGamma({ x: [1, 0], zbar: [10, 0] })).toThrow(/row 1/);
  });
});
