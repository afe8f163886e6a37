import type { InputEvent } from '@tierstream/contracts';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLV_INPUT_METRICS } from '../src/clv-inputs';
import { DEFAULT_AGGREGATE_CONFIG } from '../src/config';
import { customerKeys } from '../src/keyspace';
import { dayOf, metricsAt, RETENTION_DAYS } from '../src/metrics';
import { oracleMetrics, oracleRefundExcess } from '../src/oracle';
import { AggregateStore } from '../src/store';
import { buildEvents, DAY, deliver, groupBatch, historyArb } from './history';
import { closeOfJune, moneyCases } from './money-cases';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:16379';
const config = DEFAULT_AGGREGATE_CONFIG;
let redis: Redis;

beforeAll(async () => {
  redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 2 });
  await redis.connect();
});
afterAll(async () => {
  await redis?.quit();
});

async function dropPrefix(prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await redis.del(...keys);
  } while (cursor !== '0');
}

/** Order and revenue metrics: never negative (design-decisions §15). Margins may be (an order sold at a loss). */
const MONEY_METRICS = [
  'orders_lifetime',
  'orders_30d',
  'orders_90d',
  'orders_365d',
  'revenue_lifetime',
  'revenue_30d',
  'revenue_90d',
  'revenue_365d',
  'revenue_prev_90d',
] as const;

/** Counts the money cases a delivery exercised, so the property cannot pass without them. */
function countMoneyCases(
  delivered: Array<{ customerId: string; event: InputEvent }>,
  seen: {
    reversalBeforeOrder: number;
    orderCopies: number;
    cancelledAndRefunded: number;
    cancelledOnly: number;
    latestCancelled: number;
    differingCopies: number;
  },
): void {
  const placed = new Map<string, Set<string>>();
  const types = new Map<string, Set<string>>();
  for (const r of delivered) {
    if (r.event.kind !== 'order') continue;
    const e = r.event.event;
    const key = `${r.customerId}/${e.order_id}`;
    const ids = placed.get(key) ?? new Set<string>();
    if (e.type === 'PLACED') ids.add(e.event_id);
    else if (ids.size === 0) seen.reversalBeforeOrder++;
    placed.set(key, ids);
    const t = types.get(key) ?? new Set<string>();
    t.add(e.type);
    types.set(key, t);
  }
  for (const ids of placed.values()) if (ids.size > 1) seen.orderCopies++;
  for (const t of types.values()) if (t.has('CANCELLED') && t.has('REFUNDED')) seen.cancelledAndRefunded++;
  // Per customer: every placed order cancelled; its latest placed order cancelled; PLACED copies that differ.
  const byCustomer = new Map<string, Map<string, { at: number[]; cancelled: boolean }>>();
  for (const r of delivered) {
    if (r.event.kind !== 'order') continue;
    const e = r.event.event;
    const orders = byCustomer.get(r.customerId) ?? new Map<string, { at: number[]; cancelled: boolean }>();
    byCustomer.set(r.customerId, orders);
    const o = orders.get(e.order_id) ?? { at: [], cancelled: false };
    orders.set(e.order_id, o);
    if (e.type === 'PLACED') o.at.push(e.occurred_at);
    if (e.type === 'CANCELLED') o.cancelled = true;
  }
  for (const orders of byCustomer.values()) {
    const placedOrders = [...orders.values()].filter((o) => o.at.length > 0);
    if (placedOrders.length === 0) continue;
    if (placedOrders.every((o) => o.cancelled)) seen.cancelledOnly++;
    const latest = placedOrders.reduce((a, b) => (b.at[0]! > a.at[0]! ? b : a));
    if (latest.cancelled && placedOrders.some((o) => !o.cancelled)) seen.latestCancelled++;
    if (placedOrders.some((o) => new Set(o.at).size > 1)) seen.differingCopies++;
  }
}

/** The metrics derived from purchase times and order counts (design-decisions §15: a cancelled order has none). */
const PURCHASE_TIME_METRICS = [
  'orders_lifetime',
  'aov_lifetime',
  'first_order_at',
  'last_order_at',
  'recency_days',
  'tenure_days',
  // The CLV inputs (issue 15): purchase days and their spend, first and last purchase day.
  ...CLV_INPUT_METRICS,
] as const;

