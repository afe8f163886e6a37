import { startService, stopService } from '@tierstream/cli';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { tierctl } from '../../../test/support/run-node';
import { testEndpoints } from '../../../test/support/stack';
import { checkRedisRequirements, createRedis, type RedisFinding, warnOnRedisRequirements } from '../src';

/** `tierctl status --json` as a user runs it (the stack's endpoints from this process's environment). */
const tierctlStatus = () => tierctl(['status', '--json']);

describe('Redis requirements, checked against the real Redis', () => {
  const url = testEndpoints().redisUrl;
  const admin = new Redis(url, { maxRetriesPerRequest: 3 });
  const client = createRedis(url, { maxRetriesPerRequest: 3 });

  afterAll(() => {
    admin.disconnect();
    client.disconnect();
  });

  it('the local stack meets them: no finding', async () => {
    expect(await checkRedisRequirements(client)).toEqual([]);
  });

  it('maxmemory-policy allkeys-lru: one warning line naming the setting, the gauge at 0, tierctl status says it', async () => {
    const [, original] = (await admin.config('GET', 'maxmemory-policy')) as [string, string];
    expect(original).toBe('noeviction');
    try {
      await admin.config('SET', 'maxmemory-policy', 'allkeys-lru');
      const warnings: Array<{ obj: Record<string, unknown>; msg: string }> = [];
      const registry = new Registry();
      const findings = await warnOnRedisRequirements(
        client,
        { warn: (obj, msg) => warnings.push({ obj: obj as Record<string, unknown>, msg }) },
        registry,
      );
      expect(findings.map((f: RedisFinding) => f.setting)).toEqual(['maxmemory-policy']);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]!.obj).toMatchObject({
        setting: 'maxmemory-policy',
        value: 'allkeys-lru',
        required: 'noeviction',
      });
      expect(warnings[0]!.msg).toMatch(/^redis \S+: maxmemory-policy is allkeys-lru, tierstream needs noeviction: /);
      const metric = await registry.getSingleMetricAsString('tierstream_redis_requirement_met');
      expect(metric).toContain('tierstream_redis_requirement_met{setting="maxmemory-policy"} 0');
      expect(metric).toContain('tierstream_redis_requirement_met{setting="appendonly"} 1');

      // The services check at start: one warning line each, naming the setting (own key prefix and group ids).
      const lines: string[] = [];
      const name = `reqcheck_${Date.now().toString(36)}`;
      const services = (['aggregator', 'tier-engine'] as const).map((svc) =>
        startService(
          svc,
          {
            HTTP_PORT: '0',
            LOG_LEVEL: 'warn',
            REDIS_PREFIX: name,
            // No Kafka (a closed loopback port): the check needs Redis only, and nothing is consumed or produced.
            KAFKA_BROKERS: '127.0.0.1:1',
            AGGREGATOR_GROUP_ID: `${name}-aggregator`,
            ENGINE_GROUP_ID: `${name}-engine`,
          },
          (n, line) => lines.push(`${n}: ${line}`),
        ),
      );
      try {
        const warned = (svc: string) =>
          lines.filter((l) => l.startsWith(`${svc}: `) && l.includes('maxmemory-policy is allkeys-lru'));
        for (let i = 0; i < 300 && (warned('aggregator').length === 0 || warned('tier-engine').length === 0); i++)
          await new Promise((r) => setTimeout(r, 100));
        for (const svc of ['aggregator', 'tier-engine']) {
          expect(warned(svc), lines.join('\n')).toHaveLength(1);
          expect(JSON.parse(warned(svc)[0]!.slice(svc.length + 2))).toMatchObject({ setting: 'maxmemory-policy' });
        }
      } finally {
        await Promise.all(services.map((svc) => stopService(svc)));
      }

      const status = await tierctlStatus();
      const out = JSON.parse(status.stdout) as { redis_requirements: Array<Record<string, unknown>> };
      expect(out.redis_requirements).toEqual([
        expect.objectContaining({ setting: 'maxmemory-policy', value: 'allkeys-lru', required: 'noeviction' }),
      ]);
    } finally {
      await admin.config('SET', 'maxmemory-policy', original);
    }
    expect(await admin.config('GET', 'maxmemory-policy')).toEqual(['maxmemory-policy', original]);
  });
});
