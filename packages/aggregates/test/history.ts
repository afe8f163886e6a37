/**
 * Test helpers: random customer histories (fast-check arbitraries) and a delivery simulator that splits events into
 * partitions, adds duplicates and redeliveries, interleaves partitions and cuts batches — like Kafka would.
 */
import {
  customerIdOf,
  type InputEvent,
  type OrderEvent,
  type TicketEvent,
  WEB_BEHAVIOR_TYPES,
  type WebBehaviorType,
} from '@tierstream/contracts';
import { generateWorkload } from '@tierstream/generator';
import fc from 'fast-check';
import { RETENTION_DAYS } from '../src/metrics';

export const DAY = 86_400_000;
export const BASE_DAY = 19_700;

const timeArb = fc.record({
  day: fc.oneof(fc.integer({ min: 0, max: 730 }), fc.constantFrom(600, 700, 725, 729, 730)),
  ms: fc.integer({ min: 0, max: DAY - 1 }),
});

/**
 * Orders with money anomalies (docs/design-decisions.md §15): refunds and cancellations (up to three per order, in
 * any combination), refunds above the order's amount, reversals resent under a new event id (a refund without a
 * refund_id resent that way is a second refund; with one, a copy), PLACED resent under a new event id, and orders
 * whose PLACED never arrives. Reversals arrive before their order when partitions interleave or jitter reorders them.
 */
const followUpArb = fc.record({
  kind: fc.constantFrom('REFUNDED' as const, 'CANCELLED' as const),
  afterMs: fc.integer({ min: 0, max: 90 * DAY }),
  fraction: fc.oneof(fc.double({ min: 0.01, max: 1, noNaN: true }), fc.double({ min: 1, max: 1.6, noNaN: true })),
  withMargin: fc.boolean(),
  withRefundId: fc.boolean(),
  /** Sent again under a new event id, `resendAfterMs` later (a cancellation's copy may carry a later time). */
  resend: fc.oneof(
    { weight: 3, arbitrary: fc.constant(null) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 5 * DAY }) },
  ),
});

type FollowUpSpec = typeof followUpArb extends fc.Arbitrary<infer T> ? T : never;

const orderArb = fc.record({
  at: timeArb,
  amount: fc.integer({ min: 1, max: 500_000 }),
  currency: fc.constantFrom('USD', 'EUR', 'JPY', 'GBP', 'SEK'),
  margin: fc.option(fc.integer({ min: -20_000, max: 100_000 }), { nil: null }),
  followUps: fc.oneof(
    { weight: 2, arbitrary: fc.constant<FollowUpSpec[]>([]) },
    { weight: 3, arbitrary: fc.array(followUpArb, { minLength: 1, maxLength: 3 }) },
  ),
  /** The PLACED arrives (false: only its reversals do), and how many copies under new event ids follow it. */
  placed: fc.oneof({ weight: 9, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
  copies: fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 2 }) }),
  /**
   * Copies (of the PLACED, of a refund with a refund_id) carry another amount and time: outside what producers should
   * send, but the first copy in arrival order must count in the store and in the oracle alike (§15).
   */
  copiesDiffer: fc.oneof({ weight: 3, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
});

/** How cancellations shape the customer (recency and lifecycle of customers with cancelled orders, §15). */
const cancelShapeArb = fc.oneof(
  { weight: 2, arbitrary: fc.constant('any' as const) },
  /** Every placed order cancelled: no live order, no purchase time from the last cancellation on. */
  { weight: 1, arbitrary: fc.constant('cancelledOnly' as const) },
  /** The latest order cancelled: recency falls back to the previous live order. */
  { weight: 1, arbitrary: fc.constant('cancelLatest' as const) },
);
/** When a shape's cancellation comes after its order: the same day, the next days, or weeks later. */
const cancelAfterArb = fc.constantFrom(0, 60_000, DAY, 3 * DAY, 40 * DAY);

const webArb = fc.record({ at: timeArb, type: fc.constantFrom(...WEB_BEHAVIOR_TYPES) });

const ticketArb = fc.record({
  at: timeArb,
  category: fc.constantFrom('GENERAL' as const, 'BILLING' as const, 'COMPLAINT' as const),
  steps: fc.array(fc.constantFrom('ESCALATED', 'RESOLVED', 'REOPENED', 'SATISFACTION_RATED'), { maxLength: 4 }),
  gaps: fc.array(fc.constantFrom(0, 60_000, 3_600_000, 26 * 3_600_000, 9 * DAY), { minLength: 8, maxLength: 8 }),
  close: fc.boolean(),
  csat: fc.option(fc.integer({ min: 1, max: 5 }), { nil: null }),
});

