import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { type ConsumerLoop, consumerHealthChecks, startHealthServer } from '../src/index';

const loop = (live: boolean, ready: boolean): ConsumerLoop => ({ isLive: () => live, isReady: () => ready });

describe('consumerHealthChecks', () => {
  it('is ready only when the loop is a group member and every dependency answers', async () => {
    const checks = consumerHealthChecks(() => loop(true, true), [async () => null, async () => null]);
    expect(checks.live()).toBe(true);
    expect(await checks.ready()).toEqual([]);
  });

  it('names every failing part, in order: the group membership first, then each dependency', async () => {
    const checks = consumerHealthChecks(
      () => loop(true, false),
      [async () => 'redis: not connected (reconnecting)', async () => null, async () => 'clickhouse: timeout'],
    );
    expect(await checks.ready()).toEqual([
      'kafka: not a member of the consumer group',
      'redis: not connected (reconnecting)',
      'clickhouse: timeout',
    ]);
  });

  it('reads the loop at each check: live but not ready before the consumer exists, then follows it', async () => {
    let runner: ConsumerLoop | undefined;
    const checks = consumerHealthChecks(() => runner, [async () => null]);
    expect(checks.live()).toBe(true);
    expect(await checks.ready()).toEqual(['kafka: not a member of the consumer group']);
    runner = loop(false, true);
    expect(checks.live()).toBe(false);
    expect(await checks.ready()).toEqual([]);
  });
});

describe('startHealthServer', () => {
  const checks = consumerHealthChecks(() => loop(true, true), []);

  it('binds to 127.0.0.1 by default and to the host it is given (HTTP_HOST, e.g. 0.0.0.0 in a container)', async () => {
    const local = await startHealthServer({ port: 0, registry: new Registry(), checks });
    const any = await startHealthServer({ port: 0, host: '0.0.0.0', registry: new Registry(), checks });
    try {
      expect((local.server.address() as AddressInfo).address).toBe('127.0.0.1');
      expect((any.server.address() as AddressInfo).address).toBe('0.0.0.0');
      const res = await fetch(`http://127.0.0.1:${any.port}/health/ready`);
      expect(res.status).toBe(200);
    } finally {
      await local.close();
      await any.close();
    }
  });
});
