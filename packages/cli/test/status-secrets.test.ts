import { describe, expect, it } from 'vitest';
import { type StatusClients, stackHealth } from '../src/ops/status';

/** `tierctl status` (and the console's Operations page) never shows a password an error message carries in a URL. */
describe('stackHealth', () => {
  it('reports each dependency down with its error, URL passwords replaced by ***', async () => {
    const refused = (message: string) => () => Promise.reject(new Error(message));
    const clients = {
      admin: refused('connect ECONNREFUSED kafka://svc:kafka-pw-1@10.0.0.1:9092'),
      serde: { ping: refused('https://svc:registry-pw-2@registry:8443/apis/ccompat/v7 unreachable') },
      redis: { ping: refused('getaddrinfo ENOTFOUND rediss://svc:redis-pw-3@redis:6379') },
      clickhouse: {
        query: refused('request to https://svc:ch-pw-4@clickhouse:8443 failed'),
      },
      endpoints: { clickhouseDatabase: 'tierstream' },
    } as unknown as StatusClients;
    const health = await stackHealth(clients);
    expect(Object.keys(health)).toEqual(['kafka', 'schema-registry', 'redis', 'clickhouse']);
    const text = JSON.stringify(health);
    for (const pw of ['kafka-pw-1', 'registry-pw-2', 'redis-pw-3', 'ch-pw-4']) expect(text).not.toContain(pw);
    expect(health.redis).toBe('down: getaddrinfo ENOTFOUND rediss://svc:***@redis:6379');
    expect(health['schema-registry']).toMatch(/^down: https:\/\/svc:\*\*\*@registry:8443/);
  });
});
