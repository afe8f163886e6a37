import type { InputEvent } from '@tierstream/contracts';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { DEFAULT_AGGREGATE_CONFIG } from '../src/config';
import { identityKeys } from '../src/identity-store';
import { AggregateStore } from '../src/store';
import { twoTinyCustomers } from './history';

/**
 * apply_events.lua and merged customers (docs/design-decisions.md §22): a customer whose identity hash has `to`
 * (merged into another) gets nothing applied, in the same script call that would write (no event can land between
 * the caller's routing and the write), and its result is `moved`; the others of the call are applied as usual, and
 * `applyToMerged` (the merge fold's own correction) still applies.
 */
describe('apply_events.lua and merged customers', () => {
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:16379', { maxRetriesPerRequest: 2 });
  const prefix = `moved${process.pid}`;
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });

  it('applies nothing for a merged customer, says moved, and applies the others', async () => {
    const { gone, kept, items } = twoTinyCustomers();
    const store = new AggregateStore(redis, { prefix, config: DEFAULT_AGGREGATE_CONFIG });
    await store.init();
    await redis.hset(identityKeys(prefix).customer(gone), 'to', kept, 'tb', kept);
    await redis.hset(identityKeys(prefix).customer(kept), `mg:${gone}`, 'merge-1');
    const applied = await store.applyBatch(items);
    expect(applied.get(gone)).toMatchObject({ applied: 0, moved: true });
    expect(applied.get(kept)?.applied).toBeGreaterThan(0);
    expect(applied.get(kept)?.moved).toBeUndefined();
    expect(await redis.exists(`${prefix}:{${gone}}:agg`)).toBe(0);
    // The merge fold's correction of the merged customer is applied.
    const forced = await store.applyBatch([items[0]!], { applyToMerged: true });
    expect(forced.get(gone)?.applied).toBeGreaterThan(0);
    expect(await redis.exists(`${prefix}:{${gone}}:agg`)).toBe(1);
  });

  it('applyToMerged also holds for the one-by-one retry of a merged web record that met a redelivery (CONFLICT)', async () => {
    const store = new AggregateStore(redis, { prefix, config: DEFAULT_AGGREGATE_CONFIG });
    const gone = 'conflict-gone';
    await redis.hset(identityKeys(prefix).customer(gone), 'to', 'conflict-kept', 'tb', 'conflict-kept');
    const web = (i: number): InputEvent => ({
      kind: 'web',
      event: {
        event_id: `cw${i}`,
        customer_id: gone,
        anonymous_id: null,
        type: 'PAGE_VIEW',
        url: null,
        content_id: null,
        occurred_at: Date.UTC(2026, 0, 10) + i * 60_000,
      },
    });
    const item = (from: number, to: number) => ({
      customerId: gone,
      events: Array.from({ length: to - from + 1 }, (_, k) => ({
        event: web(from + k),
        topic: 'web-behavior.v1',
        partition: 0,
        offset: String(from + k),
      })),
    });
    expect((await store.applyBatch([item(0, 4)], { applyToMerged: true })).get(gone)?.applied).toBe(5);
    // Offsets 3 and 4 again: the merged record conflicts, its events go again one by one, still to the merged id.
    const calls = vi.spyOn(store as unknown as { applyCalls: (...a: unknown[]) => unknown }, 'applyCalls');
    const again = (await store.applyBatch([item(3, 8)], { applyToMerged: true })).get(gone);
    // The first round and the retry, both with the identity check off.
    expect(calls.mock.calls.map((c) => c[2])).toEqual([false, false]);
    expect(again?.moved).toBeUndefined();
    expect(again?.applied).toBe(4);
    // Without the option: moved, nothing applied.
    expect((await store.applyBatch([item(9, 9)])).get(gone)).toMatchObject({ applied: 0, moved: true });
  });
});
