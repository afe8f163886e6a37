import { Cluster } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { createRedis, type RedisClient, redisHealth, redisRefusal } from '../src';

/**
 * What redisHealth (the services' /health/ready and start wait) and redisRefusal (tierctl's last catch) make of a
 * connection's last error, on one server and on a Redis Cluster. No server: the clients never connect (lazyConnect)
 * and the errors are emitted as ioredis emits them.
 */
const clients: RedisClient[] = [];
const lazy = (url: string) => {
  const client = createRedis(url, { lazyConnect: true });
  clients.push(client);
  return client;
};
afterEach(() => {
  for (const c of clients.splice(0)) c.disconnect();
});

/** ioredis' ClusterAllFailedError: "Failed to refresh slots cache." with the last node's error. */
const allFailed = (lastNodeError: Error) =>
  Object.assign(new Error('Failed to refresh slots cache.'), { name: 'ClusterAllFailedError', lastNodeError });

describe('redisHealth and redisRefusal', () => {
  it('a Redis Cluster whose nodes refuse the password says "redis authentication failed" with the node error', async () => {
    const cluster = lazy('redis-cluster://127.0.0.1:1,127.0.0.1:2');
    expect(cluster).toBeInstanceOf(Cluster);
    cluster.emit('error', allFailed(new Error('WRONGPASS invalid username-password pair or user is disabled.')));
    expect(await redisHealth(cluster)).toBe(
      'redis authentication failed: WRONGPASS invalid username-password pair or user is disabled.',
    );
    expect(redisRefusal(cluster)).toBe(
      'redis authentication failed: WRONGPASS invalid username-password pair or user is disabled.',
    );
  });

  it('a Redis Cluster that cannot be reached keeps the node error next to the slots-cache message', async () => {
    const cluster = lazy('redis-cluster://127.0.0.1:1');
    cluster.emit('error', allFailed(new Error('connect ECONNREFUSED 127.0.0.1:1')));
    // (A Cluster ignores lazyConnect in its node options: its status is whatever its own attempt is at.)
    expect(await redisHealth(cluster)).toMatch(
      /^redis: not connected \(\w+: Failed to refresh slots cache\. \(last node error: connect ECONNREFUSED 127\.0\.0\.1:1\)\)$/,
    );
    expect(redisRefusal(cluster)).toBeNull();
  });

  it('an untrusted server certificate is a TLS failure, not an authentication failure', async () => {
    const redis = lazy('rediss://127.0.0.1:1');
    redis.emit('error', new Error('self-signed certificate in certificate chain'));
    expect(await redisHealth(redis)).toBe('redis TLS handshake failed: self-signed certificate in certificate chain');
    expect(redisRefusal(redis)).toBe('redis TLS handshake failed: self-signed certificate in certificate chain');
  });

  it('one server refusing the password: authentication failed; no error yet: no refusal', async () => {
    const redis = lazy('redis://127.0.0.1:1');
    expect(redisRefusal(redis)).toBeNull();
    redis.emit('error', new Error('WRONGPASS invalid username-password pair or user is disabled.'));
    expect(await redisHealth(redis)).toBe(
      'redis authentication failed: WRONGPASS invalid username-password pair or user is disabled.',
    );
  });
});
