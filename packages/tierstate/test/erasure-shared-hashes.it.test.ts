import type { TierState } from '@tierstream/tiering';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { testEndpoints, uniqueName } from '../../../test/support/stack';
import { eraseRedisCustomer } from '../src/erasure';
import { TierStateStore } from '../src/store';

const state = (id: string, rulesVersion: string): TierState => ({
  customer_id: id,
  version: 1,
  rules_version: rulesVersion,
  cutpoints_version: 'cp-1',
  last_eval_day: 20_634,
  tiers: { value_tier: 'GOLD' },
  pending: {},
  decided_by: { value_tier: 'share:GOLD' },
});

/**
 * The erasure sweep removes a customer's id from shared hashes keyed by customer (population caches, touch counters);
 * the shared hashes keyed by something else (the tier states' code table, the watermarks, partition meta) must keep a
 * field that happens to be spelled like the erased id.
 */
describe('erasure sweep and shared hashes not keyed by customer', () => {
  const redis = new Redis(testEndpoints().redisUrl, { maxRetriesPerRequest: 3 });
  const prefix = uniqueName('erasecodes');
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });

  it('keeps the code table (gen, next), the watermarks and partition meta when customers named like their fields are erased', async () => {
    const store = new TierStateStore(redis, prefix);
    await store.commit(0, [
      { customerId: 'A', state: state('A', 'rules-1'), processedDueAt: null, touch: '0', nextDueAt: null },
    ]);
    await store.advanceWatermarks([{ topic: 'orders.v1', partition: 0, at: 1_000 }]);
    await store.setPartitionMeta(0, { closed_day: '20633' });
    const codes = await redis.hgetall(`${prefix}:tiercodes`);
    expect(codes).toHaveProperty('gen');
    expect(codes).toHaveProperty('next');
    for (const id of ['gen', 'next', 'orders.v1:0', 'closed_day']) await eraseRedisCustomer(redis, prefix, id);
    expect(await redis.hgetall(`${prefix}:tiercodes`)).toEqual(codes);
    expect((await store.readWatermarks()).get('orders.v1:0')).toBe(1_000);
    expect((await store.getPartitionMeta(0)).closed_day).toBe('20633');
    // A string coded after the erasure gets a code of its own: states written before still read as written.
    await store.commit(0, [
      { customerId: 'B', state: state('B', 'rules-2'), processedDueAt: null, touch: '0', nextDueAt: null },
    ]);
    const fresh = new TierStateStore(redis, prefix);
    const read = await fresh.readStates(['A', 'B']);
    expect(read.get('A')?.rules_version).toBe('rules-1');
    expect(read.get('B')?.rules_version).toBe('rules-2');
  });
});
