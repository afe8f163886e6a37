/**
 * RedisParkingStore against the stack's Redis (keys under a unique prefix): the scripts' semantics and the write
 * order between a customer's queue and the due set (docs/destinations.md, "Parking").
 */
import type { ParkedItem } from '@tierstream/destinations';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestRedis } from '../../../test/support/stack';
import { RedisParkingStore } from '../src/parking-store';

const t = createTestRedis('parking');
afterAll(() => t.cleanup());

const item = (customer: string, n: number): ParkedItem => ({
  id: `tx-${customer}-${n}`,
  customer,
  body: `{"n":${n},"tab":"\\t"}`,
  source: { topic: 'transitions', partition: 1, offset: String(n) },
});

describe('RedisParkingStore', () => {
  it('parks in order behind the first item, deduplicates a redelivered id, settles head first and unschedules', async () => {
    const store = new RedisParkingStore(t.redis, 'ts', 'hook-a');
    expect(await store.appendIfParked(item('c{1}', 0))).toBe(false);
    await store.park(item('c{1}', 0), 1, 5_000);
    expect(await store.appendIfParked(item('c{1}', 1))).toBe(true);
    // A redelivered batch: the same ids are not queued twice.
    await store.park(item('c{1}', 0), 1, 9_000);
    expect(await store.appendIfParked(item('c{1}', 1))).toBe(true);
    expect(await t.redis.llen('ts:dest:hook-a:{c%7B1%7D}:parked')).toBe(2);

    // Not due before 5 000 (the first park's time: NX kept it); claimed once, then held by the lease.
    expect(await store.claimDue(4_999, 60_000, 10)).toEqual([]);
    expect(await store.claimDue(5_000, 60_000, 10)).toEqual(['c{1}']);
    expect(await store.claimDue(59_999, 70_000, 10)).toEqual([]);
    expect(await store.head('c{1}')).toEqual({ item: item('c{1}', 0), attempts: 1 });

    await store.retryLater('c{1}', 'tx-c{1}-0', 2, 61_000);
    expect(await store.head('c{1}')).toMatchObject({ attempts: 2 });
    expect(await store.claimDue(61_000, 90_000, 10)).toEqual(['c{1}']);
    // Settling a head that is not the head changes nothing.
    await store.settle('c{1}', 'tx-c{1}-1', 62_000);
    expect((await store.head('c{1}'))?.item.id).toBe('tx-c{1}-0');
    await store.settle('c{1}', 'tx-c{1}-0', 62_000);
    // The next item is due at once, with no attempt made.
    expect(await store.head('c{1}')).toEqual({ item: item('c{1}', 1), attempts: 0 });
    expect(await store.claimDue(62_000, 90_000, 10)).toEqual(['c{1}']);
    await store.settle('c{1}', 'tx-c{1}-1', 63_000);
    expect(await store.head('c{1}')).toBeNull();
    expect(await store.scheduled()).toBe(0);
    // Empty again: the customer's next item is sent directly.
    expect(await store.appendIfParked(item('c{1}', 2))).toBe(false);
  });

  it('a schedule whose queue is empty (crash between the two writes) is dropped; one with items is not', async () => {
    const store = new RedisParkingStore(t.redis, 'ts', 'hook-b');
    await t.redis.zadd('ts:dest:hook-b:due', 1_000, 'ghost');
    expect(await store.claimDue(1_000, 9_000, 10)).toEqual(['ghost']);
    expect(await store.head('ghost')).toBeNull();
    await store.settle('ghost', '', 1_000);
    expect(await store.scheduled()).toBe(0);

    // Parked after a crash that lost its schedule: the redelivered item finds it queued and schedules it again.
    await t.redis.rpush('ts:dest:hook-b:{c2}:parked', `tx-c2-0\t${JSON.stringify(item('c2', 0))}`);
    await t.redis.hset('ts:dest:hook-b:{c2}:attempts', 'tx-c2-0', '1');
    expect(await store.appendIfParked(item('c2', 0))).toBe(true);
    expect(await t.redis.llen('ts:dest:hook-b:{c2}:parked')).toBe(1);
    expect(await store.scheduled()).toBe(1);
  });

  it('claims at most `limit` due customers, earliest first, and each only once per lease', async () => {
    const store = new RedisParkingStore(t.redis, 'ts', 'hook-c');
    for (let i = 0; i < 5; i++) await store.park(item(`k${i}`, 0), 1, 100 + i);
    expect(await store.claimDue(1_000, 5_000, 3)).toEqual(['k0', 'k1', 'k2']);
    expect(await store.claimDue(1_000, 5_000, 3)).toEqual(['k3', 'k4']);
    expect(await store.claimDue(4_999, 6_000, 10)).toEqual([]);
    expect((await store.claimDue(5_000, 7_000, 10)).sort()).toEqual(['k0', 'k1', 'k2', 'k3', 'k4']);
  });
});
