/**
 * The aggregator's handler of identities.v1 batches (docs/design-decisions.md §22), as a sequence of steps: apply
 * the records to the identity graph in offset order (steps/identity-events.ts; refusals are dead letters with their
 * DlqReason), run each fold the graph asks for (an alias's held anonymous events into its customer, a merged
 * customer's aggregates into its survivor; both idempotent by the identity event id), schedule the customers whose
 * tiers the event changes in the due index (the engine then ends the merged one with MERGED_INTO and announces MERGED
 * on the survivor), signal them, and move the identities partition's watermark (the floor of held anonymous events).
 * The runner commits the offsets after all of this; a redelivered batch redoes every step without effect.
 */
import type { HeldEvent, IdentitySource, IdentityStore } from '@tierstream/aggregates';
import type { AvroSerde, CustomerSignal } from '@tierstream/contracts';
import type { BatchHandler, RecordProducer } from '@tierstream/kafka';
import { dayOf, endOfDay, signalPartitionOf, type TierStateStore } from '@tierstream/tierstate';
import type { Logger } from 'pino';
import { applyIdentityRecords } from './steps/identity-events';

/** The folds an identity event asks for; each must be idempotent by the identity event id. */
export interface IdentityFolds {
  /**
   * Applies the anonymous events held for an alias to `customerId`'s aggregates, once per alias record (`source`,
   * its position on identities.v1: aggregates' foldAlias).
   */
  alias(customerId: string, anonymousId: string, held: readonly HeldEvent[], source: IdentitySource): Promise<void>;
  /**
   * Folds `merged`'s aggregates into `survivor`'s, once per `mergeEventId` (`source`: the merge record's position on
   * identities.v1, aggregates' foldMerge).
   */
  merge(merged: string, survivor: string, mergeEventId: string, source: IdentitySource): Promise<void>;
}

export interface IdentityHandlerDeps {
  serde: Pick<AvroSerde, 'decode' | 'encode' | 'encodeIfCached'>;
  /** applyMany: runs of aliases together; resolveMany: the roots of all folds at once. */
  identity: Pick<IdentityStore, 'applyMany' | 'resolveMany'>;
  folds: IdentityFolds;
  tierState: Pick<TierStateStore, 'schedule' | 'advanceWatermarks'>;
  producer: RecordProducer;
  signalsTopic: string;
  signalPartitions: number;
  validation: { maxFutureSkewMs: number };
  logger: Logger;
  now?: () => number;
}

/** Alias folds running at once (each one applyBatch call of one customer). */
const ALIAS_FOLDS_AT_ONCE = 64;

/** A handler for the identities.v1 partition (see the module comment). */
export function createIdentityHandler(deps: IdentityHandlerDeps): BatchHandler {
  const now = deps.now ?? Date.now;
  return async (batch, ctx) => {
    const results = await applyIdentityRecords(batch.records, {
      serde: deps.serde,
      identity: deps.identity,
      validation: { now: now(), maxFutureSkewMs: deps.validation.maxFutureSkewMs },
    });
    /** Customers whose tiers change, with the earliest day they change on. */
    const touched = new Map<string, number>();
    const touch = (id: string, at: number) => touched.set(id, Math.min(at, touched.get(id) ?? at));
    let watermark = -1;
    // The roots of the customers whose aliases fold held events (the alias's customer may have been merged meanwhile:
    // the held events go to its root), in one lookup: the graph is final for this batch (its merges were applied
    // above; the folds do not change it).
    const folding = results.flatMap((r) => (r.kind === 'alias' && r.held.length > 0 ? [r.customerId] : []));
    const roots = folding.length > 0 ? await deps.identity.resolveMany(folding) : new Map<string, string>();
    // Alias folds of distinct customers run together (each writes its own customer's keys only: they commute); a
    // merge fold, or an alias fold of a customer already folding, waits for those started before it.
    let running: Array<Promise<void>> = [];
    let foldingNow = new Set<string>();
    const settle = async () => {
      const all = running;
      running = [];
      foldingNow = new Set();
      await Promise.all(all);
    };
    for (const r of results) {
      if (r.kind === 'dead') {
        ctx.deadLetter(r.record, r.reason, r.message);
        continue;
      }
      watermark = Math.max(watermark, r.event.occurred_at);
      if (r.kind === 'alias') {
        if (r.held.length === 0) continue;
        const customer = roots.get(r.customerId)!;
        if (foldingNow.has(customer) || running.length >= ALIAS_FOLDS_AT_ONCE) await settle();
        const source = { topic: r.record.topic, partition: r.record.partition, offset: r.record.offset };
        const fold = deps.folds.alias(customer, r.event.anonymous_id!, r.held, source);
        // Awaited by settle; a failure while an earlier step throws is not an unhandled rejection (the batch is retried).
        fold.catch(() => undefined);
        running.push(fold);
        foldingNow.add(customer);
        touch(customer, Math.min(...r.held.map((h) => h.occurredAt)));
      } else if (r.kind === 'merge') {
        await settle();
        const source = { topic: r.record.topic, partition: r.record.partition, offset: r.record.offset };
        await deps.folds.merge(r.merged, r.into, r.event.event_id, source);
        touch(r.merged, r.event.occurred_at);
        touch(r.into, r.event.occurred_at);
      }
    }
    await settle();
    if (touched.size > 0) {
      await deps.tierState.schedule(
        [...touched].map(([customerId, at]) => ({
          customerId,
          partition: signalPartitionOf(customerId, deps.signalPartitions),
          dueAt: endOfDay(dayOf(at)),
        })),
      );
      const emittedAt = now();
      const signals = await Promise.all(
        [...touched].map(async ([customerId, at]) => {
          const signal: CustomerSignal = {
            customer_id: customerId,
            first_event_at: at,
            last_event_at: at,
            applied: 1,
            sources: [batch.topic],
            emitted_at: emittedAt,
          };
          const value =
            deps.serde.encodeIfCached(deps.signalsTopic, signal) ??
            (await deps.serde.encode(deps.signalsTopic, signal));
          return { key: customerId, value };
        }),
      );
      await deps.producer.send(deps.signalsTopic, signals);
    }
    if (watermark >= 0)
      await deps.tierState.advanceWatermarks([{ topic: batch.topic, partition: batch.partition, at: watermark }]);
    const dead = results.filter((r) => r.kind === 'dead').length;
    if (dead > 0) deps.logger.warn({ dead, topic: batch.topic }, 'identity events refused (dead-lettered)');
  };
}
