import type { OutgoingRecord } from '@tierstream/kafka';
import { type Metrics, type Rules, ruleMetricNames } from '@tierstream/tiering';

/**
 * Metrics always copied into tier-change, metric-history and snapshot rows (the warehouse columns analysts use); the
 * engine adds every metric its rules read (`rowMetricNames`), so each number a decision used is stored with the tiers.
 */
export const ROW_METRICS = [
  'revenue_lifetime',
  'revenue_365d',
  'revenue_90d',
  'margin_365d',
  'orders_lifetime',
  'orders_365d',
  'aov_lifetime',
  'recency_days',
  'tenure_days',
  'first_order_at',
  'last_order_at',
  'engagement_score',
  'complaints_90d',
  'escalations_90d',
  'csat_avg_90d',
  'open_tickets',
] as const;

/** The metrics stored with the tiers under `rules`: ROW_METRICS and every metric the rules read, sorted. */
export function rowMetricNames(rules: Rules): string[] {
  return [...new Set([...ROW_METRICS, ...ruleMetricNames(rules)])].sort();
}

/** The finite values of `names` (default ROW_METRICS) in `metrics`; null and missing metrics are left out. */
export function projectMetrics(metrics: Metrics, names: readonly string[] = ROW_METRICS): Record<string, number> {
  const out: Record<string, number> = {};
  for (const name of names) {
    const v = metrics[name];
    if (v !== null && v !== undefined && Number.isFinite(v)) out[name] = v;
  }
  return out;
}

/** Bytes of record values per produce request (well under Kafka's default message.max.bytes of 1 MB). */
export const SEND_CHUNK_BYTES = 256 * 1024;

/**
 * Splits topic batches into consecutive groups of at most `maxBytes` of values (a single larger record goes alone);
 * the order of each topic's records is kept.
 */
export function chunkBatches(
  batches: Array<{ topic: string; records: OutgoingRecord[] }>,
  maxBytes: number,
): Array<Array<{ topic: string; records: OutgoingRecord[] }>> {
  const chunks: Array<Array<{ topic: string; records: OutgoingRecord[] }>> = [];
  let current: Array<{ topic: string; records: OutgoingRecord[] }> = [];
  let bytes = 0;
  let count = 0;
  for (const b of batches) {
    let slice: OutgoingRecord[] = [];
    for (const r of b.records) {
      const size = r.value.length;
      if (bytes + size > maxBytes && count > 0) {
        if (slice.length > 0) current.push({ topic: b.topic, records: slice });
        chunks.push(current);
        current = [];
        slice = [];
        bytes = 0;
        count = 0;
      }
      slice.push(r);
      bytes += size;
      count++;
    }
    if (slice.length > 0) current.push({ topic: b.topic, records: slice });
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}
