/**
 * The retry loop of a webhook destination (docs/destinations.md, "Parking"): every `pollMs` it runs one round of
 * `retryDue` over the destination's parked customers (Redis), delivering each due head with the same
 * Idempotency-Key and body as its first attempt, in order per customer; exhausted or refused items go to the
 * destination's dead-letter topic (produced before the item leaves its queue), and the customer's next item follows.
 */
import {
  destinationDlqTopic,
  type ParkedItem,
  type ParkingStore,
  retryDue,
  type WebhookDestination,
} from '@tierstream/destinations';
import { deadLetterRecord } from './dead-letter';
import { deliverWebhook } from './deliver';
import type { HandlerDeps } from './handlers';

/** How long a retry loop holds a claimed customer: one request's timeout plus room for the store calls. */
export function claimLeaseMs(dest: WebhookDestination): number {
  return dest.delivery.timeout_ms * 2 + 5_000;
}

/**
 * Starts the loop; `stop()` ends it after the round in flight (its claims are rescheduled or settled, none is left
 * held). A round failing (Redis away) is logged and retried at the next poll; claims it held expire after
 * claimLeaseMs.
 */
export function startRetryLoop(
  dest: WebhookDestination,
  deps: Omit<HandlerDeps, 'parking' | 'serde' | 'stopping'>,
  store: ParkingStore,
  pollMs: number,
): { stop: () => Promise<void> } {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let round: Promise<void> = Promise.resolve();
  const name = dest.name;
  const hooks = {
    send: (item: ParkedItem, attempt: number) => deliverWebhook(dest, deps.agent, item.id, item.body, attempt),
    onDelivered: (_item: ParkedItem, _attempts: number, ms: number) => {
      deps.metrics.delivered.inc({ destination: name });
      deps.metrics.latency.observe({ destination: name }, ms / 1000);
    },
    onRetry: () => deps.metrics.retried.inc({ destination: name }),
    onDeadLetter: async (
      item: ParkedItem,
      info: { reason: 'NON_RETRIABLE_STATUS' | 'ATTEMPTS_EXHAUSTED' | 'REJECTED_RECORD' } & {
        status?: number;
        bodyExcerpt: string;
        message: string;
        attempts: number;
      },
    ) => {
      deps.metrics.deadLettered.inc({ destination: name, reason: info.reason });
      const source = { ...item.source, key: Buffer.from(item.customer), value: null, headers: {}, timestamp: 0 };
      const letter = deadLetterRecord(
        {
          destination: name,
          reason: info.reason,
          message: info.message,
          status: info.status ?? null,
          body_excerpt: info.bodyExcerpt,
          attempts: info.attempts,
          customer_id: item.customer,
          idempotency_key: item.id,
          payload: JSON.parse(item.body) as unknown,
        },
        source,
        deps.service,
      );
      await deps.producer.send(destinationDlqTopic(name), [letter]);
      deps.logger.warn({ destination: name, reason: info.reason }, 'sent a parked item to the dead-letter topic');
    },
  };
  const tick = () => {
    if (stopped) return;
    round = retryDue(store, deps.gate, hooks, claimLeaseMs(dest))
      .then(() => undefined)
      .catch((err: Error) => deps.logger.warn({ destination: name, err: err.message }, 'retry round failed'))
      .finally(() => {
        if (!stopped) timer = setTimeout(tick, pollMs);
      });
  };
  timer = setTimeout(tick, pollMs);
  return {
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      await round;
    },
  };
}
