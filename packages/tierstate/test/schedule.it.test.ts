import { afterAll, describe, expect, it } from 'vitest';
import { createTestRedis } from '../../../test/support/stack';
import { TierStateStore } from '../src/store';

// The due index written by the aggregator (schedule.lua through TierStateStore.schedule, one call per partition and
// chunk of customers) on the real stack's Redis.

describe('TierStateStore.schedule', () => {
  const t = createTestRedis('schedule');
  const store = new TierStateStore(t.redis, 'ts');
  afterAll(() => t.cleanup());

  it('keeps the earliest due instant per customer, steps the touch on every call, lists every customer, across chunks', async () => {
    // 2,500 customers over 2 partitions (3 chunks on partition 0), each scheduled in two batches.
    const ids = Array.from({ length: 2_500 }, (_, i) => `c${i}`);
    const partitionOf = (i: number) => (i % 5 === 0 ? 1 : 0);
    await store.schedule(ids.map((customerId, i) => ({ customerId, partition: partitionOf(i), dueAt: 1_000 + i })));
    // Later due instants for even customers (kept: earlier), earlier ones for odd customers (taken).
    await store.schedule(
      ids.map((customerId, i) => ({ customerId, partition: partitionOf(i), dueAt: i % 2 === 0 ? 9_000 + i : 500 + i })),
    );
    for (const p of [0, 1]) {
      const mine = ids.flatMap((id, i) => (partitionOf(i) === p ? [{ id, i }] : []));
      const due = await store.due(p, Number.MAX_SAFE_INTEGER, 10_000);
      expect(due.length).toBe(mine.length);
      const byId = new Map(due.map((d) => [d.customerId, d]));
      for (const { id, i } of mine) {
        expect(byId.get(id)?.dueAt).toBe(i % 2 === 0 ? 1_000 + i : 500 + i);
        // The score read back: the due instant plus the touch counter (two calls: 1/1024) in its fraction.
        expect(Number(byId.get(id)?.touch)).toBe((i % 2 === 0 ? 1_000 + i : 500 + i) + 1 / 1024);
      }
      expect(await store.customerCount(p)).toBe(mine.length);
    }
  });

  it('takes a customer named twice in one call once: the earlier instant, the counter stepped once per mention', async () => {
    await store.schedule([
      { customerId: 'twice', partition: 7, dueAt: 9_000 },
      { customerId: 'twice', partition: 7, dueAt: 8_000 },
      { customerId: 'other', partition: 7, dueAt: 8_500 },
    ]);
    expect(await store.due(7, 10_000, 10)).toEqual([
      { customerId: 'twice', dueAt: 8_000, touch: String(8_000 + 1 / 1024) },
      { customerId: 'other', dueAt: 8_500, touch: '8500' },
    ]);
    await expect(store.schedule([{ customerId: 'x', partition: 7, dueAt: 1.5 }])).rejects.toThrow(/integer/);
  });
});