describe('AggregateStore on real Redis', () => {
  it('applies, skips redelivered offsets and duplicate event ids, reloads after SCRIPT FLUSH', async () => {
    const prefix = 'agg-it-basic';
    await dropPrefix(prefix);
    const store = new AggregateStore(redis, { prefix, config });
    await store.init();
    const t0 = 20_000 * DAY + 1000;
    const placed: InputEvent = {
      kind: 'order',
      event: {
        event_id: 'e1',
        customer_id: 'c1',
        order_id: 'o1',
        type: 'PLACED',
        amount_minor: 1000,
        currency: 'USD',
        margin_minor: null,
        channel: null,
        items: 1,
        occurred_at: t0,
        original_placed_at: null,
        attributes: null,
      },
    };
    const r1 = await store.applyBatch([
      { customerId: 'c1', events: [{ event: placed, topic: 'orders.v1', partition: 3, offset: '41' }] },
    ]);
    expect(r1.get('c1')).toEqual({
      applied: 1,
      firstEventAt: t0,
      lastEventAt: t0,
      refundExcess: 0,
      expiredReversals: 0,
    });
    // Same record again (redelivery) and the same event_id under a new offset (duplicate): both skipped.
    const r2 = await store.applyBatch([
      {
        customerId: 'c1',
        events: [
          { event: placed, topic: 'orders.v1', partition: 3, offset: '41' },
          { event: placed, topic: 'orders.v1', partition: 3, offset: '42' },
        ],
      },
    ]);
    expect(r2.get('c1')).toEqual({ applied: 0, firstEventAt: 0, lastEventAt: 0, refundExcess: 0, expiredReversals: 0 });
    await redis.script('FLUSH');
    const second = {
      ...placed,
      event: { ...placed.event, event_id: 'e2', order_id: 'o2', occurred_at: t0 + 5 },
    } as InputEvent;
    const r3 = await store.applyBatch([
      { customerId: 'c1', events: [{ event: second, topic: 'orders.v1', partition: 3, offset: '43' }] },
    ]);
    expect(r3.get('c1')?.applied).toBe(1);
    const state = await store.readState('c1');
    expect(metricsAt(state!, t0, config).orders_lifetime).toBe(2);
    expect(metricsAt(state!, t0, config).revenue_lifetime).toBe(2000);
    expect(await store.readState('nobody')).toBeNull();
    expect((await store.readMany(['c1', 'nobody'])).size).toBe(1);
    await store.deleteCustomer('c1');
    expect(await redis.exists(customerKeys(prefix, 'c1').agg)).toBe(0);
  });

  it('money cases of issue 14 (items 1–4): exact values, anomalies reported once, redelivery changes nothing', async () => {
    for (const oneBatch of [false, true]) {
      const prefix = `agg-it-money-${oneBatch ? 'batch' : 'single'}`;
      await dropPrefix(prefix);
      const store = new AggregateStore(redis, { prefix, config });
      for (const c of moneyCases()) {
        const records = c.events.map((event, i) => ({ event, topic: 'orders.v1', partition: 0, offset: String(i) }));
        const batches = oneBatch ? [records] : records.map((r) => [r]);
        let excess = 0;
        // Everything twice: the second round is a redelivery (same offsets) and must apply nothing.
        for (const batch of [...batches, ...batches]) {
          const r = (await store.applyBatch([{ customerId: c.customerId, events: batch }])).get(c.customerId)!;
          excess += r.refundExcess;
          expect(r.expiredReversals).toBe(0);
        }
        expect(excess, c.name).toBe(c.refundExcess);
        const state = (await store.readState(c.customerId))!;
        for (const { asOfDay, metrics } of c.expect) {
          const m = metricsAt(state, closeOfJune(asOfDay), config);
          const got = Object.fromEntries(Object.keys(metrics).map((k) => [k, m[k]]));
          expect({ case: c.name, asOfDay, ...got }).toEqual({ case: c.name, asOfDay, ...metrics });
          expect(m).toEqual(oracleMetrics(c.events, closeOfJune(asOfDay), config, 0));
        }
      }
      await dropPrefix(prefix);
    }
  });

  it('a reversal of an order older than the kept order states has no effect and is reported', async () => {
    const prefix = 'agg-it-money-expired';
    await dropPrefix(prefix);
    const store = new AggregateStore(redis, { prefix, config });
    const d0 = 20_000;
    const mk = (type: 'PLACED' | 'REFUNDED', id: string, day: number, amount: number): InputEvent => ({
      kind: 'order',
      event: {
        event_id: id,
        customer_id: 'old',
        order_id: type === 'PLACED' && id === 'p2' ? 'o2' : 'o1',
        type,
        amount_minor: amount,
        currency: 'USD',
        margin_minor: null,
        channel: null,
        items: 1,
        occurred_at: day * DAY + 1000,
        original_placed_at: type === 'REFUNDED' ? d0 * DAY + 1000 : null,
        refund_id: null,
        attributes: null,
      },
    });
    const recs = [mk('PLACED', 'p1', d0, 5000), mk('PLACED', 'p2', d0 + RETENTION_DAYS + 5, 100)].map((event, i) => ({
      event,
      topic: 'orders.v1',
      partition: 0,
      offset: String(i),
    }));
    await store.applyBatch([{ customerId: 'old', events: recs }]);
    // o1's state is folded with its day: a late refund of it finds nothing to cap against.
    const hash = await redis.hgetall(customerKeys(prefix, 'old').agg);
    expect(Object.keys(hash).filter((f) => f.startsWith('n:'))).toEqual(['n:o2']);
    const late = {
      event: mk('REFUNDED', 'r1', d0 + RETENTION_DAYS + 6, 5000),
      topic: 'orders.v1',
      partition: 0,
      offset: '2',
    };
    const r = (await store.applyBatch([{ customerId: 'old', events: [late] }])).get('old')!;
    expect(r).toMatchObject({ applied: 1, expiredReversals: 1, refundExcess: 0 });
    const m = metricsAt((await store.readState('old'))!, (d0 + RETENTION_DAYS + 6) * DAY, config);
    expect(m.revenue_lifetime).toBe(5100);
    await dropPrefix(prefix);
  });

  it('property: any partitioning, interleaving, duplicates, redeliveries and batching give the oracle metrics', async () => {
    let run = 0;
    const session = `${process.pid}-${Date.now()}`;
    // Coverage of the interesting cases, so the property cannot pass vacuously.
    const seen = {
      events: 0,
      duplicatesKept: 0,
      redelivered: 0,
      folded: 0,
      foldedTickets: 0,
      multiPartition: 0,
      // Money anomalies (design-decisions §15).
      reversalBeforeOrder: 0,
      orderCopies: 0,
      cancelledAndRefunded: 0,
      cancelledOnly: 0,
      latestCancelled: 0,
      differingCopies: 0,
      refundExcess: 0,
      lateOrderEvents: 0,
      // CLV inputs: repeat buyers, and customers whose folded days (`pd`) hold purchase days.
      repeatBuyers: 0,
      foldedPurchaseDays: 0,
    };
    await fc.assert(
      fc.asyncProperty(
        fc.array(historyArb, { minLength: 1, maxLength: 3 }),
        fc.integer(),
        fc.constantFrom(48 * 3_600_000, 30 * DAY, 3 * 365 * DAY),
        fc.array(fc.integer({ min: 0, max: DAY * 500 }), { minLength: 3, maxLength: 3 }),
        async (histories, seed, horizon, offsets) => {
          const prefix = `agg-prop-${session}-${run++}`;
          const store = new AggregateStore(redis, { prefix, dedupeHorizonMs: horizon, config });
          await store.init();
          const byCustomer = new Map<string, InputEvent[]>();
          histories.forEach((h, i) => {
            byCustomer.set(`c${i}`, buildEvents(`c${i}`, h));
          });
          const delivery = deliver(byCustomer, seed, horizon);
          seen.events += delivery.delivered.length;
          seen.duplicatesKept += delivery.stats.duplicatesKept;
          seen.redelivered += delivery.stats.redelivered;
          if (delivery.stats.partitions > 1) seen.multiPartition++;
          seen.lateOrderEvents += delivery.stats.lateOrderEvents;
          const applied = new Map<string, number>();
          const excess = new Map<string, number>();
          let expired = 0;
          for (const batch of delivery.batches) {
            const res = await store.applyBatch(groupBatch(batch));
            for (const [c, r] of res) {
              applied.set(c, (applied.get(c) ?? 0) + r.applied);
              excess.set(c, (excess.get(c) ?? 0) + r.refundExcess);
              expired += r.expiredReversals;
            }
          }
          // Within the contract no reversal finds its order's state already folded.
          expect(expired).toBe(0);
          countMoneyCases(delivery.delivered, seen);
          const states = await store.readMany([...byCustomer.keys()]);
          await dropPrefix(prefix);
          for (const customerId of byCustomer.keys()) {
            const events = delivery.delivered.filter((r) => r.customerId === customerId).map((r) => r.event);
            const uniqueIds = new Set(events.map((e) => e.event.event_id));
            expect(applied.get(customerId) ?? 0).toBe(uniqueIds.size);
            const state = states.get(customerId);
            if (state && (state.orderBase.count !== 0 || state.webBaseLastSeenAt !== null)) seen.folded++;
            if (state && state.ticketBase.resolveCount > 0) seen.foldedTickets++;
            if (state && [...state.orderDayBase.values()].some((e) => e.purchase)) seen.foldedPurchaseDays++;
            if (events.length === 0) {
              expect(state).toBeUndefined();
              continue;
            }
            const maxAt = Math.max(...events.map((e) => e.event.occurred_at));
            const maxDay = dayOf(maxAt);
            const asOfs = [
              maxAt,
              (maxDay + 1) * DAY - 1,
              maxAt + offsets[0]!,
              maxAt + offsets[1]! + DAY,
              // Earlier days: within the 400 − 365 = 35 days where retention keeps every window exact.
              maxAt - (offsets[2]! % (35 * DAY)),
              (maxDay - 35) * DAY,
            ];
            for (const asOf of asOfs) {
              const got = metricsAt(state!, asOf, config);
              const want = oracleMetrics(events, asOf, config, horizon);
              if (asOf === maxAt && (want.clv_x ?? 0) > 0) seen.repeatBuyers++;
              expect({ customerId, asOf, ...got }).toEqual({ customerId, asOf, ...want });
              for (const k of MONEY_METRICS)
                expect(got[k], `${customerId} ${k} as of ${asOf}`).toBeGreaterThanOrEqual(0);
            }
            // Purchase times (recency, first/last order, tenure) equal the oracle's as of EVERY day of the range
            // retention keeps exact, so a cancellation is seen from its own day on and not before.
            for (let d = maxDay - 35; d <= maxDay + 1; d++) {
              const got = metricsAt(state!, (d + 1) * DAY - 1, config);
              const want = oracleMetrics(events, (d + 1) * DAY - 1, config, horizon);
              const pick = (m: Record<string, number | null>) =>
                Object.fromEntries(PURCHASE_TIME_METRICS.map((k) => [k, m[k]]));
              expect({ customerId, d, ...pick(got) }).toEqual({ customerId, d, ...pick(want) });
            }
            // Each refund excess is reported once, whatever the delivery: the oracle's lifetime excess.
            const allTime = (maxDay + 10_000) * DAY;
            expect(excess.get(customerId) ?? 0).toBe(oracleRefundExcess(events, allTime, config));
            seen.refundExcess += excess.get(customerId) ?? 0;
          }
        },
      ),
      { numRuns: Number(process.env.AGG_PROPERTY_RUNS ?? 300) },
    );
    console.log('[aggregates property coverage]', JSON.stringify(seen));
    expect(seen.duplicatesKept).toBeGreaterThan(0);
    expect(seen.redelivered).toBeGreaterThan(0);
    expect(seen.folded).toBeGreaterThan(0);
    expect(seen.foldedTickets).toBeGreaterThan(0);
    expect(seen.multiPartition).toBeGreaterThan(0);
    expect(seen.reversalBeforeOrder).toBeGreaterThan(0);
    expect(seen.orderCopies).toBeGreaterThan(0);
    expect(seen.cancelledAndRefunded).toBeGreaterThan(0);
    expect(seen.cancelledOnly).toBeGreaterThan(0);
    expect(seen.latestCancelled).toBeGreaterThan(0);
    expect(seen.differingCopies).toBeGreaterThan(0);
    expect(seen.refundExcess).toBeGreaterThan(0);
    expect(seen.repeatBuyers).toBeGreaterThan(0);
    expect(seen.foldedPurchaseDays).toBeGreaterThan(0);
  });

  it('memory: a realistic customer (5 orders, 20 web events, 1 ticket in a year) stays under 1.5 KB', async () => {
    const prefix = 'agg-mem';
    await dropPrefix(prefix);
    const store = new AggregateStore(redis, { prefix, config });
    await store.init();
    const N = 1000;
    const start = 20_000;
    const mk = (c: number) => {
      const id = `cust-${String(c).padStart(7, '0')}`;
      const rnd = (k: number) => ((c * 7919 + k * 104729) % 1000) / 1000;
      const events: Array<{ event: InputEvent; topic: string; partition: number; offset: string }> = [];
      let off = c * 100;
      const push = (event: InputEvent, topic: string) =>
        events.push({ event, topic, partition: c % 12, offset: String(off++) });
      const uuid = (k: number) =>
        `${c.toString(16).padStart(8, '0')}-0000-4000-8000-${k.toString(16).padStart(12, '0')}`;
      for (let i = 0; i < 5; i++) {
        push(
          {
            kind: 'order',
            event: {
              event_id: uuid(i),
              customer_id: id,
              order_id: `o-${c}-${i}`,
              type: 'PLACED',
              amount_minor: Math.floor(rnd(i) * 50_000) + 500,
              currency: 'USD',
              margin_minor: Math.floor(rnd(i) * 10_000),
              channel: 'web',
              items: 2,
              occurred_at: (start + Math.floor(rnd(i + 10) * 360)) * DAY + Math.floor(rnd(i + 20) * DAY),
              original_placed_at: null,
              attributes: null,
            },
          },
          'orders.v1',
        );
      }
      for (let i = 0; i < 20; i++) {
        push(
          {
            kind: 'web',
            event: {
              event_id: uuid(100 + i),
              customer_id: id,
              anonymous_id: null,
              type: (['PAGE_VIEW', 'PRODUCT_VIEW', 'SEARCH', 'ADD_TO_CART', 'EMAIL_OPENED'] as const)[i % 5]!,
              url: null,
              content_id: null,
              // Sessions: 4 events per visit day.
              occurred_at: (start + Math.floor(rnd(Math.floor(i / 4) + 30) * 360)) * DAY + i * 60_000,
            },
          },
          'web-behavior.v1',
        );
      }
      const opened = (start + 200) * DAY + Math.floor(rnd(50) * DAY);
      const ticket = (k: number, type: 'OPENED' | 'RESOLVED' | 'CLOSED', at: number): InputEvent => ({
        kind: 'ticket',
        event: {
          event_id: uuid(200 + k),
          customer_id: id,
          ticket_id: `tk-${c}`,
          type,
          category: 'BILLING',
          priority: 'NORMAL',
          csat: null,
          occurred_at: at,
        },
      });
      push(ticket(0, 'OPENED', opened), 'tickets.v1');
      push(ticket(1, 'RESOLVED', opened + 5 * 3_600_000), 'tickets.v1');
      push(ticket(2, 'CLOSED', opened + 30 * 3_600_000), 'tickets.v1');
      // Delivered sorted by time, as a live stream would.
      events.sort((a, b) => a.event.event.occurred_at - b.event.event.occurred_at);
      // Offsets in delivery order (numbered before the sort, most records sat below the high-water offset and were
      // skipped as redeliveries: the figure measured one order instead of five).
      events.forEach((e, i) => {
        e.offset = String(c * 100 + i);
      });
      return { customerId: id, events };
    };
    const infoUsed = async () => Number(/used_memory:(\d+)/.exec(await redis.info('memory'))![1]);
    const before = await infoUsed();
    for (let c = 0; c < N; c += 100) {
      await store.applyBatch(Array.from({ length: 100 }, (_, i) => mk(c + i)));
    }
    const after = await infoUsed();
    const perCustomer = (after - before) / N;
    const one = Number(await redis.memory('USAGE', customerKeys(prefix, mk(1).customerId).agg));
    const fields = await redis.hlen(customerKeys(prefix, mk(1).customerId).agg);
    const encoding = await redis.object('ENCODING', customerKeys(prefix, mk(1).customerId).agg);
    console.log(
      `[aggregates memory] used_memory delta/customer=${perCustomer.toFixed(0)} B, MEMORY USAGE one=${one} B, fields=${fields}, encoding=${encoding}`,
    );
    expect(encoding).toBe('listpack');
    // 1.5 KB: five order states (design-decisions §15) cost about 30 B each on top of the buckets.
    expect(perCustomer).toBeLessThanOrEqual(1536);
    expect(one).toBeLessThanOrEqual(1536);
    await dropPrefix(prefix);
  });
});
