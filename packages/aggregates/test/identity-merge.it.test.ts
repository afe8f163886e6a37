import type { IdentityEvent, InputEvent, OrderEvent, TicketEvent } from '@tierstream/contracts';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestRedis } from '../../../test/support/stack';
import { DEFAULT_AGGREGATE_CONFIG } from '../src/config';
import { appliedBeforeMerge, foldMerge } from '../src/identity-folds';
import { oracleIdentityMetrics } from '../src/identity-oracle';
import { IdentityStore } from '../src/identity-store';
import { metricsAt } from '../src/metrics';
import { AggregateStore } from '../src/store';

// Merges through the real apply path (design-decisions §22) on the stack's Redis: customers' orders (some reported
// under two ids: the same order id, refunds and cancellations), web and ticket events on per-kind partitions, merges
// applied at random points of the consumption (random batch cuts, redeliveries of input batches and of merges), later
// events of a merged id routed to its root → every surviving customer's metrics equal the identity oracle's.

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 0, 1);
const cfg = DEFAULT_AGGREGATE_CONFIG;
const CUSTOMERS = ['c0', 'c1', 'c2', 'c3'];

interface Rec {
  event: InputEvent;
  topic: string;
  partition: number;
  offset: string;
}

const orderArb = fc.record({
  reporters: fc.uniqueArray(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 2 }),
  day: fc.integer({ min: 0, max: 40 }),
  amount: fc.integer({ min: 100, max: 5000 }),
  refunds: fc.array(fc.record({ after: fc.integer({ min: 0, max: 10 }), amount: fc.integer({ min: 1, max: 3000 }) }), {
    maxLength: 2,
  }),
  refundsByAll: fc.boolean(),
  cancelAfter: fc.option(fc.integer({ min: 0, max: 10 }), { nil: null }),
});
const otherArb = fc.record({
  who: fc.integer({ min: 0, max: 3 }),
  day: fc.integer({ min: 0, max: 50 }),
  web: fc.boolean(),
  ticket: fc.integer({ min: 0, max: 2 }),
  type: fc.constantFrom('OPENED' as const, 'RESOLVED' as const, 'ESCALATED' as const),
});
const mergeArb = fc.record({
  a: fc.integer({ min: 0, max: 3 }),
  b: fc.integer({ min: 0, max: 3 }),
  day: fc.integer({ min: 0, max: 55 }),
});
const scenarioArb = fc.record({
  orders: fc.array(orderArb, { maxLength: 8 }),
  others: fc.array(otherArb, { maxLength: 20 }),
  merges: fc.array(mergeArb, { minLength: 1, maxLength: 3 }),
  steps: fc.array(
    fc.record({ who: fc.integer({ min: 0, max: 27 }), n: fc.integer({ min: 1, max: 5 }), redo: fc.boolean() }),
    { maxLength: 50 },
  ),
});

