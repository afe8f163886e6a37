import type { ApplyResult } from '@tierstream/aggregates';
import type { ServiceMetrics } from '@tierstream/observability';
import type { Logger } from 'pino';

/**
 * Reports the money anomalies apply_events.lua found (docs/design-decisions.md §15): refunds beyond their order's
 * amount (capped away: no revenue effect) and reversals of orders older than the kept order states (no effect).
 * The script returns each anomaly only in the call that applied the event, so a redelivered batch reports nothing
 * again: one counter increment and one log line per customer and batch that found one.
 */
export function reportMoneyAnomalies(
  results: Map<string, ApplyResult>,
  deps: { logger: Logger; metrics?: ServiceMetrics },
  topic: string,
): { refundExcess: number; expiredReversals: number } {
  let refundExcess = 0;
  let expiredReversals = 0;
  for (const [customerId, r] of results) {
    if (r.refundExcess === 0 && r.expiredReversals === 0) continue;
    refundExcess += r.refundExcess;
    expiredReversals += r.expiredReversals;
    deps.logger.warn(
      { customerId, topic, refundExcessMinor: r.refundExcess, expiredReversals: r.expiredReversals },
      r.refundExcess > 0
        ? 'refund beyond its order amount: capped at what was left of the order'
        : 'reversal of an order older than the kept order states: no effect',
    );
  }
  if (refundExcess > 0) deps.metrics?.refundExcess.inc(refundExcess);
  if (expiredReversals > 0) deps.metrics?.expiredReversals.inc(expiredReversals);
  return { refundExcess, expiredReversals };
}
