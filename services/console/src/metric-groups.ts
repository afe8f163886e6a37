/**
 * How the console groups and formats a customer's metrics (pure). Groups follow the practice's reading order —
 * value, frequency, recency, engagement, service — with anything else (CLV model inputs, metrics a later version
 * adds) under `other`, so no metric is ever hidden.
 */
export const METRIC_GROUPS = ['value', 'frequency', 'recency', 'engagement', 'service', 'other'] as const;
export type MetricGroup = (typeof METRIC_GROUPS)[number];

/**
 * How a metric's number reads: `money` minor units of the reporting currency, `instant` epoch milliseconds, `days` a
 * number of days, `count` an integer, `score` any other number (scores, probabilities, averages).
 */
export type MetricKind = 'money' | 'instant' | 'days' | 'count' | 'score';

/** The group of a metric name. */
export function metricGroup(name: string): MetricGroup {
  if (/^(revenue|margin|aov)_/.test(name) || name === 'clv_365d' || name === 'expected_aov') return 'value';
  if (/^(orders|expected_orders)_/.test(name)) return 'frequency';
  if (['recency_days', 'first_order_at', 'last_order_at', 'tenure_days', 'p_alive'].includes(name)) return 'recency';
  if (name === 'engagement_score' || /^web_/.test(name) || name === 'last_seen_at' || name === 'days_since_last_seen')
    return 'engagement';
  if (/^(tickets|complaints|escalations)_/.test(name)) return 'service';
  if (['open_tickets', 'csat_avg_90d', 'avg_resolve_hours', 'last_ticket_at', 'days_since_last_ticket'].includes(name))
    return 'service';
  return 'other';
}

/** The kind of a metric name (see MetricKind). */
export function metricKind(name: string): MetricKind {
  if (metricGroup(name) === 'value') return 'money';
  if (name.endsWith('_at')) return 'instant';
  if (name.endsWith('_days') || name.startsWith('days_since_')) return 'days';
  if (/^(orders|tickets|complaints|escalations|web_[a-z_]+)_(lifetime|30d|90d|365d)$/.test(name)) return 'count';
  if (name === 'open_tickets' || name.startsWith('web_events_')) return 'count';
  return 'score';
}

/** Metric names by group (each group's names sorted), only groups that have metrics, in METRIC_GROUPS order. */
export function groupMetrics(names: Iterable<string>): Partial<Record<MetricGroup, string[]>> {
  const out: Partial<Record<MetricGroup, string[]>> = {};
  for (const name of names) {
    const group = metricGroup(name);
    out[group] = [...(out[group] ?? []), name];
  }
  const ordered: Partial<Record<MetricGroup, string[]>> = {};
  for (const g of METRIC_GROUPS) if (out[g]) ordered[g] = out[g].sort();
  return ordered;
}
