/**
 * Per-customer sufficient statistics of the BG/NBD and Gamma-Gamma models, from a customer's purchase days.
 *
 * Conventions (those of Fader, Hardie & Lee 2005 on CDNOW, checked against the published customer 1 of the CDNOW
 * sample: x = 2, t_x = 30.43, T = 38.86):
 * - Days are integer day numbers (e.g. days since 1970-01-01 UTC, `Math.floor(ms / 86_400_000)`); several orders on
 *   one day are ONE purchase occasion (same-day orders merge, their amounts add up).
 * - Times are differences of day numbers divided by `daysPerUnit` (7 = weeks, the default; 1 = days): the first
 *   purchase day is time 0 and the as-of day is time T, so a purchase on the as-of day has t_x = T. With the CDNOW
 *   calibration ending 1997-09-30, a customer first seen 1997-01-01 has T = 272 / 7 = 38.857 weeks.
 */

/** One purchase day of one customer: `day` an integer day number, `amountMinor` the day's spend in minor units. */
export interface PurchaseDay {
  day: number;
  amountMinor: number;
}

/** Sufficient statistics of one customer as of one day. */
export interface CustomerStats {
  /** Repeat purchase days: distinct purchase days − 1 (≥ 0). */
  x: number;
  /** Time of the last purchase day since the first, in model time units (weeks by default); 0 when x = 0. */
  tx: number;
  /** Time from the first purchase day to the as-of day, in model time units (weeks by default); T ≥ t_x. */
  T: number;
  /**
   * Mean spend of the repeat purchase days (the first purchase day excluded), in minor units; 0 when x = 0.
   * The Gamma-Gamma model reads it for repeat buyers only.
   */
  zbar: number;
  /** Day number of the first purchase day. */
  firstDay: number;
  /** Day number of the last purchase day on or before the as-of day. */
  lastDay: number;
}

/** Options of {@link sufficientStats}. */
export interface StatsOptions {
  /** Days per model time unit: 7 (weeks, default) or 1 (days), or any positive number. */
  daysPerUnit?: number;
}

/**
 * Merges same-day purchases: returns the distinct purchase days on or before `asOfDay`, ascending, each with the sum
 * of its amounts (minor units). Input order does not matter.
 * @throws Error on a non-integer day or a non-finite amount.
 */
export function mergePurchaseDays(
  purchases: readonly PurchaseDay[],
  asOfDay = Number.POSITIVE_INFINITY,
): PurchaseDay[] {
  const byDay = new Map<number, number>();
  for (const p of purchases) {
    if (!Number.isInteger(p.day)) throw new Error(`purchase day ${p.day} is not an integer day number`);
    if (!Number.isFinite(p.amountMinor))
      throw new Error(`purchase amount ${p.amountMinor} on day ${p.day} is not finite`);
    if (p.day > asOfDay) continue;
    byDay.set(p.day, (byDay.get(p.day) ?? 0) + p.amountMinor);
  }
  return [...byDay.entries()].sort((a, b) => a[0] - b[0]).map(([day, amountMinor]) => ({ day, amountMinor }));
}

/**
 * BG/NBD and Gamma-Gamma sufficient statistics (x, t_x, T, zbar) of one customer as of `asOfDay` (inclusive):
 * purchases after `asOfDay` are ignored. Returns null when the customer has no purchase on or before `asOfDay`.
 * @param purchases the customer's purchases (any order, several per day allowed); `day` integer, `amountMinor` minor units
 * @param asOfDay integer day number the statistics are taken at (the end of the calibration period)
 * @throws Error on a non-integer day, a non-finite amount or a bad `daysPerUnit`.
 */
export function sufficientStats(
  purchases: readonly PurchaseDay[],
  asOfDay: number,
  options: StatsOptions = {},
): CustomerStats | null {
  const unit = options.daysPerUnit ?? 7;
  if (!(unit > 0) || !Number.isFinite(unit)) throw new Error(`daysPerUnit must be a positive number, got ${unit}`);
  const days = mergePurchaseDays(purchases, asOfDay);
  const first = days[0];
  const last = days[days.length - 1];
  if (first === undefined || last === undefined) return null;
  const x = days.length - 1;
  let repeatSpend = 0;
  for (let i = 1; i < days.length; i++) repeatSpend += days[i]!.amountMinor;
  return {
    x,
    tx: (last.day - first.day) / unit,
    T: (asOfDay - first.day) / unit,
    zbar: x > 0 ? repeatSpend / x : 0,
    firstDay: first.day,
    lastDay: last.day,
  };
}

/**
 * Number of purchase days (same-day orders merged) strictly after `fromDay` and on or before `toDay`: the actual
 * repeat transactions of a holdout period (fromDay = the calibration end day).
 */
export function purchaseDaysBetween(purchases: readonly PurchaseDay[], fromDay: number, toDay: number): number {
  const seen = new Set<number>();
  for (const p of purchases) if (p.day > fromDay && p.day <= toDay) seen.add(p.day);
  return seen.size;
}

/** Integer UTC day number (days since 1970-01-01) of a `YYYY-MM-DD` date or epoch milliseconds. */
export function dayNumber(date: string | number): number {
  const ms = typeof date === 'number' ? date : Date.parse(`${date}T00:00:00Z`);
  if (!Number.isFinite(ms)) throw new Error(`bad date ${date}`);
  return Math.floor(ms / 86_400_000);
}
