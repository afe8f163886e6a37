import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { InputEvent, OrderEvent, TicketEvent } from '@tierstream/contracts';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_AGGREGATE_CONFIG } from '../src/config';
import type { AggregateState } from '../src/metrics';
import { decodeStateReply, expandPackedFields, orderStateLegacy } from '../src/state-decode';
import { AggregateStore } from '../src/store';

/**
 * The packed layout (design-decisions §23) where a day or a ticket is held in both forms, as after an identity merge
 * fold (identity_merge_fold-1.lua adds the merged customer's fields, in the previous layout, into the survivor's packed
 * hash): read as their sum and merge, merged by the next write, folded once by the retention fold; equal to one hash
 * that took all the events in the previous layout.
 */
const FOLD_LUA = readFileSync(new URL('../lua/identity_merge_fold-1.lua', import.meta.url), 'utf8');

describe('apply_events.lua: packed and previous-layout fields of the same day and ticket', () => {
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:16379', { maxRetriesPerRequest: 2 });
  const prefix = `packed${process.pid}`;
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });

  const DAY = 86_400_000;
  const d = 20_000;
  let seq = 0;
  const order = (type: OrderEvent['type'], orderId: string, at: number, amount: number, placedAt?: number) =>
    ({
      kind: 'order',
      event: {
        event_id: `o${++seq}`,
        customer_id: 'x',
        order_id: orderId,
        type,
        amount_minor: amount,
        currency: 'USD',
        margin_minor: Math.round(amount / 3),
        channel: null,
        items: 1,
        occurred_at: at,
        original_placed_at: placedAt ?? null,
        refund_id: null,
        attributes: null,
      },
    }) as InputEvent;
  const ticket = (type: TicketEvent['type'], at: number, eventId = `t${++seq}`, csat: number | null = null) =>
    ({
      kind: 'ticket',
      event: {
        event_id: eventId,
        customer_id: 'x',
        ticket_id: 'T1',
        type,
        category: 'COMPLAINT',
        priority: 'LOW',
        csat,
        occurred_at: at,
      },
    }) as InputEvent;
  const web = (at: number, type: 'PAGE_VIEW' | 'SEARCH' | 'EMAIL_CLICKED') =>
    ({
      kind: 'web',
      event: {
        event_id: `w${++seq}`,
        customer_id: 'x',
        anonymous_id: null,
        type,
        url: null,
        content_id: null,
        occurred_at: at,
      },
    }) as InputEvent;
  const records = (events: InputEvent[], partition: number) =>
    events.map((event, i) => ({
      event,
      topic: event.kind === 'order' ? 'orders.v1' : event.kind === 'web' ? 'web-behavior.v1' : 'tickets.v1',
      partition,
      offset: String(i),
    }));
  const stateOf = async (store: AggregateStore, id: string) =>
    decodeStateReply(id, (await redis.call('HGETALL', store.keys(id).agg)) as string[], { idempotence: false })!;
  /** What both hashes must agree on; days in order, a day's cancelled times in time order (both depend on the merge). */
  const view = (s: AggregateState) => ({
    orders: [...s.orders]
      .sort(([x], [y]) => x - y)
      .map(([day, b]) => [
        day,
        { ...b, cancelled: b.cancelled && [...b.cancelled].sort((x, y) => x.placedAt - y.placedAt) },
      ]),
    adjustments: [...s.adjustments].sort((a, b) => a.orderDay - b.orderDay || a.effectiveDay - b.effectiveDay),
    service: [...s.service].sort(([x], [y]) => x - y),
    web: [...s.web].sort(([x], [y]) => x - y),
    webBase: s.webBaseLastSeenAt,
    tickets: s.tickets,
    orderBase: s.orderBase,
    orderDayBase: s.orderDayBase,
    ticketBase: s.ticketBase,
    firstOrderAt: s.firstOrderAt,
  });

  it('reads a day and a ticket held in both forms as one, merges them when written, folds them once', async () => {
    const packed = new AggregateStore(redis, { prefix, config: DEFAULT_AGGREGATE_CONFIG, packedLayout: true });
    const previous = new AggregateStore(redis, { prefix, config: DEFAULT_AGGREGATE_CONFIG, packedLayout: false });
    const t0 = d * DAY + 3_600_000;
    // A's and B's events share day d (orders, service) and ticket T1 (B's status wins the tie on its greater id).
    const a = [
      order('PLACED', 'A1', t0, 1_000),
      order('PLACED', 'A2', t0 + 1_000, 700),
      order('CANCELLED', 'A2', t0 + 2 * DAY, 0, t0 + 1_000),
      ticket('OPENED', t0 + 5_000),
      ticket('ESCALATED', t0 + 6_000),
      ticket('RESOLVED', t0 + DAY, 'ta'),
    ];
    const b = [
      order('PLACED', 'B1', t0 + 9_000, 2_500),
      order('PLACED', 'B2', t0 + 10_000, 400),
      order('CANCELLED', 'B2', t0 + 3 * DAY, 0, t0 + 10_000),
      order('REFUNDED', 'B1', t0 + 4 * DAY, 300, t0 + 9_000),
      ticket('OPENED', t0 + 2_000),
      ticket('SATISFACTION_RATED', t0 + 7_000, undefined, 4),
      ticket('REOPENED', t0 + DAY, 'tb'),
    ];
    await packed.applyBatch([{ customerId: 'a', events: records(a, 0) }]);
    await packed.applyBatch([{ customerId: 'b', events: records(b, 1) }]);
    // The survivor: B's hash plus A's day and ticket fields in the previous layout (as the merge fold adds them).
    const aFields = expandPackedFields((await redis.call('HGETALL', packed.keys('a').agg)) as string[]);
    const added: string[] = [];
    for (let i = 0; i < aFields.length; i += 2)
      if (/^[aotkqnu]:/.test(aFields[i]!)) added.push(aFields[i]!, aFields[i + 1]!);
    expect(added).toContain(`o:${d}`);
    expect(added).toContain(`t:${d}`);
    expect(added).toContain('k:T1');
    await redis.copy(packed.keys('b').agg, packed.keys('z').agg);
    await redis.hset(packed.keys('z').agg, ...added, 'lb', String(d));
    expect(await redis.hexists(packed.keys('z').agg, 'o')).toBe(1);
    expect(await redis.hexists(packed.keys('z').agg, 'K:T1')).toBe(1);
    // The reference: all of them in one hash, previous layout.
    await previous.applyBatch([{ customerId: 'r', events: records(a, 0) }]);
    await previous.applyBatch([{ customerId: 'r', events: records(b, 1) }]);
    expect(view(await stateOf(packed, 'z'))).toEqual(view(await stateOf(previous, 'r')));
    const t1 = (await stateOf(previous, 'r')).tickets.get('T1')!;
    expect(t1).toMatchObject({ openedAt: t0 + 2_000, status: 'REOPENED', statusEventId: 'tb' });

    // More events of day d and ticket T1: the survivor's fields of both forms merged into the packed ones.
    const c = [
      order('PLACED', 'C1', t0 + 20_000, 900),
      order('REFUNDED', 'A1', t0 + 5 * DAY, 100, t0),
      ticket('ESCALATED', t0 + 30_000),
      ticket('CLOSED', t0 + 6 * DAY),
    ];
    await packed.applyBatch([{ customerId: 'z', events: records(c, 2) }]);
    await previous.applyBatch([{ customerId: 'r', events: records(c, 2) }]);
    expect(view(await stateOf(packed, 'z'))).toEqual(view(await stateOf(previous, 'r')));
    const fields = await redis.hkeys(packed.keys('z').agg);
    // The written day and ticket left their day fields; an untouched day keeps its own (t:<d + 1>) until written.
    expect(fields.filter((f) => /^[otkq]:/.test(f))).toEqual([`t:${d + 1}`]);

    // Far later: everything folds into the bases, once.
    const late = [order('PLACED', 'L1', t0 + 2_000 * DAY, 50)];
    await packed.applyBatch([{ customerId: 'z', events: records(late, 3) }]);
    await previous.applyBatch([{ customerId: 'r', events: records(late, 3) }]);
    const folded = await stateOf(packed, 'z');
    expect(view(folded)).toEqual(view(await stateOf(previous, 'r')));
    expect(folded.ticketBase.resolveCount).toBe(1);
    expect(folded.orderBase.count).toBe(3);
    expect((await redis.hkeys(packed.keys('z').agg)).filter((f) => /^[otkqK]:|^[ot]$/.test(f))).toEqual([`o`]);
  });

  it('folds a ticket held in both forms once', async () => {
    const packed = new AggregateStore(redis, { prefix, config: DEFAULT_AGGREGATE_CONFIG, packedLayout: true });
    const previous = new AggregateStore(redis, { prefix, config: DEFAULT_AGGREGATE_CONFIG, packedLayout: false });
    const t0 = d * DAY;
    const a = [ticket('OPENED', t0 + 1_000), ticket('CLOSED', t0 + 2 * DAY)];
    const b = [ticket('OPENED', t0 + 500), ticket('RESOLVED', t0 + DAY)];
    await previous.applyBatch([{ customerId: 'fa', events: records(a, 0) }]);
    await packed.applyBatch([{ customerId: 'fz', events: records(b, 1) }]);
    const legacy = await redis.hgetall(previous.keys('fa').agg);
    const added = Object.entries(legacy).filter(([f]) => /^[tkq]:/.test(f));
    expect(added.map(([f]) => f)).toContain('k:T1');
    await redis.hset(packed.keys('fz').agg, ...added.flat(), 'lb', String(d));
    await previous.applyBatch([{ customerId: 'fr', events: records([...a, ...b], 0) }]);
    const late = [order('PLACED', 'L1', t0 + 2_000 * DAY, 50)];
    await packed.applyBatch([{ customerId: 'fz', events: records(late, 3) }]);
    await previous.applyBatch([{ customerId: 'fr', events: records(late, 3) }]);
    const folded = await stateOf(packed, 'fz');
    expect(view(folded)).toEqual(view(await stateOf(previous, 'fr')));
    expect(folded.ticketBase).toMatchObject({ resolveCount: 1, resolveSumMs: t0 + DAY - (t0 + 500) });
    expect(await redis.hkeys(packed.keys('fz').agg)).not.toContain('k:T1');
  });
  it("order states and web days compact (n:<order>, W): the previous layout's values, read in both forms", async () => {
    const packed = new AggregateStore(redis, { prefix, config: DEFAULT_AGGREGATE_CONFIG, packedLayout: true });
    const previous = new AggregateStore(redis, { prefix, config: DEFAULT_AGGREGATE_CONFIG, packedLayout: false });
    const t0 = d * DAY + 7_200_000;
    const refund = (orderId: string, at: number, amount: number, placedAt: number, margin: number | null) => {
      const e = order('REFUNDED', orderId, at, amount, placedAt);
      (e.event as OrderEvent).margin_minor = margin;
      return e;
    };
    // Every shape of a state: placed with a time, refunds on two days (margins of both signs), a cancellation on a
    // later day, reversals waiting for their PLACED, amount and margin 0; web days with gaps of 1 and 70 days and types
    // past the first six (a mask of two varint bytes).
    const first = [
      order('PLACED', 'P1', t0, 1_000),
      refund('P1', t0 + DAY, 100, t0, 30),
      refund('P1', t0 + 3 * DAY, 50, t0, -20),
      refund('P1', t0 + 3 * DAY + 5, 25, t0, null),
      order('PLACED', 'P2', t0 + 60_000, 0),
      order('CANCELLED', 'P2', t0 + 2 * DAY, 0, t0 + 60_000),
      order('REFUNDED', 'P3', t0 + 4 * DAY, 70, t0 + 90_000),
      order('PLACED', 'P4', t0 + 2 * DAY, 12_345_678),
      web(t0 - 70 * DAY, 'PAGE_VIEW'),
      web(t0, 'SEARCH'),
      web(t0 + 5_000, 'EMAIL_CLICKED'),
      web(t0 + DAY, 'PAGE_VIEW'),
    ];
    const later = [
      order('PLACED', 'P3', t0 + 90_000, 700),
      order('CANCELLED', 'P1', t0 + 5 * DAY, 0, t0),
      refund('P4', t0 + 5 * DAY, 1_000, t0 + 2 * DAY, 400),
      order('PLACED', 'P5', t0 + 5 * DAY, 55),
      web(t0 + 2 * DAY, 'SEARCH'),
      web(t0 + 40_000, 'PAGE_VIEW'),
    ];
    await packed.applyBatch([{ customerId: 'np', events: records(first, 0) }]);
    await previous.applyBatch([{ customerId: 'nl', events: records(first, 0) }]);
    const orderStates = async (id: string) =>
      Object.entries(await redis.hgetall(packed.keys(id).agg)).filter(([f]) => f.startsWith('n:'));
    const legacy = new Map(await orderStates('nl'));
    const compact = await orderStates('np');
    expect(compact.map(([f]) => f).sort()).toEqual([...legacy.keys()].sort());
    for (const [f, v] of compact) {
      expect(v.charCodeAt(0)).toBeLessThan(32);
      expect(v.length).toBeLessThan(legacy.get(f)!.length);
      expect(orderStateLegacy(v)).toBe(legacy.get(f));
    }
    expect(await redis.hexists(packed.keys('np').agg, 'W')).toBe(1);
    expect(await redis.hexists(packed.keys('np').agg, 'w')).toBe(0);
    expect(await redis.hexists(previous.keys('nl').agg, 'W')).toBe(0);
    expect(view(await stateOf(packed, 'np'))).toEqual(view(await stateOf(previous, 'nl')));

    // Each form continued by the other writer, against a hash that took everything in the previous layout.
    await redis.copy(previous.keys('nl').agg, packed.keys('up').agg);
    await redis.copy(packed.keys('np').agg, packed.keys('down').agg);
    await packed.applyBatch([{ customerId: 'up', events: records(later, 1) }]);
    await previous.applyBatch([{ customerId: 'down', events: records(later, 1) }]);
    await previous.applyBatch([{ customerId: 'nl', events: records(later, 1) }]);
    const reference = view(await stateOf(previous, 'nl'));
    expect(view(await stateOf(packed, 'up'))).toEqual(reference);
    expect(view(await stateOf(previous, 'down'))).toEqual(reference);
    const after = new Map(await orderStates('nl'));
    for (const [f, v] of await orderStates('up')) {
      // Written by this call (compact) or untouched since the previous layout wrote it.
      expect(orderStateLegacy(v)).toBe(after.get(f));
    }
    expect((await redis.hkeys(packed.keys('up').agg)).filter((f) => f === 'w' || f === 'W')).toEqual(['W']);
    expect((await redis.hkeys(packed.keys('down').agg)).filter((f) => f === 'w' || f === 'W')).toEqual(['w']);
  });
  it("dedupe memory without the topic's time when its latest entry has it; with it after an upgrade from x:", async () => {
    const packed = new AggregateStore(redis, { prefix, config: DEFAULT_AGGREGATE_CONFIG, packedLayout: true });
    const previous = new AggregateStore(redis, { prefix, config: DEFAULT_AGGREGATE_CONFIG, packedLayout: false });
    const field = `e:${createHash('sha1').update('web-behavior.v1').digest('hex').slice(0, 4)}`;
    const t0 = d * DAY + 3_600_000;
    const apply = async (store: AggregateStore, id: string, events: InputEvent[], from: number) =>
      (
        await store.applyBatch([
          { customerId: id, events: records(events, 0).map((r, i) => ({ ...r, offset: String(from + i) })) },
        ])
      ).get(id)!.applied;
    const memory = async (id: string) => (await redis.hget(packed.keys(id).agg, field))!;
    const a = web(t0, 'SEARCH');
    const b = web(t0 - 60_000, 'PAGE_VIEW');
    // Two entries (16 digits each), the later one's time the topic's: no time of its own. The previous layout's
    // writer keeps it (7 + 32).
    expect(await apply(packed, 'dx', [a, b], 0)).toBe(2);
    expect(await apply(previous, 'dy', [a, b], 0)).toBe(2);
    expect((await memory('dx')).length).toBe(32);
    expect((await memory('dy')).length).toBe(39);
    // Both forms remember the same events: copies under new offsets are skipped, a new event counts.
    const c = web(t0 - 30_000, 'SEARCH');
    expect(await apply(packed, 'dy', [a, b, c], 2)).toBe(1);
    expect(await apply(previous, 'dx', [a, b, c], 2)).toBe(1);
    expect((await memory('dy')).length).toBe(48);
    expect((await memory('dx')).length).toBe(7 + 48);
    // A hash of the first layout (x:<code> = the topic's time, no entries kept): an older event than that time
    // keeps the time before its entry; a later one drops it.
    await redis.hset(packed.keys('dz').agg, `x:${field.slice(2)}`, String(t0 + DAY), 'mx', String(t0 + DAY));
    expect(await apply(packed, 'dz', [a], 0)).toBe(1);
    expect((await memory('dz')).length).toBe(7 + 16);
    expect(await apply(packed, 'dz', [a, web(t0 + DAY + 1, 'SEARCH')], 1)).toBe(1);
    expect((await memory('dz')).length).toBe(32);
    const seen = async (id: string) =>
      [...decodeStateReply(id, (await redis.call('HGETALL', packed.keys(id).agg)) as string[])!.seenEvents.values()]
        .sort()
        .filter((x, i, all) => all.indexOf(x) === i);
    for (const id of ['dx', 'dy']) expect(await seen(id)).toEqual([t0 - 60_000, t0 - 30_000, t0]);

    // The identity merge fold concatenates both ids' entries under the later time: without it when both had none.
    const fold = async (from: string, into: string, mergeId: string) =>
      redis.eval(
        FOLD_LUA,
        1,
        packed.keys(into).agg,
        mergeId,
        ...((await redis.call('HGETALL', packed.keys(from).agg)) as string[]),
      );
    expect(await fold('dy', 'dz', 'm1')).toBe(1);
    expect((await memory('dz')).length).toBe(32 + 48);
    expect(await seen('dz')).toEqual([t0 - 60_000, t0 - 30_000, t0, t0 + DAY + 1]);
    expect(await apply(packed, 'dw', [web(t0 + 10, 'SEARCH')], 0)).toBe(1);
    expect(await fold('dx', 'dw', 'm2')).toBe(1);
    expect((await memory('dw')).length).toBe(7 + 16 + 48);
    // The merged id's events under new offsets are copies for the survivor too.
    expect(await apply(packed, 'dz', [b, c], 10)).toBe(0);
    expect(await apply(packed, 'dw', [a, b, c, web(t0 + 20, 'SEARCH')], 10)).toBe(1);
    expect(await seen('dw')).toEqual([t0 - 60_000, t0 - 30_000, t0, t0 + 10, t0 + 20]);
  });
});
