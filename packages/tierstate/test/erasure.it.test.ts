import { anySuppressionKey, erasureRequestKey, suppressionKey } from '@tierstream/config';
import type { AuditRow, ErasureLogRow } from '@tierstream/warehouse';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { testEndpoints, uniqueName } from '../../../test/support/stack';
import { executeErasure, suppressedAmong } from '../src/erasure';

/** executeErasure against the stack's Redis (warehouse and Kafka as recording fakes), under a prefix of its own. */
describe('executeErasure on Redis', () => {
  const redis = new Redis(testEndpoints().redisUrl, { maxRetriesPerRequest: 3 });
  const prefix = uniqueName('erase');
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });

  it('removes every key and index entry of the customer once, keeps the others, suppresses it', async () => {
    const victim = 'p1'; // named like a partition tag: the partition keys must survive
    const other = 'C2';
    for (const id of [victim, other]) {
      await redis.hset(`${prefix}:{${id}}:agg`, 'mx', '1');
      await redis.set(`${prefix}:{${id}}:tier`, '{}');
      await redis.rpush(`${prefix}:dest:crm:{${id}}:parked`, 'x');
      await redis.zadd(`${prefix}:due:{p1}`, 5, id);
      await redis.hset(`${prefix}:touch:{p1}`, id, '3');
      await redis.sadd(`${prefix}:customers:{p1}`, id);
      await redis.zadd(`${prefix}:dest:crm:due`, 5, id);
    }
    await redis.set(`${prefix}:{rules}:active`, 'v1');
    const logs: ErasureLogRow[] = [];
    const audits: AuditRow[] = [];
    const sweeps: string[] = [];
    let sleptMs = 0;
    const ports = {
      redis,
      prefix,
      deleteWarehouseRows: async (id: string) => {
        sweeps.push(id);
        return { tier_current: sweeps.length === 1 ? 1 : 0 };
      },
      writeTombstones: async () => ['customer-tier-changes.v1'],
      insertLog: async (row: ErasureLogRow) => void logs.push(row),
      insertAudit: async (row: AuditRow) => void audits.push(row),
      sleep: async (ms: number) => {
        sleptMs += ms;
        // Work in flight re-creates a key between the sweeps: the second sweep removes it and reports it as late.
        await redis.hset(`${prefix}:{${victim}}:agg`, 'mx', '2');
      },
    };
    const request = {
      request_id: 'req-1',
      customer_id: victim,
      reason: 'GDPR art. 17',
      requested_by: 'dpo',
      requested_at: 1,
      suppress: true,
      suppress_days: 2,
    };
    const opts = { suppressDays: 30, settleMs: 50, digestSecret: 's', executedBy: 'alice', source: 'tierctl' };
    const outcome = await executeErasure(ports, request, opts);
    expect(outcome.status).toBe('done');
    expect(sleptMs).toBe(50);
    expect(sweeps).toEqual([victim, victim]);

    const keys = (await redis.keys(`${prefix}:*`)).sort();
    expect(keys).toEqual(
      [
        `${prefix}:{C2}:agg`,
        `${prefix}:{C2}:tier`,
        `${prefix}:dest:crm:{C2}:parked`,
        `${prefix}:due:{p1}`,
        `${prefix}:touch:{p1}`,
        `${prefix}:customers:{p1}`,
        `${prefix}:dest:crm:due`,
        `${prefix}:{rules}:active`,
        suppressionKey(prefix, victim),
        anySuppressionKey(prefix),
        erasureRequestKey(prefix, 'req-1'),
      ].sort(),
    );
    expect(await redis.zrange(`${prefix}:due:{p1}`, 0, -1)).toEqual([other]);
    expect(await redis.hkeys(`${prefix}:touch:{p1}`)).toEqual([other]);
    expect(await redis.smembers(`${prefix}:customers:{p1}`)).toEqual([other]);
    expect(await redis.zrange(`${prefix}:dest:crm:due`, 0, -1)).toEqual([other]);
    const ttl = await redis.pttl(suppressionKey(prefix, victim));
    expect(ttl).toBeGreaterThan(2 * 86_400_000 - 60_000);
    expect(ttl).toBeLessThanOrEqual(2 * 86_400_000);
    expect([...(await suppressedAmong(redis, prefix, [victim, other]))]).toEqual([victim]);

    expect(logs).toHaveLength(1);
    const log = logs[0]!;
    expect(JSON.stringify(log)).not.toContain(`"${victim}"`);
    expect(log).toMatchObject({
      request_id: 'req-1',
      digest_kind: 'hmac-sha256',
      requested_by: 'dpo',
      executed_by: 'alice',
      redis_keys: 4, // agg, tier, parked; agg again (late)
      redis_members: 4, // due, touch, customers, parking due
      table_names: ['tier_current'],
      table_rows: [1],
      compacted_topics: ['customer-tier-changes.v1'],
      late_redis: 1,
      late_rows: 0,
    });
    expect(audits.map((a) => [a.action, a.actor, a.subject])).toEqual([['customer.erase', 'dpo', 'req-1']]);

    // The same request again: skipped, nothing written.
    expect(await executeErasure(ports, request, opts)).toEqual({
      status: 'skipped',
      reason: 'request req-1 was already executed',
    });
    expect(logs).toHaveLength(1);
    expect(sweeps).toHaveLength(2);
  });

  it('without suppression the marker is removed and the id may come back at once', async () => {
    const id = 'C3';
    await redis.set(suppressionKey(prefix, id), 'earlier');
    const ports = {
      redis,
      prefix,
      deleteWarehouseRows: async () => ({}),
      writeTombstones: async () => [],
      insertLog: async () => undefined,
      insertAudit: async () => undefined,
    };
    const outcome = await executeErasure(
      ports,
      {
        request_id: 'req-3',
        customer_id: id,
        reason: 'r',
        requested_by: null,
        requested_at: 1,
        suppress: false,
        suppress_days: null,
      },
      { suppressDays: 30, settleMs: 0, digestSecret: '', executedBy: 'alice', source: 'tierctl' },
    );
    expect(outcome.status === 'done' && outcome.log.suppressed_until).toBe(0);
    expect(outcome.status === 'done' && outcome.log.digest_kind).toBe('unlinkable');
    expect(await redis.exists(suppressionKey(prefix, id))).toBe(0);
  });
});
