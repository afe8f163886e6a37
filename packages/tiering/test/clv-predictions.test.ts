/**
 * CLV predictions as metrics (issue 15): the model in force applied to a customer's CLV inputs. Reference values:
 * the CDNOW worked examples of Fader, Hardie & Lee (2005) and Fader & Hardie (2013) as reproduced by the public CLV
 * libraries' tests (sample customer 1: x = 2, t_x = 30.43, T = 38.86 weeks, E[Y(39)] ≈ 1.226; its Gamma-Gamma
 * expected spend ≈ 24.65 dollars at zbar = 29.73 … here in cents).
 */
import { conditionalExpectedPurchases } from '@tierstream/clv';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ClvModel } from '../src/clv-model';
import { CLV_PREDICTION_METRICS, clvPredictions } from '../src/clv-predictions';
import { initialCutPoints } from '../src/cutpoints';
import { DUE_SEARCH_HORIZON_DAYS, nextDueDay } from '../src/due';
import { evaluateTiers } from '../src/engine';
import { DECREASING_METRICS, KNOWN_METRICS, metricDrift } from '../src/metrics';
import { parseRules } from '../src/parse';

const model: ClvModel = {
  version: 'clv-1997-09-30',
  day: 10_134,
  timeUnit: 'weeks',
  // The published CDNOW estimates (FHL 2005; Fader & Hardie 2013, γ in cents).
  bgnbd: { r: 0.2426, alpha: 4.4136, a: 0.7929, b: 2.4259 },
  bgnbdLogLikelihood: -9582.43,
  sampleSize: 2357,
  gammaGamma: { p: 6.2496, q: 3.7442, gamma: 1544.35 },
  gammaGammaLogLikelihood: -4055.92,
  repeatBuyers: 946,
  margin: 1,
  monthlyDiscount: 0,
  fittedAt: 0,
  fitMs: 0,
};
// Sample customer 1 as of 1997-09-30: purchase days 1997-01-01, 1997-01-18, 1997-08-02; zbar in cents.
const customer1 = { clv_x: 2, clv_t_x_weeks: 213 / 7, clv_T_weeks: 272 / 7, clv_zbar: 2973 };

