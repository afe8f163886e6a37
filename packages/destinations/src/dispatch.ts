import { CircuitBreaker } from './breaker';
import { CustomerLanes } from './lanes';
import { TokenBucket } from './rate-limit';
import { type DeadLetterReason, type DeliveryError, nextStep } from './retry-policy';
import type { DeliverySettings } from './spec';

/** One delivery: `key` orders it (the customer id), `item` is what `send` gets. */
export interface DispatchItem<T> {
  key: string;
  item: T;
}

/** The shared state of one destination across batches: its breaker and rate limit outlive a batch. */
export class DestinationGate {
  readonly breaker: CircuitBreaker;
  readonly bucket: TokenBucket;
  /** Requests in flight to this destination (all batches together). */
  inFlight = 0;

  constructor(
    readonly settings: DeliverySettings,
    nowMs: number,
  ) {
    this.breaker = new CircuitBreaker(settings.breaker_failures, settings.breaker_open_ms);
    this.bucket = new TokenBucket(settings.rate_per_second, nowMs);
  }
}

export interface DispatchHooks<T> {
  /** Makes attempt `attempt` (1 = first); resolves null when delivered, or the DeliveryError. Must not throw. */
  send: (item: T, attempt: number) => Promise<DeliveryError | null>;
  onDelivered?: (item: T, attempts: number, latencyMs: number) => void;
  onRetry?: (item: T, attempt: number, delayMs: number, error: DeliveryError) => void;
  onDeadLetter: (
    item: T,
    info: { reason: DeadLetterReason; status?: number; bodyExcerpt: string; message: string; attempts: number },
  ) => void;
  /** Called while waiting (breaker open, backoff): keep the consumer's group membership alive. */
  heartbeat?: () => Promise<void> | void;
  /** True when the work should stop (partition revoked, shutdown): items not done stay undone. */
  shouldStop?: () => boolean;
  now?: () => number;
  random?: () => number;
  /**
   * Parking mode (docs/destinations.md, "Parking"): called before an item's first attempt; resolves true when the
   * item was parked behind its customer's parked items (it is then done here, not sent). Rejects on a store error.
   */
  parkIfParked?: (key: string, item: T) => Promise<boolean>;
  /**
   * Parking mode: instead of retrying in the batch (or waiting for an open breaker), the item is parked durably with
   * the `attempts` made so far, due at `dueAtMs`; it is then done here. Rejects on a store error.
   */
  park?: (key: string, item: T, attempts: number, dueAtMs: number) => Promise<void>;
}

export interface DispatchResult {
  delivered: number;
  deadLettered: number;
  /** Items parked (parking mode): they are delivered by the retry loop, the batch may be committed. */
  parked: number;
  /** True when `shouldStop` ended the work before every item was done (the batch must not be committed). */
  stopped: boolean;
}

/**
 * Delivers `items` to one destination and resolves when every item is delivered or dead-lettered (or `shouldStop`).
 * Per key (customer) strictly one after another in the given order, a failed item retried with backoff before the
 * key's next one; keys independent of each other up to `settings.concurrency` requests in flight (counted on the
 * gate, so concurrent batches share the limit), started no faster than the gate's rate limit, paused while the
 * gate's breaker is open. Items are never dropped while waiting. In parking mode (`park` and `parkIfParked` given) a
 * retriable failure or an open breaker parks the item instead, and so is every later item of a customer with parked
 * items: the batch is then done without waiting. Rejects with a store error of `park`/`parkIfParked`.
 */
