import { suppressionKey } from '@tierstream/config';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_AGGREGATE_CONFIG } from '../src/config';
import { AggregateStore } from '../src/store';
import { twoTinyCustomers } from './history';

/**
 * apply_events.lua and erasure (docs/security.md "Erasure"): a customer whose suppression marker exists gets nothing
 * applied, in the same script call that would write (no window between a check and the write); the others of the
 * same call are applied as usual.
 */
describe('apply_events.lua and suppressed customers', () => {
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:16379', { maxRetriesPerRequest: 2 });
  const prefix = `suppress${process.pid}`;
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });

  it('applies nothing for a suppressed customer and everything for the others', async () => {
    const { gone, kept, items } = twoTinyCustomers();
    const store = new AggregateStore(redis, { prefix, config: DEFAULT_AGGREGATE_CONFIG });
    await store.init();
    await redis.set(suppressionKey(prefix, gone), 'request-1');
    const applied = await store.applyBatch(items);
    expect(applied.get(gone)?.applied).toBe(0);
    expect(applied.get(kept)?.applied).toBeGreaterThan(0);
    expect(await redis.exists(`${prefix}:{${gone}}:agg`)).toBe(0);
    expect(await redis.exists(`${prefix}:{${kept}}:agg`)).toBe(1);
    // Once the suppression ends, the id may come back.
    await redis.del(suppressionKey(prefix, gone));
    expect((await store.applyBatch(items)).get(gone)?.applied).toBeGreaterThan(0);
  });
});