describe('clvPredictions', () => {
  it('sample customer 1: E[Y(39 weeks)] ≈ 1.226 (FHL 2005 worked example); the metrics over 90 and 365 days', () => {
    expect(conditionalExpectedPurchases(model.bgnbd, 39, 2, 213 / 7, 272 / 7)).toBeCloseTo(1.226, 2);
    const p = clvPredictions(model, customer1);
    expect(p.expected_orders_365d).toBeCloseTo(
      conditionalExpectedPurchases(model.bgnbd, 365 / 7, 2, 213 / 7, 272 / 7),
      12,
    );
    expect(p.expected_orders_90d).toBeCloseTo(
      conditionalExpectedPurchases(model.bgnbd, 90 / 7, 2, 213 / 7, 272 / 7),
      12,
    );
    expect(p.p_alive!).toBeGreaterThan(0.5);
    expect(p.p_alive!).toBeLessThan(1);
    // Gamma-Gamma: p(γ + x·zbar)/(px + q − 1) in cents.
    const aov = (6.2496 * (1544.35 + 2 * 2973)) / (6.2496 * 2 + 3.7442 - 1);
    expect(p.expected_aov).toBeCloseTo(aov, 9);
    // Undiscounted, margin 1: clv = E[Y(365 days)] × E[Z].
    expect(p.clv_365d).toBeCloseTo(p.expected_orders_365d! * aov, 6);
  });

  it('margin and monthly discount lower clv_365d; days as the time unit give the same predictions', () => {
    const base = clvPredictions(model, customer1).clv_365d!;
    expect(clvPredictions({ ...model, margin: 0.3 }, customer1).clv_365d).toBeCloseTo(base * 0.3, 6);
    expect(clvPredictions({ ...model, monthlyDiscount: 0.01 }, customer1).clv_365d!).toBeLessThan(base);
    const days: ClvModel = { ...model, timeUnit: 'days', bgnbd: { ...model.bgnbd, alpha: model.bgnbd.alpha * 7 } };
    const a = clvPredictions(model, customer1);
    const b = clvPredictions(days, customer1);
    for (const k of CLV_PREDICTION_METRICS) expect(b[k]).toBeCloseTo(a[k]!, 9);
  });

  it('a one-time buyer is alive (BG/NBD) and gets the population mean spend; no model or no purchase: null', () => {
    const once = clvPredictions(model, { clv_x: 0, clv_t_x_weeks: 0, clv_T_weeks: 10, clv_zbar: null });
    expect(once.p_alive).toBe(1);
    expect(once.expected_aov).toBeCloseTo((6.2496 * 1544.35) / (3.7442 - 1), 9);
    const none = {
      p_alive: null,
      expected_orders_90d: null,
      expected_orders_365d: null,
      expected_aov: null,
      clv_365d: null,
    };
    expect(clvPredictions(null, customer1)).toEqual(none);
    expect(clvPredictions(model, { clv_x: null, clv_t_x_weeks: null, clv_T_weeks: null, clv_zbar: null })).toEqual(
      none,
    );
    // q ≤ 1: no mean spend; null spend and value instead of an exception, while P(alive) and the expected orders
    // (BG/NBD alone) stay: a lifecycle rule on p_alive must not turn UNSCORED because the spend model failed.
    const bad = { ...model, gammaGamma: { ...model.gammaGamma, q: 0.9 } };
    const good = clvPredictions(model, customer1);
    expect(clvPredictions(bad, customer1)).toEqual({
      p_alive: good.p_alive,
      expected_orders_90d: good.expected_orders_90d,
      expected_orders_365d: good.expected_orders_365d,
      expected_aov: null,
      clv_365d: null,
    });
    expect(good.p_alive).toBeGreaterThan(0);
  });

  it('are known metrics; p_alive, expected orders and clv only fall as T grows with nothing bought (the due search)', () => {
    for (const k of CLV_PREDICTION_METRICS) expect(KNOWN_METRICS).toContain(k);
    expect(metricDrift('expected_aov')).toBe('const');
    for (const k of ['p_alive', 'expected_orders_90d', 'expected_orders_365d', 'clv_365d']) {
      expect(DECREASING_METRICS.has(k)).toBe(true);
    }
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 30 }),
        fc.integer({ min: 0, max: 500 }),
        fc.integer({ min: 0, max: 500 }),
        fc.integer({ min: 1, max: 400 }),
        (x, txDays, gap, step) => {
          const tx = x === 0 ? 0 : txDays;
          const at = (T: number) =>
            clvPredictions(
              { ...model, monthlyDiscount: 0.01 },
              {
                clv_x: x,
                clv_t_x_weeks: tx / 7,
                clv_T_weeks: T / 7,
                clv_zbar: x === 0 ? null : 2500,
              },
            );
          const now = at(tx + gap);
          const later = at(tx + gap + step);
          for (const k of ['p_alive', 'expected_orders_90d', 'expected_orders_365d', 'clv_365d']) {
            expect(later[k]!).toBeLessThanOrEqual(now[k]!);
          }
          expect(later.expected_aov).toBe(now.expected_aov);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('the due day of a rule on p_alive or expected orders (issue 15, time-driven)', () => {
  const rules = parseRules(
    `
version: "clv-due-1"
dimensions:
  - id: life
    tiers: [ALIVE, AT_RISK, LOST]
    scoring:
      kind: rules
      rules:
        - { id: alive, tier: ALIVE, when: { metric: p_alive, op: gte, value: 0.7 } }
        - { id: risk, tier: AT_RISK, when: { metric: p_alive, op: gte, value: 0.3 } }
      default: { id: lost, tier: LOST }
  - id: busy
    tiers: [BUSY, QUIET]
    scoring:
      kind: rules
      rules:
        - { id: busy, tier: BUSY, when: { metric: expected_orders_365d, op: gt, value: 1.5 } }
      default: { id: quiet, tier: QUIET }
`,
    'clv-due.yaml',
  );
  const cutPoints = initialCutPoints(rules);
  // A customer with x repeat days, the last t_x days after the first, evaluated `age` days after its first purchase;
  // nothing happens afterwards: only T grows.
  const metricsAt = (x: number, tx: number) => (day: number) => ({
    ...{ clv_x: x, clv_t_x_weeks: tx / 7, clv_T_weeks: day / 7, clv_zbar: 2500 },
    ...clvPredictions(model, { clv_x: x, clv_t_x_weeks: tx / 7, clv_T_weeks: day / 7, clv_zbar: 2500 }),
  });

  it('is the first day a tier flips (exact: a binary search over the decreasing predictions), never later', () => {
    let flips = 0;
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 0, max: 200 }),
        fc.integer({ min: 0, max: 300 }),
        (x, tx, gap) => {
          const m = metricsAt(x, tx);
          const from = tx + gap;
          const state = evaluateTiers({
            rules,
            cutPoints,
            customerId: 'c',
            metrics: m(from),
            previous: null,
            day: from,
            at: 0,
          }).state;
          let firstChange: number | null = null;
          for (let d = from + 1; d <= from + DUE_SEARCH_HORIZON_DAYS; d++) {
            const next = evaluateTiers({
              rules,
              cutPoints,
              customerId: 'c',
              metrics: m(d),
              previous: state,
              day: d,
              at: 0,
            });
            if (next.transitions.length > 0) {
              firstChange = d;
              break;
            }
          }
          const due = nextDueDay({
            rules,
            cutPoints,
            state,
            fromDay: from,
            metricsAtDay: m,
            rollOffDays: [],
            eventDays: [],
          });
          expect(due).toBe(firstChange);
          if (firstChange !== null) flips++;
        },
      ),
      { numRuns: 200 },
    );
    // Not vacuous: most customers flip within the horizon.
    expect(flips).toBeGreaterThan(50);
  });
});
