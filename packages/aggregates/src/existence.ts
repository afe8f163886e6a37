import type { AggregateConfig } from './config';
import { type AggregateState, type Metrics, metricsAt } from './metrics';
import { AggregateTimeline } from './timeline';

/**
 * The first day this customer has any activity in its aggregates; -Infinity when old activity was already folded
 * out of the day buckets (the customer certainly existed), null when there is none. Pure.
 */
export function firstActivityDay(agg: AggregateState, timeline: AggregateTimeline): number | null {
  if (
    agg.orderBase.count !== 0 ||
    agg.orderBase.lastPlacedAt !== null ||
    agg.webBaseLastSeenAt !== null ||
    agg.ticketBase.lastTicketAt !== null
  ) {
    return Number.NEGATIVE_INFINITY;
  }
  return timeline.firstEventDayAfter(Number.NEGATIVE_INFINITY);
}

/**
 * A customer's population metrics as of the close of UTC day `day` (days since 1970-01-01): its metrics then, or
 * null when it does not exist yet as of that day (no activity on or before it). The population of a rules change's
 * cut points (design-decisions §20) is every customer with a tier state for which this is not null; the tier engine
 * and `tierctl rules diff` both use it. Pure.
 */
export function populationMetricsAsOf(agg: AggregateState, day: number, config: AggregateConfig): Metrics | null {
  const first = firstActivityDay(agg, new AggregateTimeline(agg, config));
  if (first === null || first > day) return null;
  return metricsAt(agg, (day + 1) * 86_400_000 - 1, config);
}
