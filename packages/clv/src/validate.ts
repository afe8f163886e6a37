/**
 * Calibration/holdout validation of a BG/NBD fit, as in Fader, Hardie & Lee (2005), section 4 (CDNOW): the weekly
 * tracking of cumulative repeat transactions (their Figure 2) and the conditional expectations of holdout
 * transactions by number of calibration repeat transactions (their Figure 4). Pure: the caller reads the data.
 */
import { type BgNbdParams, conditionalExpectedPurchases, expectedPurchases } from './bgnbd';
import { compressBgNbd, type FitOptions, type FitResult, fitBgNbd, fitGammaGamma } from './fit';
import type { GammaGammaParams } from './gamma-gamma';
import { type CustomerStats, type PurchaseDay, purchaseDaysBetween, sufficientStats } from './stats';

/** One customer's purchases (any order, several a day allowed). */
export interface CustomerHistory {
  id: string;
  purchases: readonly PurchaseDay[];
}

/** The periods of a validation, as integer day numbers (inclusive ends). */
export interface ValidationSplit {
  /** First day of period 1 (1997-01-01 for CDNOW). */
  startDay: number;
  /** Last day of the calibration period (1997-09-30 for CDNOW: the end of week 39). */
  calibrationEndDay: number;
  /** Last day of the holdout period (1998-06-30 for CDNOW: the end of week 78). */
  holdoutEndDay: number;
  /** Days per model time unit and per tracking period (7: weeks). */
  daysPerUnit?: number;
}

/** A customer in the calibration period, with its holdout purchase days. */
export interface CalibrationRow extends CustomerStats {
  id: string;
  /** Purchase days after calibrationEndDay up to holdoutEndDay (same-day orders merged). */
  holdout: number;
}

/**
 * Sufficient statistics at the end of the calibration period and the holdout purchase days of every customer whose
 * first purchase is in the calibration period (others are left out, as in FHL 2005). Keeps the input order.
 */
export function calibrationRows(histories: readonly CustomerHistory[], split: ValidationSplit): CalibrationRow[] {
  const rows: CalibrationRow[] = [];
  for (const h of histories) {
    const stats = sufficientStats(h.purchases, split.calibrationEndDay, { daysPerUnit: split.daysPerUnit ?? 7 });
    if (!stats) continue;
    const holdout = purchaseDaysBetween(h.purchases, split.calibrationEndDay, split.holdoutEndDay);
    rows.push({ id: h.id, ...stats, holdout });
  }
  return rows;
}

/** One tracking period: cumulative repeat transactions up to its last day, actual and predicted. */
export interface TrackingRow {
  /** 1-based period (week) number. */
  period: number;
  /** Day number of the period's last day. */
  endDay: number;
  /** Repeat purchase days (all customers, same-day orders merged) on or before endDay. */
  actual: number;
  /** Σ over customers first seen on or before endDay of E[X((endDay − first day) / daysPerUnit)] (FHL 2005 eq. 9). */
  predicted: number;
}

/**
 * Weekly tracking of cumulative repeat transactions, predicted vs actual, from `startDay` to `holdoutEndDay`
 * (FHL 2005, Figure 2). A customer's clock starts on its first purchase day, measured like T (stats.ts). Customers
 * sharing a first day share the E[X] computation, so the cost is (distinct first days × periods) ₂F₁ calls.
 */
export function weeklyTracking(
  params: BgNbdParams,
  histories: readonly CustomerHistory[],
  split: ValidationSplit,
): TrackingRow[] {
  const unit = split.daysPerUnit ?? 7;
  const firstDays = new Map<number, number>(); // first day → customers
  const repeatDays: number[] = [];
  for (const h of histories) {
    const days = [...new Set(h.purchases.map((p) => p.day))].sort((a, b) => a - b);
    if (days.length === 0) continue;
    firstDays.set(days[0]!, (firstDays.get(days[0]!) ?? 0) + 1);
    for (let i = 1; i < days.length; i++) repeatDays.push(days[i]!);
  }
  repeatDays.sort((a, b) => a - b);
  const rows: TrackingRow[] = [];
  const periods = Math.ceil((split.holdoutEndDay - split.startDay + 1) / unit);
  let k = 0;
  for (let period = 1; period <= periods; period++) {
    const endDay = Math.min(split.startDay + period * unit - 1, split.holdoutEndDay);
    while (k < repeatDays.length && repeatDays[k]! <= endDay) k++;
    let predicted = 0;
    for (const [first, n] of firstDays) {
      if (first <= endDay) predicted += n * expectedPurchases(params, (endDay - first) / unit);
    }
    rows.push({ period, endDay, actual: k, predicted });
  }
  return rows;
}

