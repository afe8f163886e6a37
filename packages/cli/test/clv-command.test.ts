/**
 * `tierctl clv validate` (issue 15): the calibration/holdout check of Fader, Hardie & Lee (2005) §4 on the CDNOW
 * sample prints the published fits (r = 0.243, α = 4.414, a = 0.793, b = 2.426, LL −9582.4; Gamma-Gamma p = 6.25,
 * q = 3.74, γ = 15.44 dollars, LL −4055.9), the week-78 total (4,339 actual, about 4 % under-forecast), the
 * zero-repeaters' conditional expectation (1,411 customers, 334 actual, mean 0.24) and the weekly tracking.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ratio, renderModel, renderValidation } from '../src/commands/clv';
import { validateCdnowFile } from '../src/ops/clv';
import { REPO_ROOT } from '../src/supervisor';

const SAMPLE = path.join(REPO_ROOT, 'data/cdnow/CDNOW_sample.txt');

describe('tierctl clv validate', () => {
  const report = validateCdnowFile(SAMPLE);
  const text = renderValidation('CDNOW_sample.txt', report);

  it('prints the published fits and the week-78 total', () => {
    expect(text).toContain('BG/NBD (Fader, Hardie & Lee 2005): r=0.2426 alpha=4.4136 a=0.7929 b=2.4259 LL=-9582.43');
    expect(text).toMatch(/Gamma-Gamma \(Fader & Hardie 2013\): p=6\.249\d q=3\.744\d gamma=15\.44\d\d LL=-4055\.9\d/);
    expect(text).toContain('week 78: predicted 4160.6 vs actual 4339 cumulative repeat transactions (-4.1 %)');
    expect(Math.abs(report.end.relativeError)).toBeLessThan(0.05);
  });

  it('prints the conditional expectations (zero-repeaters: 1,411, 334 actual) and 78 weeks of tracking', () => {
    const zero = report.table.rows[0]!;
    expect([zero.customers, zero.actualTotal]).toEqual([1411, 334]);
    expect(text).toMatch(/\n0 +1411 +334 +0\.237 +317\.\d +0\.225\n/);
    expect(report.tracking).toHaveLength(78);
    expect(text).toMatch(/\n +78 +1998-06-30 +4339 +4160\.6\n/);
  });

  it('a model version prints its parameters, log-likelihoods, sizes and settings', () => {
    const line = renderModel({
      version: 'clv-1997-09-30',
      day: 10_134,
      timeUnit: 'weeks',
      bgnbd: { r: 0.2426, alpha: 4.4136, a: 0.7929, b: 2.4259 },
      bgnbdLogLikelihood: -9582.43,
      sampleSize: 2357,
      gammaGamma: { p: 6.25, q: 3.74, gamma: 1544.35 },
      gammaGammaLogLikelihood: -8412.41,
      repeatBuyers: 946,
      margin: 0.3,
      monthlyDiscount: 0.01,
      fittedAt: 0,
      fitMs: 210,
    });
    expect(line).toContain('clv-1997-09-30 (in force from 1997-10-01; time unit weeks');
    expect(line).toContain('r=0.2426 alpha=4.4136 a=0.7929 b=2.4259  LL=-9582.43  customers=2357');
    expect(line).toContain('repeat buyers=946');
    expect(line).toContain('margin=0.3 monthly discount=0.01');
  });
});

describe('tierctl clv fit options', () => {
  it('--margin and --monthly-discount take a number between 0 and 1; a blank value is refused, not read as 0', () => {
    const margin = ratio('--margin');
    expect(margin('0.3')).toBe(0.3);
    expect(margin('0')).toBe(0);
    for (const bad of ['', ' ', '1.5', '-0.1', 'abc']) {
      expect(() => margin(bad)).toThrow(`--margin: expected a number between 0 and 1, got "${bad}"`);
    }
  });
});
