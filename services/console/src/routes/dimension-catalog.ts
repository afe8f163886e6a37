import type { Rules } from '@tierstream/tiering';
import { addDays, type DimensionInfo } from '../tier-views';
import { type ReadClients, readDataRange, readDimensions } from '../warehouse-reads';
import { checkDimension, checkRange, MAX_RANGE_DAYS } from './params';

/** What the Overview and Movements routes look up on most requests: the dimensions and the data's day range. */
export interface Catalog {
  rules: Rules | null;
  dimensions: DimensionInfo[];
  range: { from: string; to: string } | null;
}

/**
 * The catalog, read at most once per `ttlMs` (a page asks for several parts at once; a rules change or new data shows
 * within the TTL). A failed read is not kept.
 */
export function catalogReader(clients: ReadClients, ttlMs = 5_000, now = () => Date.now()): () => Promise<Catalog> {
  let cached: { at: number; value: Promise<Catalog> } | null = null;
  return () => {
    const t = now();
    if (cached && t - cached.at < ttlMs) return cached.value;
    const value = Promise.all([readDimensions(clients), readDataRange(clients)]).then(([d, range]) => ({
      ...d,
      range,
    }));
    const entry = { at: t, value };
    cached = entry;
    value.catch(() => {
      if (cached === entry) cached = null;
    });
    return value;
  };
}

/** The tiers of `dimension` best first ([] when the catalog does not know them). */
export function tiersOf(catalog: Catalog, dimension: string): string[] {
  return catalog.dimensions.find((d) => d.id === dimension)?.tiers ?? [];
}

/**
 * The request's dimension checked against the catalog (when given) and its days: `to` defaults to the data's last day
 * (`today` without data), `from` to the data's first day but at most MAX_RANGE_DAYS before `to`. HttpError 400 for an
 * unknown dimension or a range out of order or too long.
 */
export function resolveRange(
  catalog: Catalog,
  q: { dimension?: string; from?: string; to?: string },
  today: string,
): { from: string; to: string } {
  if (q.dimension) checkDimension(q.dimension, catalog.dimensions);
  const to = q.to ?? catalog.range?.to ?? today;
  const earliest = addDays(to, -(MAX_RANGE_DAYS - 1));
  // ISO days compare as strings: the data's first day, moved into [earliest, to].
  let from = q.from ?? catalog.range?.from ?? to;
  if (q.from === undefined) {
    if (from < earliest) from = earliest;
    if (from > to) from = to;
  }
  checkRange(from, to);
  return { from, to };
}