/** One line of the conditional-expectation table: customers with `x` calibration repeat transactions. */
export interface ConditionalRow {
  /** Calibration repeat transactions; the last row holds every x ≥ its value (`xOrMore` true). */
  x: number;
  xOrMore: boolean;
  customers: number;
  /** Holdout transactions, summed and per customer. */
  actualTotal: number;
  actualMean: number;
  /** Σ and mean of E[Y(holdout length) | x, t_x, T] (FHL 2005 eq. 10). */
  predictedTotal: number;
  predictedMean: number;
}

/** The validate table: calibration fit, conditional expectations by x, totals. */
export interface ValidationTable {
  /** Holdout length in model units (39 weeks for CDNOW). */
  horizon: number;
  rows: ConditionalRow[];
  total: { customers: number; actual: number; predicted: number };
}

/**
 * Conditional expectations of holdout purchases by calibration frequency (FHL 2005, Figure 4): rows x = 0 … maxX−1
 * and a last row x ≥ maxX (default 7). Empty groups are kept (customers 0, means NaN).
 */
export function conditionalExpectationTable(
  params: BgNbdParams,
  rows: readonly CalibrationRow[],
  split: ValidationSplit,
  maxX = 7,
): ValidationTable {
  const unit = split.daysPerUnit ?? 7;
  const horizon = (split.holdoutEndDay - split.calibrationEndDay) / unit;
  const groups = Array.from({ length: maxX + 1 }, (_, x) => ({ x, customers: 0, actual: 0, predicted: 0 }));
  for (const row of rows) {
    const g = groups[Math.min(row.x, maxX)]!;
    g.customers++;
    g.actual += row.holdout;
    g.predicted += conditionalExpectedPurchases(params, horizon, row.x, row.tx, row.T);
  }
  const out: ConditionalRow[] = groups.map((g) => ({
    x: g.x,
    xOrMore: g.x === maxX,
    customers: g.customers,
    actualTotal: g.actual,
    actualMean: g.actual / g.customers,
    predictedTotal: g.predicted,
    predictedMean: g.predicted / g.customers,
  }));
  const total = groups.reduce(
    (t, g) => ({
      customers: t.customers + g.customers,
      actual: t.actual + g.actual,
      predicted: t.predicted + g.predicted,
    }),
    { customers: 0, actual: 0, predicted: 0 },
  );
  return { horizon, rows: out, total };
}

/** Everything `tierctl clv validate` prints. */
export interface ValidationReport {
  bgnbd: FitResult<BgNbdParams>;
  /** Null when the calibration period has no repeat buyer with positive spend. */
  gammaGamma: FitResult<GammaGammaParams> | null;
  tracking: TrackingRow[];
  table: ValidationTable;
  /** Last tracking period: actual and predicted cumulative repeat transactions, and (predicted − actual) / actual. */
  end: { period: number; actual: number; predicted: number; relativeError: number };
}

/**
 * The calibration/holdout check of FHL 2005 §4 in one call: statistics at the calibration end, BG/NBD fit on them,
 * Gamma-Gamma fit on the repeat buyers with positive zbar (spend in the unit of the purchases: minor units), weekly
 * tracking and the conditional-expectation table.
 * @throws Error when no customer made a first purchase in the calibration period.
 */
export function runValidation(
  histories: readonly CustomerHistory[],
  split: ValidationSplit,
  options: FitOptions = {},
): ValidationReport {
  const rows = calibrationRows(histories, split);
  if (rows.length === 0) throw new Error('validation: no customer has a purchase in the calibration period');
  const bgnbd = fitBgNbd(compressBgNbd(rows), options);
  const repeat = rows.filter((r) => r.x > 0 && r.zbar > 0);
  const gammaGamma =
    repeat.length > 0 ? fitGammaGamma({ x: repeat.map((r) => r.x), zbar: repeat.map((r) => r.zbar) }, options) : null;
  const tracking = weeklyTracking(bgnbd.params, histories, split);
  const last = tracking[tracking.length - 1]!;
  return {
    bgnbd,
    gammaGamma,
    tracking,
    table: conditionalExpectationTable(bgnbd.params, rows, split),
    end: {
      period: last.period,
      actual: last.actual,
      predicted: last.predicted,
      relativeError: (last.predicted - last.actual) / last.actual,
    },
  };
}
