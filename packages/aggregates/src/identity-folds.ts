/**
 * The alias fold (docs/design-decisions.md §22): the anonymous web events held for an anonymous id, applied to the
 * customer it turned out to be, exactly once, through the normal apply path. They are applied as records of the
 * identities partition at the alias record's position: offset = alias offset × 65,536 + i (i = 1.. the held events,
 * at most 65,535: the hold's bound in bytes allows no more), so the customer's high-water mark of that partition
 * makes a redelivered alias fold nothing, whatever the dedupe horizon (held events may be older than it). Folds into
 * one customer happen in the identities partition's order (one consumer), so its high-water mark only grows.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { RedisClient } from '@tierstream/config';
import type { InputEvent, OrderEvent } from '@tierstream/contracts';
import type { HeldEvent } from './identity-store';
import { expandPackedFields, orderStateLegacy } from './state-decode';
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

/** Lua of the merge fold (step 4 of a merge): the merged customer's hash, as arguments, into the survivor's. */
const MERGE_FOLD_LUA = readFileSync(new URL('../lua/identity_merge_fold-1.lua', import.meta.url), 'utf8');

interface FoldCommands {
  tsIdentityMergeFold(key: string, mergeId: string, ...fieldsAndValues: string[]): Promise<number>;
}

/** An order state of apply_events.lua (`n:<order_id>`, design-decisions §15), decoded. */
interface OrderState {
  day: number;
  placed: boolean;
  /** ms of the day of the PLACED, when known. */
  ms: number | null;
  amount: number;
  margin: number;
  cancel: number | null;
  refunds: Array<[day: number, amount: number, margin: number]>;
}

function parseOrderState(v: string): OrderState {
  const t = orderStateLegacy(v).split(',');
  const n = (s: string | undefined) => (s === undefined || s === '' ? 0 : Number(s));
  const placed = n(t[1]);
  const refunds: OrderState['refunds'] = [];
  for (let i = 5; i + 2 < t.length; i += 3) refunds.push([n(t[i]), n(t[i + 1]), n(t[i + 2])]);
  return {
    day: n(t[0]),
    placed: placed !== 0,
    ms: placed >= 2 ? placed - 2 : null,
    amount: n(t[2]),
    margin: n(t[3]),
    cancel: t[4] === undefined || t[4] === '' ? null : Number(t[4]),
    refunds,
  };
}

/** `u:<len>:<order_id><refund key>` → the order id. */
function refundFieldOrder(field: string): string {
  const colon = field.indexOf(':', 2);
  const len = Number(field.slice(2, colon));
  return Buffer.from(field.slice(colon + 1), 'utf8')
    .subarray(0, len)
    .toString('utf8');
}

async function scanFields(redis: RedisClient, key: string, match: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let cursor = '0';
  do {
    const [next, flat] = await redis.hscan(key, cursor, 'MATCH', match, 'COUNT', 1000);
    cursor = next;
    for (let i = 0; i < flat.length; i += 2) out.set(flat[i]!, flat[i + 1]!);
  } while (cursor !== '0');
  return out;
}

const DAY_MS = 86_400_000;

/**
 * Folds customer `merged` (A) into `survivor` (B), exactly once per merge record (`source`, its position on the
 * identities partition), design-decisions §22 step 4:
 * 1. orders both hold (an order both ids reported): A's copy is a duplicate of B's, A's reversals B lacks are B's now:
 *    B gets A's PLACED (when B has none), cancellation and refunds as events at the merge record's position (B's
 *    high-water mark makes a redelivery apply nothing), then A's copy is taken out of A's aggregates by a cancellation
 *    on its own day (A's high-water mark, same position); a redelivery that finds A done skips both;
 * 2. A's hash, as it is then, is added into B's by identity_merge_fold-1.lua (once per merge event id).
 * Refunds of a shared order are added when none of A's refund identities of it is known to B, skipped when all are;
 * a mix is counted in the result (`inexactRefunds`: which of them B lacks cannot be told apart in A's per-day sums).
 */