export const historyArb = fc.record({
  orders: fc.array(orderArb, { maxLength: 8 }),
  cancelShape: cancelShapeArb,
  cancelAfter: fc.array(cancelAfterArb, { minLength: 8, maxLength: 8 }),
  web: fc.array(webArb, { maxLength: 30 }),
  tickets: fc.array(ticketArb, { maxLength: 3 }),
});
export type HistorySpec = typeof historyArb extends fc.Arbitrary<infer T> ? T : never;

const toMs = (t: { day: number; ms: number }) => (BASE_DAY + t.day) * DAY + t.ms;
const dayOfMs = (ms: number) => Math.floor(ms / DAY);
/** The day an order event belongs to: its PLACED's day (a reversal names it in original_placed_at). */
const orderDayOf = (e: OrderEvent) =>
  dayOfMs(e.type === 'PLACED' ? e.occurred_at : (e.original_placed_at ?? e.occurred_at));

/** Concrete events of one customer; ticket events of a ticket are in time order with CLOSED as last status event. */
export function buildEvents(customerId: string, spec: HistorySpec): InputEvent[] {
  const out: InputEvent[] = [];
  let n = 0;
  const id = (k: string) => `${customerId}-${k}-${n++}`;
  const latest = spec.orders.reduce((i, o, k) => (i < 0 || toMs(o.at) >= toMs(spec.orders[i]!.at) ? k : i), -1);
  spec.orders.forEach((o, k) => {
    const at = toMs(o.at);
    const orderId = `ord-${n}`;
    const base: OrderEvent = {
      event_id: id('o'),
      customer_id: customerId,
      order_id: orderId,
      type: 'PLACED',
      amount_minor: o.amount,
      currency: o.currency,
      margin_minor: o.margin,
      channel: null,
      items: 1,
      occurred_at: at,
      original_placed_at: null,
      refund_id: null,
      attributes: null,
    };
    if (o.placed) {
      out.push({ kind: 'order', event: base });
      // A producer or webhook retry: the same order under a new event id (maybe with another amount and time).
      for (let c = 0; c < o.copies; c++) {
        const differ = o.copiesDiffer ? { amount_minor: o.amount + 1 + c, occurred_at: at + (c + 1) * 3 * DAY } : {};
        out.push({ kind: 'order', event: { ...base, event_id: id('o'), ...differ } });
      }
    }
    const shapeCancels = spec.cancelShape === 'cancelledOnly' || (spec.cancelShape === 'cancelLatest' && k === latest);
    if (shapeCancels) {
      out.push({
        kind: 'order',
        event: {
          ...base,
          event_id: id('o'),
          type: 'CANCELLED',
          occurred_at: at + (spec.cancelAfter[k] ?? 0),
          original_placed_at: at,
        },
      });
    }
    o.followUps.forEach((f, fk) => {
      const reversal: OrderEvent = {
        ...base,
        event_id: id('o'),
        type: f.kind,
        amount_minor: Math.max(1, Math.floor(o.amount * f.fraction)),
        margin_minor: f.withMargin && o.margin !== null ? Math.floor(o.margin * f.fraction) : null,
        occurred_at: at + f.afterMs,
        original_placed_at: at,
        refund_id: f.kind === 'REFUNDED' && f.withRefundId ? `rf-${fk}` : null,
      };
      out.push({ kind: 'order', event: reversal });
      if (f.resend !== null) {
        // A refund with a refund_id is resent as a copy (exact, or with another amount and time when the order's
        // copies differ); a cancellation may be resent with a later time.
        const later = f.kind === 'CANCELLED' || o.copiesDiffer ? f.resend : 0;
        const amount = f.kind === 'REFUNDED' && o.copiesDiffer ? reversal.amount_minor * 2 : reversal.amount_minor;
        out.push({
          kind: 'order',
          event: { ...reversal, event_id: id('o'), occurred_at: reversal.occurred_at + later, amount_minor: amount },
        });
      }
    });
  });
  for (const w of spec.web) {
    out.push({
      kind: 'web',
      event: {
        event_id: id('w'),
        customer_id: customerId,
        anonymous_id: null,
        type: w.type as WebBehaviorType,
        url: null,
        content_id: null,
        occurred_at: toMs(w.at),
      },
    });
  }
  spec.tickets.forEach((t, ti) => {
    const ticketId = `${customerId}-T${ti}`;
    let at = toMs(t.at);
    const mk = (type: TicketEvent['type'], csat: number | null = null): InputEvent => ({
      kind: 'ticket',
      event: {
        event_id: id('t'),
        customer_id: customerId,
        ticket_id: ticketId,
        type,
        category: t.category,
        priority: 'NORMAL',
        csat,
        occurred_at: at,
      },
    });
    out.push(mk('OPENED'));
    t.steps.forEach((s, i) => {
      at += t.gaps[i] ?? 0;
      out.push(mk(s as TicketEvent['type'], s === 'SATISFACTION_RATED' ? t.csat : null));
    });
    if (t.close) {
      at += 1 + (t.gaps[6] ?? 0); // strictly after every other status event of the ticket
      out.push(mk('CLOSED'));
      at += t.gaps[7] ?? 0;
      if (t.csat !== null) out.push(mk('SATISFACTION_RATED', t.csat));
    }
  });
  return out;
}

