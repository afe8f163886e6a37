import { customerIdOf, type InputEvent } from '@tierstream/contracts';
import { generateWorkload } from '@tierstream/generator';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_AGGREGATE_CONFIG } from '../src/config';
import { identityKeys } from '../src/identity-store';
import { AggregateStore } from '../src/store';

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
    const byCustomer = new Map<string, InputEvent[]>();
    for (const e of generateWorkload('tiny')) {
      const id = customerIdOf(e);
      if (id !== null) byCustomer.set(id, [...(byCustomer.get(id) ?? []), e]);
    }
    const [gone, kept] = [...byCustomer.keys()].slice(0, 2) as [string, string];
    const store = new AggregateStore(redis, { prefix, config: DEFAULT_AGGREGATE_CONFIG });
    await store.init();
    await redis.hset(identityKeys(prefix).customer(gone), 'to', kept, 'tb', kept);
    await redis.hset(identityKeys(prefix).customer(kept), `mg:${gone}`, 'merge-1');
    const items = [gone, kept].map((customerId) => ({
      customerId,
      events: byCustomer
        .get(customerId)!
        .map((event, i) => ({ event, topic: 'orders.v1', partition: 0, offset: String(i) })),
    }));
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
});
