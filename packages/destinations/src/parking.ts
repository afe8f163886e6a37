/**
 * Parking: non-blocking retries with per-customer order (docs/destinations.md, "Parking"). After its first retriable
 * failure (or while the breaker is open) a customer's item is parked in a durable per-destination, per-customer FIFO
 * queue, and so is every later item of that customer that arrives while the queue is not empty; the Kafka batch is
 * then committed. A retry loop claims customers whose head is due, delivers the head, and on success or dead letter
 * moves on to the customer's next parked item. The store is an interface (Redis in services/destinations); this
 * module is pure: the loop step gets the store, the gate and the delivery as arguments.
 */
import { customerHashTag } from '@tierstream/config';
import type { DestinationGate } from './dispatch';
import { type DeadLetterReason, type DeliveryError, nextStep } from './retry-policy';

/** One parked delivery: what the retry loop needs to send it again or dead-letter it. */
export interface ParkedItem {
  /** The idempotency key (webhook: the transition id); unique within a customer's queue. */
  id: string;
  customer: string;
  /** The request body, exactly as first sent (a retry is signed again, the body is the same). */
  body: string;
  /** Where the item was read (for the dead letter's headers). */
  source: { topic: string; partition: number; offset: string };
}

/** A parked item as stored: `<id>\t<json>`, so a script can match the head by id without decoding JSON. */
export function encodeParked(item: ParkedItem): string {
  if (item.id.includes('\t')) throw new Error(`parked item id contains a tab: ${JSON.stringify(item.id)}`);
  return `${item.id}\t${JSON.stringify(item)}`;
}

/** The inverse of encodeParked; throws on a value that is not `<id>\t<json of a ParkedItem with that id>`. */
export function decodeParked(value: string): ParkedItem {
  const tab = value.indexOf('\t');
  const item = JSON.parse(value.slice(tab + 1)) as ParkedItem;
  if (tab < 0 || item.id !== value.slice(0, tab)) throw new Error('malformed parked item');
  return item;
}

/**
 * The Redis keys of a destination's parking: per customer a list (the queue, head first) and a hash (id → attempts
 * made) in the customer's hash-tagged slot; per destination one sorted set `due` (member customer id, score the ms at
 * which its head is due, or until which a retry loop holds its claim).
 */
export const parkingKeys = {
  queue: (prefix: string, destination: string, customer: string) =>
    `${prefix}:dest:${destination}:${customerHashTag(customer)}:parked`,
  attempts: (prefix: string, destination: string, customer: string) =>
    `${prefix}:dest:${destination}:${customerHashTag(customer)}:attempts`,
  due: (prefix: string, destination: string) => `${prefix}:dest:${destination}:due`,
};

/** The durable queues of one destination. Every method rejects on a store error. */
export interface ParkingStore {
  /** Appends `item` to its customer's queue if that queue is not empty (true), else does nothing (false). */
  appendIfParked(item: ParkedItem): Promise<boolean>;
  /**
   * Parks `item` (appended to its customer's queue; an id already queued is not added twice) with `attempts` made,
   * and schedules the customer at `dueAtMs` unless it is scheduled already.
   */
  park(item: ParkedItem, attempts: number, dueAtMs: number): Promise<void>;
  /** Customers due at `nowMs` (at most `limit`), each claimed until `leaseUntilMs` (no other loop takes it). */
  claimDue(nowMs: number, leaseUntilMs: number, limit: number): Promise<string[]>;
  /** The customer's head and the attempts made on it; null when its queue is empty. */
  head(customer: string): Promise<{ item: ParkedItem; attempts: number } | null>;
  /** Records `attempts` on the head `id` (if it still is the head) and schedules the customer at `dueAtMs`. */
  retryLater(customer: string, id: string, attempts: number, dueAtMs: number): Promise<void>;
  /** Schedules the customer at `dueAtMs` without counting an attempt (breaker open, rate limit). */
  reschedule(customer: string, dueAtMs: number): Promise<void>;
  /**
   * The head `id` is done (delivered or dead-lettered): removes it; the customer is due at `nowMs` if more items
   * wait, else unscheduled (and scheduled again if an item was parked meanwhile: none is left behind).
   */
  settle(customer: string, id: string, nowMs: number): Promise<void>;
}

export interface RetryHooks {
  /** Attempt `attempt` (1 = first) of a parked item; resolves null when delivered, else the error. Never rejects. */
  send: (item: ParkedItem, attempt: number) => Promise<DeliveryError | null>;
  onDelivered?: (item: ParkedItem, attempts: number, latencyMs: number) => void;
  onRetry?: (item: ParkedItem, attempt: number, delayMs: number) => void;
  /** Must resolve only once the dead letter is durable (produced): the item is removed from its queue after. */
  onDeadLetter: (
    item: ParkedItem,
    info: { reason: DeadLetterReason; status?: number; bodyExcerpt: string; message: string; attempts: number },
  ) => Promise<void>;
  now?: () => number;
  random?: () => number;
}

/**
 * One round of the retry loop: claims up to the destination's free concurrency of due customers (each until
 * `now + leaseMs`; leaseMs must exceed one request's timeout), then for each, concurrently, delivers its head once.
 * Delivered or dead-lettered: settled (the customer's next item is due at once). Retriable failure: its attempts are
 * recorded and it is due after the backoff (Retry-After honoured). Breaker open or no rate token: due again when
 * they allow, no attempt counted. Resolves the number of customers handled; rejects on a store error (a claimed
 * customer then becomes due again when its claim expires).
 */
export async function retryDue(
  store: ParkingStore,
  gate: DestinationGate,
  hooks: RetryHooks,
  leaseMs: number,
): Promise<number> {
  const now = hooks.now ?? Date.now;
  const random = hooks.random ?? Math.random;
  const free = gate.settings.concurrency - gate.inFlight;
  if (free <= 0) return 0;
  const claimed = await store.claimDue(now(), now() + leaseMs, free);
  const policy = {
    maxAttempts: gate.settings.max_attempts,
    initialMs: gate.settings.initial_backoff_ms,
    maxMs: gate.settings.max_backoff_ms,
  };
  const one = async (customer: string) => {
    const head = await store.head(customer);
    if (!head) {
      // A schedule without a queue (a crash between scheduling and parking): drop it, unless an item came meanwhile.
      await store.settle(customer, '', now());
      return;
    }
    const wait = gate.bucket.take(now()) || gate.breaker.acquire(now());
    if (wait > 0) {
      await store.reschedule(customer, now() + wait);
      return;
    }
    const attempt = head.attempts + 1;
    const started = now();
    gate.inFlight++;
    let error: DeliveryError | null;
    try {
      error = await hooks.send(head.item, attempt);
    } finally {
      gate.inFlight--;
    }
    if (error === null || !error.retriable) gate.breaker.success();
    else gate.breaker.failure(now());
    const step = nextStep(error, attempt, policy, random);
    if (step.kind === 'delivered') {
      hooks.onDelivered?.(head.item, attempt, now() - started);
      await store.settle(customer, head.item.id, now());
    } else if (step.kind === 'retry') {
      hooks.onRetry?.(head.item, attempt, step.delayMs);
      await store.retryLater(customer, head.item.id, attempt, now() + step.delayMs);
    } else {
      await hooks.onDeadLetter(head.item, { ...step, attempts: attempt });
      await store.settle(customer, head.item.id, now());
    }
  };
  const outcomes = await Promise.allSettled(claimed.map(one));
  const failed = outcomes.find((o) => o.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
  return claimed.length;
}