export async function foldMerge(
  deps: { redis: RedisClient; aggregates: Pick<AggregateStore, 'applyBatch' | 'keys' | 'config'> },
  merged: string,
  survivor: string,
  mergeEventId: string,
  source: IdentitySource,
  retentionDays?: number,
): Promise<{ folded: boolean; sharedOrders: number; inexactRefunds: number }> {
  const { redis, aggregates } = deps;
  if (!('tsIdentityMergeFold' in redis))
    redis.defineCommand('tsIdentityMergeFold', { numberOfKeys: 1, lua: MERGE_FOLD_LUA });
  const aKey = aggregates.keys(merged).agg;
  const bKey = aggregates.keys(survivor).agg;
  const base = BigInt(source.offset) * SLOTS_PER_ALIAS;
  const code = createHash('sha1').update(source.topic).digest('hex').slice(0, 4);
  const aMark = await redis.hget(aKey, `h:${code}:${source.partition}`);
  let sharedOrders = 0;
  let inexactRefunds = 0;
  if (aMark === null || BigInt(aMark) <= base) {
    const aOrders = await scanFields(redis, aKey, 'n:*');
    const ids = [...aOrders.keys()];
    const bValues = ids.length === 0 ? [] : await redis.hmget(bKey, ...ids);
    const shared = ids.flatMap((f, i) =>
      bValues[i] === null ? [] : [{ field: f, a: aOrders.get(f)!, b: bValues[i]! }],
    );
    if (shared.length > 0) {
      const aRefunds = await scanFields(redis, aKey, 'u:*');
      const refundKeys = [...aRefunds.keys()];
      const known = refundKeys.length === 0 ? [] : await redis.hmget(bKey, ...refundKeys);
      const forB: InputEvent[] = [];
      const stripA: InputEvent[] = [];
      const currency = aggregates.config.reportingCurrency;
      const order = (o: Partial<OrderEvent> & Pick<OrderEvent, 'event_id' | 'order_id' | 'type' | 'occurred_at'>) =>
        ({
          kind: 'order',
          event: {
            customer_id: survivor,
            amount_minor: 0,
            currency,
            margin_minor: null,
            channel: null,
            items: null,
            original_placed_at: null,
            refund_id: null,
            attributes: null,
            ...o,
          },
        }) as InputEvent;
      for (const s of shared) {
        sharedOrders++;
        const orderId = s.field.slice(2);
        const a = parseOrderState(s.a);
        const b = parseOrderState(s.b);
        const tag = `~merge:${mergeEventId}:${orderId}`;
        const day = a.placed ? a.day : b.day;
        if (a.placed && !b.placed) {
          forB.push(
            order({
              event_id: `${tag}:p`,
              order_id: orderId,
              type: 'PLACED',
              amount_minor: a.amount,
              margin_minor: a.margin,
              occurred_at: a.day * DAY_MS + (a.ms ?? 0),
            }),
          );
        }
        if (a.cancel !== null) {
          forB.push(
            order({
              event_id: `${tag}:c`,
              order_id: orderId,
              type: 'CANCELLED',
              occurred_at: a.cancel * DAY_MS,
              original_placed_at: day * DAY_MS,
            }),
          );
        }
        const mine = refundKeys
          .map((k, i) => ({ k, known: known[i] !== null }))
          .filter((r) => refundFieldOrder(r.k) === orderId);
        const knownCount = mine.filter((r) => r.known).length;
        if (knownCount === 0) {
          a.refunds.forEach(([d, amount, margin], i) => {
            forB.push(
              order({
                event_id: `${tag}:r${i}`,
                order_id: orderId,
                type: 'REFUNDED',
                amount_minor: amount,
                margin_minor: margin,
                occurred_at: d * DAY_MS,
                original_placed_at: day * DAY_MS,
                refund_id: `${tag}:r${i}`,
              }),
            );
          });
        } else if (knownCount < mine.length) inexactRefunds++;
        if (a.placed) {
          stripA.push(
            order({
              event_id: `${tag}:x`,
              customer_id: merged,
              order_id: orderId,
              type: 'CANCELLED',
              occurred_at: a.day * DAY_MS,
              original_placed_at: a.day * DAY_MS,
            }),
          );
        }
      }
      const at = (events: InputEvent[]) =>
        events.map((event, i) => ({
          event,
          topic: source.topic,
          partition: source.partition,
          offset: String(base + BigInt(i + 1)),
        }));
      if (forB.length > 0) await aggregates.applyBatch([{ customerId: survivor, events: at(forB) }], { retentionDays });
      if (stripA.length > 0)
        await aggregates.applyBatch([{ customerId: merged, events: at(stripA) }], {
          retentionDays,
          applyToMerged: true,
        });
    }
  }
  // The packed layout's fields as the previous layout's: the fold adds those (design-decisions §23).
  const flat = expandPackedFields((await redis.call('HGETALL', aKey)) as string[]);
  const folded = await (redis as unknown as FoldCommands).tsIdentityMergeFold(bKey, mergeEventId, ...flat);
  return { folded: folded === 1, sharedOrders, inexactRefunds };
}

/**
 * Of records whose customer was merged into another (its root), those its own aggregates had applied before the
 * merge (offset ≤ its high-water mark of the record's partition): they were folded into the survivor with the rest and
 * must not be applied to it again (a redelivery after the merge; the survivor's own marks do not know them). The
 * merged customer's hash no longer changes once merged, so the answer is stable. One pipelined HMGET per customer.
 * `partition`: as the record was applied (a number, or `<partition>/<tag>` for a record routed from another id).
 */
export async function appliedBeforeMerge(
  redis: RedisClient,
  aggregates: Pick<AggregateStore, 'keys'>,
  records: ReadonlyArray<{ customerId: string; topic: string; partition: number | string; offset: string }>,
): Promise<boolean[]> {
  if (records.length === 0) return [];
  const fieldsOf = (r: (typeof records)[number]) => [
    `h:${createHash('sha1').update(r.topic).digest('hex').slice(0, 4)}:${r.partition}`,
    `h:${r.topic}:${r.partition}`,
  ];
  const replies = await Promise.all(records.map((r) => redis.hmget(aggregates.keys(r.customerId).agg, ...fieldsOf(r))));
  return records.map((r, i) => {
    const mark = replies[i]![0] ?? replies[i]![1];
    return mark !== null && mark !== undefined && BigInt(r.offset) <= BigInt(mark);
  });
}