describe('merges through the apply path equal the identity oracle', () => {
  const t = createTestRedis('identity-merge');
  afterAll(() => t.cleanup());
  let run = 0;

  it('random histories with shared orders, merges at random points, batch cuts and redeliveries', async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, async (sc) => {
        const prefix = `m${run++}`;
        const aggregates = new AggregateStore(t.redis, { prefix, config: cfg });
        const identity = new IdentityStore(t.redis, { prefix });
        const events: Array<{ customer: string; event: InputEvent }> = [];
        let n = 0;
        const order = (
          customer: string,
          o: Partial<OrderEvent> & Pick<OrderEvent, 'order_id' | 'type' | 'occurred_at'>,
        ) =>
          events.push({
            customer,
            event: {
              kind: 'order',
              event: {
                event_id: `e${n++}`,
                customer_id: customer,
                amount_minor: 0,
                currency: 'USD',
                margin_minor: null,
                channel: null,
                items: null,
                original_placed_at: null,
                refund_id: null,
                attributes: null,
                ...o,
              },
            },
          });
        sc.orders.forEach((o, k) => {
          const id = `o${k}`;
          const placedAt = T0 + o.day * DAY + 3_600_000;
          const reporters = o.reporters.map((i) => CUSTOMERS[i]!);
          for (const c of reporters)
            order(c, {
              order_id: id,
              type: 'PLACED',
              amount_minor: o.amount,
              margin_minor: Math.floor(o.amount / 4),
              occurred_at: placedAt,
            });
          const reversalReporters = o.refundsByAll ? reporters : [reporters[0]!];
          o.refunds.forEach((r, j) => {
            for (const c of reversalReporters)
              order(c, {
                order_id: id,
                type: 'REFUNDED',
                refund_id: `${id}-r${j}`,
                amount_minor: r.amount,
                margin_minor: 10,
                occurred_at: placedAt + r.after * DAY + j,
                original_placed_at: placedAt,
              });
          });
          if (o.cancelAfter !== null)
            for (const c of reversalReporters)
              order(c, {
                order_id: id,
                type: 'CANCELLED',
                occurred_at: placedAt + o.cancelAfter * DAY + 7,
                original_placed_at: placedAt,
              });
        });
        for (const x of sc.others) {
          const customer = CUSTOMERS[x.who]!;
          const at = T0 + x.day * DAY + 5_000_000 + n;
          const event: InputEvent = x.web
            ? {
                kind: 'web',
                event: {
                  event_id: `e${n++}`,
                  customer_id: customer,
                  anonymous_id: null,
                  type: 'ADD_TO_CART',
                  url: null,
                  content_id: null,
                  occurred_at: at,
                },
              }
            : {
                kind: 'ticket',
                event: {
                  event_id: `e${n++}`,
                  customer_id: customer,
                  ticket_id: `${customer}-t${x.ticket}`,
                  type: x.type,
                  category: 'GENERAL',
                  priority: 'LOW',
                  csat: null,
                  occurred_at: at,
                } as TicketEvent,
              };
          events.push({ customer, event });
        }
        // Per kind one topic, two partitions by customer, each in event-time order.
        const parts = new Map<string, Rec[]>();
        for (const e of [...events].sort((a, b) => a.event.event.occurred_at - b.event.event.occurred_at)) {
          const topic =
            e.event.kind === 'order' ? 'orders.v1' : e.event.kind === 'web' ? 'web-behavior.v1' : 'tickets.v1';
          const partition = CUSTOMERS.indexOf(e.customer) % 2;
          const k = `${topic}:${partition}`;
          const list = parts.get(k) ?? [];
          list.push({ event: e.event, topic, partition, offset: String(list.length) });
          parts.set(k, list);
        }
        const merges: IdentityEvent[] = [...sc.merges]
          .sort((x, y) => x.day - y.day)
          .map((m, i) => ({
            event_id: `m${i}`,
            type: 'MERGE',
            customer_id: CUSTOMERS[m.b]!,
            anonymous_id: null,
            merged_customer_id: CUSTOMERS[m.a]!,
            source: null,
            occurred_at: T0 + m.day * DAY,
          }));
        const queues = [...parts.values(), merges.map((m) => m as unknown)];
        const pos = queues.map(() => 0);
        const last = queues.map(() => [0, 0] as [number, number]);
        const consume = async (q: number, from: number, to: number) => {
          if (q === queues.length - 1) {
            for (let k = from; k < to; k++) {
              const m = merges[k]!;
              if (m.customer_id === m.merged_customer_id) continue; // SELF_MERGE: dead-lettered before the graph
              const applied = await identity.apply(m);
              if (applied.outcome.kind === 'merged') {
                await foldMerge(
                  { redis: t.redis, aggregates },
                  applied.outcome.merged,
                  applied.outcome.into,
                  m.event_id,
                  { topic: 'identities.v1', partition: 0, offset: String(k) },
                );
              }
            }
            return;
          }
          const batch = (queues[q] as Rec[]).slice(from, to);
          const roots = await identity.resolveMany(batch.map((r) => r.event.event.customer_id!));
          // A record of a merged id that its own aggregates applied before the merge was folded: not again.
          const moved = batch.filter((r) => roots.get(r.event.event.customer_id!) !== r.event.event.customer_id);
          const done = await appliedBeforeMerge(
            t.redis,
            aggregates,
            moved.map((r) => ({ ...r, customerId: r.event.event.customer_id! })),
          );
          const skip = new Set(moved.filter((_, i) => done[i]));
          const byCustomer = new Map<string, Rec[]>();
          for (const r of batch) {
            if (skip.has(r)) continue;
            const root = roots.get(r.event.event.customer_id!)!;
            byCustomer.set(root, [...(byCustomer.get(root) ?? []), r]);
          }
          await aggregates.applyBatch([...byCustomer].map(([customerId, evs]) => ({ customerId, events: evs })));
        };
        const drive = async (q: number, count: number, redo: boolean) => {
          if (redo && last[q]![1] > last[q]![0]) await consume(q, last[q]![0], last[q]![1]);
          const from = pos[q]!;
          const to = Math.min(queues[q]!.length, from + count);
          if (to > from) {
            await consume(q, from, to);
            last[q] = [from, to];
            pos[q] = to;
          }
        };
        for (const s of sc.steps) await drive(s.who % queues.length, s.n, s.redo);
        for (let q = 0; q < queues.length; q++) await drive(q, Number.MAX_SAFE_INTEGER, false);

        const inputs = events.map((e) => e.event);
        for (const asOfDay of [30, 60]) {
          const asOf = T0 + asOfDay * DAY + DAY - 1;
          const want = oracleIdentityMetrics(inputs, merges, asOf, cfg, {
            dedupeHorizonMs: 48 * 3_600_000,
            anonRetentionMs: DAY,
          });
          for (const [customer, expected] of want) {
            const state = await aggregates.readState(customer);
            expect(state, customer).not.toBeNull();
            expect(metricsAt(state!, asOf, cfg), `${customer} as of day ${asOfDay}`).toEqual(expected);
          }
        }
      }),
      { numRuns: Number(process.env.IDENTITY_PROPERTY_RUNS ?? 60) },
    );
  });
});
