/**
 * The alias fold (docs/design-decisions.md §22): the anonymous web events held for an anonymous id, applied to the
 * customer it turned out to be, exactly once, through the normal apply path. They are applied as records of the
 * identities partition at the alias record's position: offset = alias offset × 65,536 + i (i = 1.. the held events,
 * at most the hold bound, 2,000), so the customer's high-water mark of that partition makes a redelivered alias fold
 * nothing, whatever the dedupe horizon (held events may be older than it). Folds into one customer happen in the
 * identities partition's order (one consumer), so its high-water mark only grows.
 */
import type { InputEvent } from '@tierstream/contracts';
import type { HeldEvent } from './identity-store';
import type { AggregateStore, ApplyResult } from './store';

/** Position of the identity record that asks for a fold. */
export interface IdentitySource {
  topic: string;
  partition: number;
  /** Kafka offset (decimal string). */
  offset: string;
}

/** Offsets per alias record: more than the held events of one anonymous id can be. */
const SLOTS_PER_ALIAS = 65_536n;

/** The held events of an alias as the customer's web events at the alias record's position (see the module comment). */
export function aliasFoldRecords(
  customerId: string,
  anonymousId: string,
  held: readonly HeldEvent[],
  source: IdentitySource,
) {
  if (held.length >= Number(SLOTS_PER_ALIAS)) throw new Error(`alias fold of ${held.length} events: at most 65,535`);
  const base = BigInt(source.offset) * SLOTS_PER_ALIAS;
  return held.map((h, i) => ({
    event: {
      kind: 'web',
      event: {
        event_id: h.eventId,
        customer_id: customerId,
        anonymous_id: anonymousId,
        type: h.type,
        url: null,
        content_id: null,
        occurred_at: h.occurredAt,
      },
    } as InputEvent,
    topic: source.topic,
    partition: source.partition,
    offset: String(base + BigInt(i + 1)),
  }));
}

/**
 * Applies an alias's held events to `customerId` (once per alias record; a redelivery applies nothing).
 * `retentionDays` as for AggregateStore.applyBatch (the aggregator's retention for the engine).
 */
export async function foldAlias(
  aggregates: Pick<AggregateStore, 'applyBatch'>,
  customerId: string,
  anonymousId: string,
  held: readonly HeldEvent[],
  source: IdentitySource,
  retentionDays?: number,
): Promise<ApplyResult | undefined> {
  if (held.length === 0) return undefined;
  const events = aliasFoldRecords(customerId, anonymousId, held, source);
  const out = await aggregates.applyBatch([{ customerId, events }], { retentionDays });
  return out.get(customerId);
}
