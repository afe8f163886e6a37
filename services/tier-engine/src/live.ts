/**
 * Live mode's signal evaluation (CLOCK_MODE=live): the customers signalled in one signals batch, evaluated as of the
 * wall clock.
 */
import { dayOf } from '@tierstream/tierstate';
import type { EvaluationRequest } from './engine';

export interface LiveEvaluationDeps {
  /** Evaluates, emits and stores (TierEngine.evaluate); resolves once the chunk's outputs are produced and stored. */
  evaluate(partition: number, requests: EvaluationRequest[]): Promise<number>;
  /** Runs `fn` under the partition's lock (Sweeper.withLock: the day-close sweep never interleaves). */
  withLock<T>(partition: number, fn: () => Promise<T>): Promise<T>;
  /** New rules whose wave has not reached this partition yet (Sweeper.reevaluating): the change is the rules'. */
  reevaluating(partition: number): boolean;
  /** Wall clock (epoch ms); default Date.now. */
  now?: () => number;
}

/** The consumer's batch context (packages/kafka HandlerContext): between chunks, a revoked partition stops. */
export interface LiveBatchContext {
  /** True once the batch's partition was revoked: its new owner evaluates the batch again. */
  isStale(): boolean;
  /** Tells the group coordinator the consumer is alive (a long batch is many chunks). */
  heartbeat(): Promise<void>;
}

/**
 * Evaluates `customerIds` (distinct, in signal order) of signals partition `partition` in chunks of at most `chunk`
 * (LIVE_EVALUATION_CHUNK), one after the other, each under the partition's lock and stamped, once it holds the lock,
 * with the wall clock (`day` = its UTC day) and the partition's rules-wave state (`rulesChanged`). A chunk's
 * transitions are produced before the next chunk is evaluated, so the first customers of a backlog's batch do not
 * wait for the evaluation of its last (live order → transition latency, docs/performance.md). Rejects with the
 * first failing chunk's error; later chunks are not evaluated then (the runner redelivers the batch, and evaluations
 * are idempotent: same transition ids). With `batch`: a heartbeat between chunks, and no further chunk once the
 * partition was revoked (its new owner evaluates the batch again).
 */
export async function evaluateLive(
  deps: LiveEvaluationDeps,
  partition: number,
  customerIds: readonly string[],
  chunk: number,
  batch?: LiveBatchContext,
): Promise<void> {
  const now = deps.now ?? Date.now;
  for (let from = 0; from < customerIds.length; from += chunk) {
    if (from > 0 && batch) {
      if (batch.isStale()) return;
      await batch.heartbeat();
    }
    const ids = customerIds.slice(from, from + chunk);
    // Stamped once the lock is held: work queued on the lock during the previous chunk (a rules wave finishing,
    // a day close) runs first, and the chunk must see its outcome (rulesChanged, the clock), not the state before it.
    await deps.withLock(partition, () => {
      const at = now();
      const rulesChanged = deps.reevaluating(partition);
      const requests = ids.map((customerId) => ({
        customerId,
        day: dayOf(at),
        at,
        processedDueAt: null,
        touch: '0',
        rulesChanged,
      }));
      return deps.evaluate(partition, requests);
    });
  }
}
