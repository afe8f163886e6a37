// The web_* metric names are derived from the Avro contract's behaviour types, so they cannot drift from it.
// Imported from the pure types module only: the contracts barrel also pulls in avsc and file-reading helpers.
import { WEB_BEHAVIOR_TYPES } from '../../contracts/src/types';

/** Flat metrics of one customer as of one UTC day (computed by @tierstream/aggregates). */
export type Metrics = Record<string, number | null>;

/** Customer attributes a rules file may test (from the latest order event that carried them). */
export interface Attributes {
  industry?: string | null;
  company_size?: number | null;
  region?: string | null;
}

export const WINDOWS = ['30d', '90d', '365d'] as const;
export type Window = (typeof WINDOWS)[number];

const windowed = (base: string, withLifetime: boolean): string[] => [
  ...(withLifetime ? [`${base}_lifetime`] : []),
  ...WINDOWS.map((w) => `${base}_${w}`),
];

/** Every metric name a rules file may reference. Unknown names are a validation error. */
export const KNOWN_METRICS: readonly string[] = Object.freeze([
  ...windowed('orders', true),
  ...windowed('revenue', true),
  'revenue_prev_90d',
  'margin_lifetime',
  'margin_365d',
  'aov_lifetime',
  'first_order_at',
  'last_order_at',
  'recency_days',
  'tenure_days',
  'engagement_score',
  'web_events_30d',
  'web_events_90d',
  ...WEB_BEHAVIOR_TYPES.flatMap((t) => windowed(`web_${t.toLowerCase()}`, false)),
  'last_seen_at',
  'days_since_last_seen',
  'open_tickets',
  ...windowed('tickets', false),
  ...windowed('complaints', false),
  ...windowed('escalations', false),
  'csat_avg_90d',
  'avg_resolve_hours',
  'last_ticket_at',
  'days_since_last_ticket',
  // CLV predictions (issue 15, clv-predictions.ts): from the model in force and the customer's purchase days.
  'p_alive',
  'expected_orders_90d',
  'expected_orders_365d',
  'expected_aov',
  'clv_365d',
]);

/** Metrics that grow by exactly 1 per day while no event arrives (null stays null). */
export const DAY_LINEAR_METRICS: ReadonlySet<string> = new Set([
  'recency_days',
  'tenure_days',
  'days_since_last_seen',
  'days_since_last_ticket',
]);

/** Metrics that only decrease (never increase) while no event arrives. */
export const DECREASING_METRICS: ReadonlySet<string> = new Set([
  'engagement_score',
  // While no event arrives and the CLV model in force stays, T grows and these fall (clv-predictions.ts); a new
  // model version is a jump day of every customer that uses them (the engine's due days).
  'p_alive',
  'expected_orders_90d',
  'expected_orders_365d',
  'clv_365d',
]);

/** How a metric moves over days without events, between two roll-off days. */
export function metricDrift(metric: string): 'inc1' | 'dec' | 'const' {
  if (DAY_LINEAR_METRICS.has(metric)) return 'inc1';
  if (DECREASING_METRICS.has(metric)) return 'dec';
  return 'const';
}

/** Up to `max` known names closest to `name` (edit distance, substring matches first), for "did you mean". */
export function closeMetricNames(name: string, max = 3): string[] {
  const scored = KNOWN_METRICS.map((m) => {
    let d = editDistance(name, m);
    if (m.includes(name) || name.includes(m)) d = Math.min(d, 1);
    return { m, d };
  });
  const limit = Math.max(3, Math.floor(name.length / 3));
  return scored
    .filter((s) => s.d <= limit)
    .sort((a, b) => a.d - b.d || (a.m < b.m ? -1 : 1))
    .slice(0, max)
    .map((s) => s.m);
}

/** Optimal string alignment distance (edits, with a swap of two neighbours counting as one edit). */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}