export async function dispatch<T>(
  items: DispatchItem<T>[],
  gate: DestinationGate,
  hooks: DispatchHooks<T>,
): Promise<DispatchResult> {
  const now = hooks.now ?? Date.now;
  const random = hooks.random ?? Math.random;
  const policy = {
    maxAttempts: gate.settings.max_attempts,
    initialMs: gate.settings.initial_backoff_ms,
    maxMs: gate.settings.max_backoff_ms,
  };
  const lanes = new CustomerLanes<{ item: T; attempts: number; firstAt: number }>();
  for (const i of items) lanes.push(i.key, { item: i.item, attempts: 0, firstAt: 0 });
  const result: DispatchResult = { delivered: 0, deadLettered: 0, parked: 0, stopped: false };
  /** The first store error of parking mode: the work stops and dispatch rejects with it (nothing is committed). */
  let failure: { error: unknown } | undefined;
  let wake: () => void = () => undefined;
  let wakeUp = new Promise<void>((r) => {
    wake = r;
  });
  const notify = () => {
    const w = wake;
    wakeUp = new Promise<void>((r) => {
      wake = r;
    });
    w();
  };
  /** Waits `ms` or until `woken` (the wake-up promise read BEFORE the caller's last await: none is lost). */
  const pause = async (ms: number, woken: Promise<void>) => {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([woken, new Promise<void>((r) => (timer = setTimeout(r, Math.max(1, ms))))]);
    clearTimeout(timer);
  };
  let running = 0;

  const one = async (key: string, entry: { item: T; attempts: number; firstAt: number }) => {
    try {
      if (entry.attempts === 0 && (await hooks.parkIfParked?.(key, entry.item))) {
        result.parked++;
        lanes.done(key);
        return;
      }
      // Rate limit and breaker: wait (keeping the lane busy, so the customer's order holds) until both allow.
      for (;;) {
        if (hooks.shouldStop?.()) {
          lanes.defer(key, Number.MAX_SAFE_INTEGER);
          result.stopped = true;
          return;
        }
        // The token first: a breaker granting its half-open probe must be reported on, so nothing may wait after it.
        const tokenWait = gate.bucket.take(now());
        const breakerWait = tokenWait === 0 ? gate.breaker.acquire(now()) : 0;
        if (breakerWait > 0 && hooks.park) {
          // Parking mode: an open breaker parks the item (its queue kept in the store) instead of holding the batch.
          await hooks.park(key, entry.item, entry.attempts, now() + breakerWait);
          result.parked++;
          lanes.done(key);
          return;
        }
        const wait = tokenWait || breakerWait;
        if (wait === 0) break;
        await hooks.heartbeat?.();
        await new Promise((r) => setTimeout(r, Math.min(wait, 1_000)));
      }
      entry.attempts++;
      if (entry.firstAt === 0) entry.firstAt = now();
      const started = now();
      gate.inFlight++;
      let error: DeliveryError | null;
      try {
        error = await hooks.send(entry.item, entry.attempts);
      } finally {
        gate.inFlight--;
      }
      // A non-retriable answer proves the endpoint is up: only retriable failures count towards the breaker.
      if (error === null || !error.retriable) gate.breaker.success();
      else gate.breaker.failure(now());
      const step = nextStep(error, entry.attempts, policy, random);
      if (step.kind === 'delivered') {
        result.delivered++;
        hooks.onDelivered?.(entry.item, entry.attempts, now() - started);
        lanes.done(key);
      } else if (step.kind === 'retry' && hooks.park) {
        hooks.onRetry?.(entry.item, entry.attempts, step.delayMs, error!);
        await hooks.park(key, entry.item, entry.attempts, now() + step.delayMs);
        result.parked++;
        lanes.done(key);
      } else if (step.kind === 'retry') {
        hooks.onRetry?.(entry.item, entry.attempts, step.delayMs, error!);
        lanes.defer(key, now() + step.delayMs);
      } else {
        result.deadLettered++;
        hooks.onDeadLetter(entry.item, { ...step, attempts: entry.attempts });
        lanes.done(key);
      }
    } catch (error) {
      // A store error (parking mode): the item stays undone, the batch stops and is not committed.
      failure ??= { error };
      result.stopped = true;
    } finally {
      running--;
      notify();
    }
  };

  while (lanes.size > 0 && !(result.stopped && running === 0)) {
    const woken = wakeUp;
    if (hooks.shouldStop?.()) result.stopped = true;
    let started = false;
    while (!result.stopped && running < gate.settings.concurrency && gate.inFlight < gate.settings.concurrency) {
      const next = lanes.next(now());
      if (!next) break;
      running++;
      started = true;
      void one(next.key, next.item);
    }
    if (started) continue;
    if (running === 0 && result.stopped) break;
    if (gate.inFlight >= gate.settings.concurrency) {
      // Other batches fill the destination's concurrency: their completions do not wake this loop.
      await pause(5, woken);
      continue;
    }
    const due = lanes.nextDueAt();
    await hooks.heartbeat?.();
    await pause(due === undefined ? 1_000 : Math.min(1_000, due - now()), woken);
  }
  while (running > 0) await pause(1_000, wakeUp);
  if (failure) throw failure.error;
  return result;
}
