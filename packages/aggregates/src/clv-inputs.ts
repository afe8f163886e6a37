/**
 * The CLV model inputs (issue 15) from the aggregates, as of any day: the BG/NBD sufficient statistics (x, t_x, T;
 * Fader, Hardie & Lee 2005) and the Gamma-Gamma mean spend (zbar; Fader & Hardie 2013). Definitions (README "CLV
 * inputs"): a purchase day is a day with an order that is not cancelled as of the day asked for (same-day orders
 * merge); x = purchase days − 1 (repeat purchase days); t_x = last purchase day − first; T = as-of day − first
 * purchase day (t_x and T in weeks = days / 7); zbar = mean spend of the repeat purchase days, in minor units of the
 * reporting currency (a day's spend = net revenue of its orders as of the day asked for; null without a repeat day).
 * Pure: reads a decoded AggregateState only (the types are imported, nothing at run time, so metrics.ts can use it).
 */

import { countUpTo } from './math';
import type { AggregateState, Metrics, OrderAdjustment } from './metrics';

/** The metric names this module adds to metricsAt. */
export const CLV_INPUT_METRICS = ['clv_x', 'clv_t_x_weeks', 'clv_T_weeks', 'clv_zbar'] as const;

const DAY_MS = 86_400_000;
const DAYS_PER_WEEK = 7;

/**
 * A customer's purchase days, indexed once for evaluation as of many days: the days with a live order (retained
 * buckets with a live placed time, folded days marked as purchase days in `pd`), the retained days whose only orders
 * were cancelled on a later day (purchase days as of the days before that), and the spend of each order day.
 * Copies what it needs: later changes to the state are not seen.
 */
export class PurchaseDays {
  /** Ascending days that are purchase days as of every day from their own on. */
  private readonly liveDays: number[];
  private readonly live: Set<number>;
  /** Days with no live order whose orders were cancelled later: purchase days as of [day, until). */
  private readonly conditional: Array<{ day: number; until: number }>;
  /** Spend of an order day without its later adjustments: bucket revenue + folded revenue (minor units). */
  private readonly spend = new Map<number, number>();
  /** Reversals on a later day than their order's (they count from their effective day on). */
  private readonly adjustments: OrderAdjustment[];

  constructor(state: AggregateState) {
    const live: number[] = [];
    this.conditional = [];
    for (const [d, e] of state.orderDayBase) {
      if (e.purchase) live.push(d);
      this.spend.set(d, (this.spend.get(d) ?? 0) + e.revenue);
    }
    for (const [d, b] of state.orders) {
      this.spend.set(d, (this.spend.get(d) ?? 0) + b.revenue);
      if (b.lastPlacedAt !== null) live.push(d);
      else if (b.cancelled && b.cancelled.length > 0) {
        this.conditional.push({ day: d, until: Math.max(...b.cancelled.map((c) => c.fromDay)) });
      }
    }
    this.live = new Set(live);
    this.liveDays = [...this.live].sort((a, b) => a - b);
    this.conditional = this.conditional.filter((c) => !this.live.has(c.day));
    this.adjustments = state.adjustments.map((a) => ({ ...a }));
  }

  /** Purchase days ≤ D as of day D, the first of them (null if none) and that day's spend as of D (minor units). */
  at(D: number): { count: number; firstDay: number | null; firstSpend: number } {
    let count = countUpTo(this.liveDays, D);
    let firstDay = count > 0 ? this.liveDays[0]! : null;
    for (const c of this.conditional) {
      if (c.day > D || c.until <= D) continue;
      count++;
      if (firstDay === null || c.day < firstDay) firstDay = c.day;
    }
    if (firstDay === null) return { count, firstDay, firstSpend: 0 };
    let firstSpend = this.spend.get(firstDay) ?? 0;
    for (const a of this.adjustments) if (a.orderDay === firstDay && a.effectiveDay <= D) firstSpend += a.revenue;
    return { count, firstDay, firstSpend };
  }
}

/**
 * Writes clv_x, clv_t_x_weeks, clv_T_weeks and clv_zbar as of day D into `m`, which must already hold
 * first_order_at, last_order_at and revenue_lifetime as of D (metricsAt computes them first). All four are null for a
 * customer without a purchase day; clv_zbar is also null when x = 0.
 */
export function addClvInputs(m: Metrics, days: PurchaseDays, D: number): void {
  const first = m.first_order_at ?? null;
  const last = m.last_order_at ?? null;
  const p = days.at(D);
  const x = p.count > 0 ? p.count - 1 : null;
  m.clv_x = x;
  m.clv_t_x_weeks =
    first === null || last === null ? null : (Math.floor(last / DAY_MS) - Math.floor(first / DAY_MS)) / DAYS_PER_WEEK;
  m.clv_T_weeks = first === null ? null : (D - Math.floor(first / DAY_MS)) / DAYS_PER_WEEK;
  m.clv_zbar = x !== null && x > 0 ? ((m.revenue_lifetime ?? 0) - p.firstSpend) / x : null;
}
