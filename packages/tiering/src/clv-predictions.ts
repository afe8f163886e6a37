/**
 * Per-customer CLV predictions (issue 15) from the model in force and the customer's CLV inputs as of a day: the
 * metrics rules may use (KNOWN_METRICS). Definitions and units: rules/README.md "CLV metrics". Pure.
 * - p_alive: P(alive | x, t_x, T), BG/NBD (Fader, Hardie & Lee 2005; FHL 2008 note on P(alive)), 0–1;
 * - expected_orders_90d / _365d: E[Y(t) | x, t_x, T], expected repeat purchase days in the next 90 / 365 days
 *   (FHL 2005 eq. 10);
 * - expected_aov: E[Z | x, zbar], Gamma-Gamma conditional expected spend per purchase day (Fader & Hardie 2013),
 *   minor units of the reporting currency;
 * - clv_365d: expected orders × expected spend over 365 days × CLV_MARGIN, discounted monthly by
 *   CLV_MONTHLY_DISCOUNT as recorded in the model (packages/clv customerValue, design-decisions §19), minor units.
 * All null without a model in force or without a purchase day. Without events they only fall as T grows (p_alive,
 * expected_orders_*, clv_365d) or stay (expected_aov): metrics.ts declares them decreasing for the due search.
 */
import { conditionalExpectedPurchases, customerValue, pAlive } from '@tierstream/clv';
import { type ClvModel, clvStats, DAYS_PER_UNIT } from './clv-model';
import type { Metrics } from './metrics';

/** The prediction metrics, in the order they are written. */
export const CLV_PREDICTION_METRICS = [
  'p_alive',
  'expected_orders_90d',
  'expected_orders_365d',
  'expected_aov',
  'clv_365d',
] as const;

const NONE: Metrics = Object.freeze({
  p_alive: null,
  expected_orders_90d: null,
  expected_orders_365d: null,
  expected_aov: null,
  clv_365d: null,
});

/**
 * The predictions of one customer from its metrics (which must hold the clv_* inputs as of the day), under `model`.
 * A formula that fails gives nulls rather than throwing, for its own metrics only: a Gamma-Gamma model without a mean
 * spend (q ≤ 1) nulls expected_aov and clv_365d, not p_alive and the expected orders (BG/NBD alone).
 */
export function clvPredictions(model: ClvModel | null, m: Metrics): Metrics {
  if (model === null) return NONE;
  const s = clvStats(m, model.timeUnit);
  if (s === null) return NONE;
  const unit = DAYS_PER_UNIT[model.timeUnit];
  const bg = model.bgnbd;
  let orders: Metrics;
  try {
    orders = {
      p_alive: pAlive(bg, s.x, s.tx, s.T),
      expected_orders_90d: conditionalExpectedPurchases(bg, 90 / unit, s.x, s.tx, s.T),
    };
  } catch {
    return NONE;
  }
  try {
    const value = customerValue(bg, model.gammaGamma, s, {
      horizonDays: 365,
      daysPerUnit: unit,
      marginRatio: model.margin,
      monthlyDiscountRate: model.monthlyDiscount,
    });
    return {
      ...orders,
      expected_orders_365d: value.expectedOrders,
      expected_aov: value.expectedSpend,
      clv_365d: value.clv,
    };
  } catch {
    // The spend part failed (q ≤ 1, a bad margin or rate): the BG/NBD expectation stands alone (if it fails too, NONE).
    try {
      const expected365 = conditionalExpectedPurchases(bg, 365 / unit, s.x, s.tx, s.T);
      return { ...orders, expected_orders_365d: expected365, expected_aov: null, clv_365d: null };
    } catch {
      return NONE;
    }
  }
}
