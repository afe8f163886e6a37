/**
 * Customer lifetime value over a finite horizon: BG/NBD expected orders (FHL 2005 eq. 10) × Gamma-Gamma expected
 * spend per order (Fader & Hardie 2013), times an optional margin ratio, with optional monthly discounting.
 *
 * Discounting (docs/design-decisions.md §19): the horizon is cut into months of 365.25 / 12 days; the expected orders
 * of month k, E[Y(t_k)] − E[Y(t_{k−1})], are valued at the month's end and discounted by (1 + d)^(t_k / month), d the
 * monthly rate; a last partial month is discounted at its own end (fractional exponent). This is the discrete
 * end-of-period approximation of the discounted expected transactions (DET) of Fader, Hardie & Lee (2005b), "RFM and
 * CLV: Using Iso-Value Curves for Customer Base Analysis", Journal of Marketing Research 42(4), truncated at the
 * horizon instead of their infinite-horizon DERT; with d = 0 it is exactly E[Y(horizon)] × E[Z] × margin.
 */
import { type BgNbdParams, checkBgNbdParams, conditionalExpectedPurchases } from './bgnbd';
import { checkGammaGammaParams, conditionalExpectedSpend, type GammaGammaParams } from './gamma-gamma';

/** Options of {@link customerValue}. */
export interface ClvOptions {
  /** Horizon in days (365 for clv_365d). */
  horizonDays: number;
  /** Days per model time unit, as in the statistics (7 = weeks, default). */
  daysPerUnit?: number;
  /** Share of the spend that is margin, in [0, 1] (default 1: value = revenue). */
  marginRatio?: number;
  /** Discount rate per month (default 0), e.g. 0.01 for 1 % a month; months are 365.25 / 12 days. */
  monthlyDiscountRate?: number;
}

/** A customer's inputs: BG/NBD statistics (model time units) and mean repeat spend zbar (minor units). */
export interface ClvInputs {
  x: number;
  tx: number;
  T: number;
  zbar: number;
}

/** Result of {@link customerValue}. Money in the unit of zbar and γ (minor units in the engine). */
export interface CustomerValue {
  /** E[Y(horizon) | x, t_x, T], undiscounted expected orders over the horizon. */
  expectedOrders: number;
  /** Gamma-Gamma conditional expected spend per order. */
  expectedSpend: number;
  /** Σ_k (E[Y(t_k)] − E[Y(t_{k−1})]) / (1 + d)^(t_k / month) × expected spend × margin ratio. */
  clv: number;
}

/** Days in the month used for discounting: 365.25 / 12 = 30.4375. */
export const DAYS_PER_MONTH = 365.25 / 12;

/**
 * Expected orders, expected spend and CLV of one customer over `horizonDays` from its as-of day T.
 * @throws Error on a parameter that is not a finite number > 0, a negative horizon, a margin ratio outside [0, 1],
 *   a discount rate ≤ −1, or the model errors (q ≤ 1, a non-finite ₂F₁).
 */
export function customerValue(
  bg: BgNbdParams,
  gg: GammaGammaParams,
  inputs: ClvInputs,
  options: ClvOptions,
): CustomerValue {
  checkBgNbdParams(bg);
  checkGammaGammaParams(gg);
  const unit = options.daysPerUnit ?? 7;
  const margin = options.marginRatio ?? 1;
  const d = options.monthlyDiscountRate ?? 0;
  if (!(options.horizonDays >= 0)) throw new Error(`CLV horizon must be ≥ 0 days, got ${options.horizonDays}`);
  if (!(margin >= 0 && margin <= 1)) throw new Error(`CLV margin ratio must be in [0, 1], got ${margin}`);
  if (!(d > -1)) throw new Error(`CLV monthly discount rate must be > −1, got ${d}`);
  const { x, tx, T, zbar } = inputs;
  const expectedSpend = conditionalExpectedSpend(gg, x, zbar);
  const ey = (days: number) => conditionalExpectedPurchases(bg, days / unit, x, tx, T);
  const expectedOrders = ey(options.horizonDays);
  let discountedOrders = expectedOrders;
  if (d !== 0) {
    discountedOrders = 0;
    let previous = 0;
    for (let start = 0; start < options.horizonDays; start += DAYS_PER_MONTH) {
      const end = Math.min(start + DAYS_PER_MONTH, options.horizonDays);
      const current = ey(end);
      discountedOrders += (current - previous) / (1 + d) ** (end / DAYS_PER_MONTH);
      previous = current;
    }
  }
  return { expectedOrders, expectedSpend, clv: discountedOrders * expectedSpend * margin };
}
