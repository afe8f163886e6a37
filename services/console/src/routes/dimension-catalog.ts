import type { Rules } from '@tierstream/tiering';
import type { DimensionInfo } from '../tier-views';
import { type ReadClients, readDataRange, readDimensions } from '../warehouse-reads';

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
