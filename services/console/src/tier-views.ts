/**
 * Pure shaping of warehouse rows into what the Overview and Movements pages draw: dimensions with their tiers in the
 * rules' order, dense day series for the charts, the migration matrix with shares, counts per tier. No I/O.
 * Days are ISO strings 'YYYY-MM-DD' (UTC); counts are customers or transitions.
 */
import type { Rules } from '@tierstream/tiering';

/** The label of "no tier on that day" (not a customer yet, or no tier in the dimension), as in the SQL pack. */
export const NO_TIER = '(none)';

const DAY_MS = 86_400_000;

/** A dimension as the pages show it: its tiers best first (the rules' order), `ordered` as in the rules. */
export interface DimensionInfo {
  id: string;
  tiers: string[];
  ordered: boolean;
}

/** The day `n` days after `day` (n may be negative). */
export function addDays(day: string, n: number): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + n * DAY_MS).toISOString().slice(0, 10);
}

/** Number of days from `from` to `to` (negative when `to` is earlier). */
export function daysBetween(from: string, to: string): number {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / DAY_MS);
}

/** Every day from `from` to `to`, inclusive ([] when `to` < `from`). */
export function dayRange(from: string, to: string): string[] {
  const n = daysBetween(from, to);
  return Array.from({ length: Math.max(n + 1, 0) }, (_, i) => addDays(from, i));
}

/**
 * The dimensions to offer: those of the active rules in their order (tiers best first), then any other dimension the
 * warehouse has (`seen`, e.g. from an earlier rules version) with no known tiers. `rules` null: `seen` sorted.
 */
export function dimensionCatalog(rules: Pick<Rules, 'dimensions'> | null, seen: readonly string[]): DimensionInfo[] {
  const out: DimensionInfo[] = (rules?.dimensions ?? []).map((d) => ({
    id: d.id,
    tiers: [...d.tiers],
    ordered: d.ordered,
  }));
  for (const id of [...seen].sort()) if (!out.some((d) => d.id === id)) out.push({ id, tiers: [], ordered: false });
  return out;
}

/** `present` ordered as in `known` (the rules' order), then the others alphabetically, `(none)` last. */
export function orderTiers(known: readonly string[], present: Iterable<string>): string[] {
  const set = new Set(present);
  const first = known.filter((t) => set.has(t));
  const rest = [...set].filter((t) => !known.includes(t) && t !== NO_TIER).sort();
  return [...first, ...rest, ...(set.has(NO_TIER) ? [NO_TIER] : [])];
}

/** One line of a stacked chart: a value per day of `days`. */
export interface DaySeries {
  name: string;
  values: number[];
}

/**
 * Dense per-day series from sparse rows (`day`, a series key, a count): one series per key (ordered by `order`), one
 * value per day from `from` to `to`, 0 where a row is missing. Rows outside the range are ignored.
 */
export function daySeries<R extends { day: string }>(
  rows: readonly R[],
  from: string,
  to: string,
  key: (row: R) => string,
  value: (row: R) => number,
  order: (keys: Iterable<string>) => string[],
): { days: string[]; series: DaySeries[] } {
  const days = dayRange(from, to);
  const index = new Map(days.map((d, i) => [d, i]));
  const byKey = new Map<string, number[]>();
  for (const row of rows) {
    const i = index.get(row.day);
    if (i === undefined) continue;
    const k = key(row);
    let values = byKey.get(k);
    if (!values) {
      values = new Array<number>(days.length).fill(0);
      byKey.set(k, values);
    }
    values[i] = (values[i] as number) + value(row);
  }
  return { days, series: order(byKey.keys()).map((name) => ({ name, values: byKey.get(name) as number[] })) };
}

/** A row of the SQL pack's migration_matrix. */
export interface MatrixRow {
  from_tier: string;
  to_tier: string;
  customers: number;
}

export interface MatrixCell extends MatrixRow {
  /** customers / all customers in `from_tier` on the first day (0..1); the row's shares add up to 1. */
  share: number;
}

/** The migration matrix between two days as the heatmap draws it. */
export interface MigrationMatrix {
  /** Rows (tiers on the first day) and columns (tiers on the second day), best first, `(none)` last. */
  from_tiers: string[];
  to_tiers: string[];
  /** Only the non-empty cells. */
  cells: MatrixCell[];
  /** Customers per tier on the first day (row sums) and on the second day (column sums). */
  from_totals: Record<string, number>;
  to_totals: Record<string, number>;
  /** All customers counted; those in the same tier on both days; those in another tier on the second day. */
  total: number;
  stayed: number;
  moved: number;
}

/** The matrix with shares of each row, in the tier order of `tiers` (the dimension's tiers, best first). */
export function migrationMatrix(rows: readonly MatrixRow[], tiers: readonly string[]): MigrationMatrix {
  const from_totals: Record<string, number> = {};
  const to_totals: Record<string, number> = {};
  let total = 0;
  let stayed = 0;
  for (const r of rows) {
    from_totals[r.from_tier] = (from_totals[r.from_tier] ?? 0) + r.customers;
    to_totals[r.to_tier] = (to_totals[r.to_tier] ?? 0) + r.customers;
    total += r.customers;
    if (r.from_tier === r.to_tier) stayed += r.customers;
  }
  const from_tiers = orderTiers(tiers, Object.keys(from_totals));
  const to_tiers = orderTiers(tiers, Object.keys(to_totals));
  const cells = rows
    .filter((r) => r.customers > 0)
    .map((r) => ({ ...r, share: r.customers / (from_totals[r.from_tier] as number) }))
    .sort(
      (a, b) =>
        from_tiers.indexOf(a.from_tier) - from_tiers.indexOf(b.from_tier) ||
        to_tiers.indexOf(a.to_tier) - to_tiers.indexOf(b.to_tier),
    );
  return { from_tiers, to_tiers, cells, from_totals, to_totals, total, stayed, moved: total - stayed };
}

/** Customers per tier of one dimension now, from the current_counts query (tier '' = no tier in the dimension). */
export interface TierCounts {
  /** Tiers with customers, best first, each with its share of the customers that have a tier. */
  tiers: Array<{ tier: string; customers: number; share: number }>;
  /** Customers with a tier in the dimension; customers without one (e.g. PROSPECTs in value_tier). */
  total: number;
  without_tier: number;
  /** The latest day the current rows' metrics are as of (null when there is no row). */
  metrics_day: string | null;
}

export function tierCounts(
  rows: ReadonlyArray<{ tier: string; customers: number; metrics_day: string }>,
  tiers: readonly string[],
): TierCounts {
  const withTier = rows.filter((r) => r.tier !== '');
  const total = withTier.reduce((n, r) => n + r.customers, 0);
  const byTier = new Map(withTier.map((r) => [r.tier, r.customers]));
  const metricsDay = rows.reduce<string | null>((m, r) => (m === null || r.metrics_day > m ? r.metrics_day : m), null);
  return {
    tiers: orderTiers(tiers, byTier.keys()).map((tier) => {
      const customers = byTier.get(tier) as number;
      return { tier, customers, share: total === 0 ? 0 : customers / total };
    }),
    total,
    without_tier: rows.find((r) => r.tier === '')?.customers ?? 0,
    metrics_day: metricsDay,
  };
}