/** mulberry32: the scheduler's randomness comes from one fast-check integer (reproducible from the seed). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface Rec {
  customerId: string;
  event: InputEvent;
  topic: string;
  partition: number;
  offset: string;
}

export interface Delivery {
  batches: Rec[][];
  /** The distinct records delivered (by topic/partition/offset), i.e. what the oracle sees. */
  delivered: Rec[];
  stats: {
    duplicatesGenerated: number;
    duplicatesKept: number;
    duplicatesDropped: number;
    /** Order events dropped because they would arrive after their order's state was folded (outside the contract). */
    lateOrderEvents: number;
    redelivered: number;
    partitions: number;
  };
}

/**
 * Splits the events of all customers into 1–4 partitions (a ticket's events stay in one partition, in time order;
 * other events are jittered so partitions are not time-sorted), adds duplicate copies (same event_id, new offset),
 * interleaves the partitions randomly, replays random prefixes (redelivery after a "crash"), cuts random batches,
 * then drops duplicate copies that would arrive beyond the dedupe horizon (outside the contract).
 */
export function deliver(eventsByCustomer: Map<string, InputEvent[]>, seed: number, horizonMs: number): Delivery {
  const rnd = prng(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
  const P = int(1, 4);
  const parts: Array<Array<{ key: number; customerId: string; event: InputEvent }>> = Array.from(
    { length: P },
    () => [],
  );
  const ticketPartition = new Map<string, number>();
  let duplicates = 0;
  for (const [customerId, events] of eventsByCustomer) {
    for (const event of events) {
      let p: number;
      let key = event.event.occurred_at;
      if (event.kind === 'ticket') {
        p = ticketPartition.get(event.event.ticket_id) ?? int(0, P - 1);
        ticketPartition.set(event.event.ticket_id, p);
      } else {
        p = int(0, P - 1);
        if (rnd() < 0.3) key += int(-20, 20) * DAY;
      }
      parts[p]!.push({ key, customerId, event });
      if (rnd() < 0.12) {
        // A duplicate (same event_id) shortly after, in the same or another partition (never for ticket status
        // order: a ticket's copy stays in its partition).
        const dp = event.kind === 'ticket' ? p : int(0, P - 1);
        parts[dp]!.push({ key: key + int(0, 3 * DAY), customerId, event });
        duplicates++;
      }
    }
  }
  const offsetBases = ['0', '1000000', '9007199254740990', '123456789012345678'];
  const partitions: Rec[][] = parts.map((list, p) => {
    list.sort((a, b) => a.key - b.key);
    const base = BigInt(offsetBases[int(0, offsetBases.length - 1)]!);
    return list.map((x, i) => ({
      customerId: x.customerId,
      event: x.event,
      // One topic per event kind, as in production: a duplicate (same event_id) stays in its topic.
      topic: `t-${x.event.kind}`,
      partition: p,
      offset: (base + BigInt(i)).toString(),
    }));
  });

  // Interleave, with replays of already delivered records (commit lag + crash).
  const pos = partitions.map(() => 0);
  const committed = partitions.map(() => 0);
  const sequence: Rec[] = [];
  let redelivered = 0;
  while (pos.some((x, p) => x < partitions[p]!.length)) {
    const p = int(0, P - 1);
    const list = partitions[p]!;
    if (pos[p]! >= list.length) continue;
    const take = int(1, 6);
    for (let i = 0; i < take && pos[p]! < list.length; i++) sequence.push(list[pos[p]!++]!);
    if (rnd() < 0.5) committed[p] = int(committed[p]!, pos[p]!);
    if (rnd() < 0.1) {
      // Crash: every partition resumes from its last committed offset.
      for (let q = 0; q < P; q++) {
        for (let i = committed[q]!; i < pos[q]!; i++) {
          sequence.push(partitions[q]![i]!);
          redelivered++;
        }
      }
    }
  }
  // Batches.
  const batches: Rec[][] = [];
  for (let i = 0; i < sequence.length; ) {
    const size = int(1, 25);
    batches.push(sequence.slice(i, i + size));
    i += size;
  }

  // Dedupe contract: a second copy of an event_id must arrive while its time is within the horizon of the
  // customer's max event time (taken conservatively at the end of its batch). Otherwise drop that copy entirely.
  const recKey = (r: Rec) => `${r.topic}/${r.partition}/${r.offset}`;
  const deliveredKeys = new Set<string>();
  const appliedIds = new Set<string>();
  const maxAt = new Map<string, number>();
  const drop = new Set<string>();
  let duplicatesKept = 0;
  let lateOrderEvents = 0;
  const orderMinDay = new Map<string, number>();
  for (const batch of batches) {
    const firsts = batch.filter((r) => !deliveredKeys.has(recKey(r)));
    const seenInBatch = new Set<string>();
    const fresh = firsts.filter((r) => {
      const k = recKey(r);
      if (seenInBatch.has(k)) return false;
      seenInBatch.add(k);
      return true;
    });
    for (const r of fresh) {
      maxAt.set(r.customerId, Math.max(maxAt.get(r.customerId) ?? -Infinity, r.event.event.occurred_at));
    }
    for (const r of fresh) {
      deliveredKeys.add(recKey(r));
      const id = r.event.event.event_id;
      // The order's day, conservatively: the earliest day any of its events named so far (copies of a PLACED may
      // carry other times; the order state's day is one of them).
      let orderDay = Number.POSITIVE_INFINITY;
      if (r.event.kind === 'order') {
        const ok = `${r.customerId}/${r.event.event.order_id}`;
        orderDay = Math.min(orderMinDay.get(ok) ?? Number.POSITIVE_INFINITY, orderDayOf(r.event.event));
        orderMinDay.set(ok, orderDay);
      }
      if (orderDay <= dayOfMs(maxAt.get(r.customerId)!) - RETENTION_DAYS) {
        // Order-state contract (design-decisions §15): every event of an order arrives while the order's day is
        // after the retention cutoff (customer's latest day − RETENTION_DAYS); a later one is outside the contract.
        drop.add(recKey(r));
        lateOrderEvents++;
        continue;
      }
      if (appliedIds.has(id)) {
        if (r.event.event.occurred_at < maxAt.get(r.customerId)! - horizonMs) drop.add(recKey(r));
        else duplicatesKept++;
      } else appliedIds.add(id);
    }
  }
  const finalBatches = batches.map((b) => b.filter((r) => !drop.has(recKey(r)))).filter((b) => b.length > 0);
  const delivered = new Map<string, Rec>();
  for (const b of finalBatches) for (const r of b) delivered.set(recKey(r), r);
  return {
    batches: finalBatches,
    delivered: [...delivered.values()],
    stats: {
      duplicatesGenerated: duplicates,
      duplicatesKept,
      duplicatesDropped: drop.size - lateOrderEvents,
      lateOrderEvents,
      redelivered,
      partitions: P,
    },
  };
}

/** Groups one batch by customer, preserving delivery order (the aggregator's job). */
export function groupBatch(batch: Rec[]) {
  const m = new Map<string, Rec[]>();
  for (const r of batch) {
    let l = m.get(r.customerId);
    if (!l) {
      l = [];
      m.set(r.customerId, l);
    }
    l.push(r);
  }
  return [...m].map(([customerId, recs]) => ({
    customerId,
    events: recs.map((r) => ({ event: r.event, topic: r.topic, partition: r.partition, offset: r.offset })),
  }));
}

/**
 * The first two customers of the `tiny` workload, `[gone, kept]`, and an apply item per customer with all its events
 * (delivery order, on `orders.v1` partition 0 at offsets 0, 1, …): a call where one customer is refused and the other
 * applied.
 */
export function twoTinyCustomers(): {
  gone: string;
  kept: string;
  items: Array<{
    customerId: string;
    events: Array<{ event: InputEvent; topic: string; partition: number; offset: string }>;
  }>;
} {
  const byCustomer = new Map<string, InputEvent[]>();
  for (const e of generateWorkload('tiny')) {
    const id = customerIdOf(e);
    if (id !== null) byCustomer.set(id, [...(byCustomer.get(id) ?? []), e]);
  }
  const [gone, kept] = [...byCustomer.keys()].slice(0, 2) as [string, string];
  const items = [gone, kept].map((customerId) => ({
    customerId,
    events: byCustomer
      .get(customerId)!
      .map((event, i) => ({ event, topic: 'orders.v1', partition: 0, offset: String(i) })),
  }));
  return { gone, kept, items };
}
