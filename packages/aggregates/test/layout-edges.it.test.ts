/**
 * Edge values through both layouts of apply_events.lua (design-decisions §23): the packed layout (compact order states
 * `n:`, web days `W` with day gaps) and the previous one must leave the same aggregates, and every compact order state
 * must read back (keyspace.ts orderStateLegacy, which the identity merge fold parses) as the value the previous layout
 * writes: orders on day 0 (1970-01-01, valid: times are epoch ms >= 0) cancelled that day, order and refund ids with
 * commas, colons, digits-and-colon prefixes and non-ASCII characters, amounts 0 and at the contract's bound, sums
 * beyond 2^51 (not packable), web days thousands of days apart (gaps of 3 varint bytes).
 */
import type { InputEvent, OrderEvent } from '@tierstream/contracts';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestRedis } from '../../../test/support/stack';
import { DEFAULT_AGGREGATE_CONFIG } from '../src/config';
import { decodeStateReply, orderStateLegacy } from '../src/state-decode';
import { AggregateStore } from '../src/store';

const DAY = 86_400_000;

describe('apply_events.lua: edge values in the packed and the previous layout', () => {
  const t = createTestRedis('layout-edges');
  afterAll(() => t.cleanup());
  const packed = new AggregateStore(t.redis, { config: DEFAULT_AGGREGATE_CONFIG, packedLayout: true });
  const previous = new AggregateStore(t.redis, { config: DEFAULT_AGGREGATE_CONFIG, packedLayout: false });
  let seq = 0;
  const order = (
    type: OrderEvent['type'],
    orderId: string,
    at: number,
    amount: number,
    placedAt: number | null = null,
    refundId: string | null = null,
  ): InputEvent => ({
    kind: 'order',
    event: {
      event_id: `o,${++seq}:é`,
      customer_id: 'x',
      order_id: orderId,
      type,
      amount_minor: amount,
      currency: 'USD',
      margin_minor: Math.round(amount / 3),
      channel: null,
      items: 1,
      occurred_at: at,
      original_placed_at: placedAt,
      refund_id: refundId,
      attributes: null,
    },
  });
  const web = (at: number): InputEvent => ({
    kind: 'web',
    event: {
      event_id: `w:${++seq}`,
      customer_id: 'x',
      anonymous_id: null,
      type: 'PAGE_VIEW',
      url: null,
      content_id: null,
      occurred_at: at,
    },
  });

  /** Applies the batches to one customer in each layout; both states and every order state compared. */
  async function bothLayouts(name: string, batches: InputEvent[][], retentionDays?: number) {
    let offset = 0;
    for (const batch of batches) {
      const records = batch.map((event, i) => ({
        event,
        topic: event.kind === 'order' ? 'orders.v1' : 'web-behavior.v1',
        partition: 0,
        offset: String(offset + i),
      }));
      offset += batch.length;
      const [p, l] = await Promise.all([
        packed.applyBatch([{ customerId: `${name}-p`, events: records }], { retentionDays }),
        previous.applyBatch([{ customerId: `${name}-l`, events: records }], { retentionDays }),
      ]);
      expect(p.get(`${name}-p`)).toEqual(l.get(`${name}-l`));
    }
    const read = async (id: string) => {
      const flat = (await t.redis.call('HGETALL', packed.keys(id).agg)) as string[];
      const state = decodeStateReply(name, flat, { idempotence: false })!;
      const orders = new Map<string, string>();
      for (let i = 0; i < flat.length; i += 2) if (flat[i]!.startsWith('n:')) orders.set(flat[i]!, flat[i + 1]!);
      return { state, orders };
    };
    const [p, l] = await Promise.all([read(`${name}-p`), read(`${name}-l`)]);
    expect(p.state).toEqual(l.state);
    expect([...p.orders.keys()].sort()).toEqual([...l.orders.keys()].sort());
    for (const [f, v] of p.orders) expect(orderStateLegacy(v), `${name} ${f}`).toBe(l.orders.get(f));
    return p;
  }

  it('orders on day 0: a cancellation on day 0 reads back as the previous layout writes it', async () => {
    const { orders } = await bothLayouts('day0', [
      [order('PLACED', 'A', 1_000, 500), order('CANCELLED', 'A', 2_000, 0, 1_000)],
      [
        order('PLACED', 'B', 3_000, 70),
        order('CANCELLED', 'B', DAY + 5, 0, 3_000),
        order('REFUNDED', 'B', 3 * DAY, 9, 3_000),
      ],
      [order('REFUNDED', 'C', 4_000, 10, 0), order('CANCELLED', 'C', 5_000, 0, 0)],
    ]);
    // Compact (the flags byte) in the packed layout, and a cancel day of 0 in the previous layout's form.
    expect(orders.get('n:A')!.charCodeAt(0)).toBeLessThan(32);
    expect(orderStateLegacy(orders.get('n:A')!).split(',')[4]).toBe('0');
  });

  it('hostile order and refund ids, amounts 0 and at the bound, sums beyond 2^51', async () => {
    const now = 20_400 * DAY;
    const big = Array.from({ length: 2_500 }, (_, i) => order('PLACED', `big ${i}`, now + i, 1_000_000_000_000));
    await bothLayouts('ids', [
      [
        order('PLACED', 'a,b:c', now, 500),
        order('PLACED', '3:ab', now + 1, 7),
        order('PLACED', 'ü日本,', now + 2, 0),
        order('PLACED', '12:', now + 3, 1_000_000_000_000),
      ],
      [
        order('REFUNDED', 'a,b:c', now + DAY, 100, now, 'r,1:2'),
        order('REFUNDED', '3:ab', now + DAY, 1, now + 1, '5:x'),
        order('REFUNDED', '12:', now + 2 * DAY, 1_000_000_000_000, now + 3),
        order('CANCELLED', 'ü日本,', now + 3 * DAY, 0, now + 2),
      ],
      big,
      [order('REFUNDED', 'big 7', now + 4 * DAY, 3, now + 7)],
    ]);
  });

  it('web days thousands of days apart, with and without a retention fold', async () => {
    const now = 20_400 * DAY;
    const batches = [
      [web(0), web(now)],
      [web(now - 5_000 * DAY), web(now + 1)],
      [web(100 * DAY), web(now - 4_096 * DAY), web(now - 4_095 * DAY)],
      [web(now + 3 * DAY)],
    ];
    await bothLayouts('gaps', batches, 1_000_000);
    const folded = await bothLayouts('fold', batches);
    expect(folded.state.webBaseLastSeenAt).toBe(now - 4_095 * DAY);
  });
});
