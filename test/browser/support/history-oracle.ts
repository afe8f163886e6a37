import type { ClickHouseClient } from '@clickhouse/client';

/**
 * What the Overview and Movements tests compare the pages with, worked out in TypeScript from the raw history rows
 * (not through the console's or the SQL pack's queries): a customer's tier on day D is the one of its latest
 * tier_history row (highest state_version of a (customer, valid_from)) with valid_from ≤ D; '(none)' before its first
 * row or when that row has no tier in the dimension.
 */
export const NONE = '(none)';

export interface HistoryRow {
  customer_id: string;
  valid_from: string;
  state_version: number;
  tier: string;
}

/** Rows of SQL `query` (JSONEachRow); 64-bit integers come back as strings. */
export async function rowsOf<T>(ch: ClickHouseClient, query: string): Promise<T[]> {
  return (await ch.query({ query, format: 'JSONEachRow' })).json<T>();
}

/** Every tier_history row of `dimension`, deduplicated here (no FINAL: the highest state_version per key wins). */
export async function tierHistory(ch: ClickHouseClient, db: string, dimension: string): Promise<HistoryRow[]> {
  const raw = await rowsOf<{ customer_id: string; valid_from: string; state_version: string; tier: string }>(
    ch,
    `SELECT customer_id, valid_from, toString(state_version) AS state_version, tiers[indexOf(dims, '${dimension}')] AS tier FROM ${db}.tier_history`,
  );
  const best = new Map<string, HistoryRow>();
  for (const r of raw) {
    const row = { ...r, state_version: Number(r.state_version) };
    const key = `${r.customer_id}\u0000${r.valid_from}`;
    const seen = best.get(key);
    if (!seen || row.state_version > seen.state_version) best.set(key, row);
  }
  return [...best.values()];
}

/** Each customer's tier on `day` ('(none)' when it has none). */
export function tiersOn(history: readonly HistoryRow[], day: string): Map<string, string> {
  const latest = new Map<string, HistoryRow>();
  for (const r of history) {
    if (r.valid_from > day) continue;
    const seen = latest.get(r.customer_id);
    if (!seen || r.valid_from > seen.valid_from) latest.set(r.customer_id, r);
  }
  const out = new Map<string, string>();
  for (const r of history) out.set(r.customer_id, NONE);
  for (const [c, r] of latest) out.set(c, r.tier === '' ? NONE : r.tier);
  return out;
}

/** Customers per tier on `day` (customers without a tier left out). */
export function countsOn(history: readonly HistoryRow[], day: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const t of tiersOn(history, day).values()) if (t !== NONE) out[t] = (out[t] ?? 0) + 1;
  return out;
}

/** The migration matrix from `from` to `to`: `"<from tier>→<to tier>"` → the customers, sorted by id. */
export function matrixOf(history: readonly HistoryRow[], from: string, to: string): Map<string, string[]> {
  const a = tiersOn(history, from);
  const b = tiersOn(history, to);
  const cells = new Map<string, string[]>();
  for (const [customer, tierFrom] of a) {
    const tierTo = b.get(customer) ?? NONE;
    if (tierFrom === NONE && tierTo === NONE) continue;
    const key = `${tierFrom}→${tierTo}`;
    cells.set(key, [...(cells.get(key) ?? []), customer]);
  }
  for (const list of cells.values()) list.sort();
  return cells;
}

/** The day `n` days after ISO day `day`. */
export function plusDays(day: string, n: number): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);
}
