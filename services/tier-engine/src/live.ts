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

/**
 * Evaluates `customerIds` (distinct, in signal order) of signals partition `partition` in chunks of at most `chunk`
 * (LIVE_EVALUATION_CHUNK), one after the other, each under the partition's lock and stamped with the wall clock when
 * it starts (`day` = its UTC day). A chunk's transitions are produced before the next chunk is evaluated, so the
 * first customers of a backlog's batch do not wait for the evaluation of its last (live order → transition latency,
 * docs/performance.md). Rejects with the first chunk's error; later chunks are not evaluated then (the runner
 * redelivers the batch, and evaluations are idempotent: same transition ids).
 */
export async function evaluateLive(
  deps: LiveEvaluationDeps,
  partition: number,
  customerIds: readonly string[],
  chunk: number,
): Promise<void> {
  const now = deps.now ?? Date.now;
  for (let from = 0; from < customerIds.length; from += chunk) {
    const at = now();
    const requests = customerIds.slice(from, from + chunk).map((customerId) => ({
      customerId,
      day: dayOf(at),
      at,
      processedDueAt: null,
      touch: '0',
      rulesChanged: deps.reevaluating(partition),
    }));
    await deps.withLock(partition, () => deps.evaluate(partition, requests));
  }
}
