import { Cluster, Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { pipelineScenario } from '../support/pipeline-scenario';

/**
 * The e2e pipeline scenario again, with the services and the checks on a Redis Cluster of 3 masters (the local stack's
 * `redis-cluster` service: `bash infra/local/stack.sh up redis-cluster`). Every Lua call and pipeline of the services
 * must stay within one hash slot there, and the due index, watermarks and cut-point barrier must work across masters.
 *
 * The cluster is REDIS_CLUSTER_URL, else the stack's REDIS_CLUSTER_PORTS on 127.0.0.1 (defaults of infra/local/env.sh).
 */
const DEFAULT_CLUSTER_PORTS = '17001,17002,17003';
const clusterUrl =
  process.env.REDIS_CLUSTER_URL ??
  `redis-cluster://${(process.env.REDIS_CLUSTER_PORTS ?? DEFAULT_CLUSTER_PORTS)
    .split(',')
    .map((port) => `127.0.0.1:${port.trim()}`)
    .join(',')}`;
const seeds = clusterUrl
  .slice('redis-cluster://'.length)
  .split(',')
  .map((hp) => ({ host: hp.slice(0, hp.lastIndexOf(':')), port: Number(hp.slice(hp.lastIndexOf(':') + 1)) }));

/** Fails the file at once, with the command that fixes it, unless every seed node reports cluster_state:ok. */
async function requireClusterUp(): Promise<void> {
  const states = await Promise.all(
    seeds.map(async ({ host, port }) => {
      const node = new Redis({ host, port, lazyConnect: true, connectTimeout: 2_000, maxRetriesPerRequest: 0 });
      node.on('error', () => undefined);
      try {
        await node.connect();
        const info = String(await node.call('CLUSTER', 'INFO'));
        return /cluster_state:ok/.test(info) ? null : `${host}:${port} (${/cluster_state:\w+/.exec(info)?.[0]})`;
      } catch (err) {
        return `${host}:${port} (${(err as Error).message})`;
      } finally {
        node.disconnect();
      }
    }),
  );
  const bad = states.filter((s) => s !== null);
  if (bad.length > 0) {
    throw new Error(
      `Redis Cluster ${clusterUrl} not ready: run \`bash infra/local/stack.sh up redis-cluster\` ` +
        `(with REDIS_CLUSTER_PORTS of your stack) — not ok: ${bad.join(', ')}`,
    );
  }
}

await requireClusterUp();

describe('pipeline end to end on a 3-master Redis Cluster (replay mode, with crashes)', () => {
  const { clients, oracle } = pipelineScenario({ redisUrl: clusterUrl });

  it('the test really ran on the cluster: every master holds part of the data, each key once', async () => {
    const redis = clients.redis;
    expect(redis).toBeInstanceOf(Cluster);
    const masters = (redis as Cluster).nodes('master');
    expect(masters.length).toBe(seeds.length);
    const prefix = clients.redisPrefix;
    const aggregateKeys: string[] = [];
    for (const node of masters) {
      const keys: string[] = [];
      let cursor = '0';
      do {
        const [next, page] = await node.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
        cursor = next;
        keys.push(...page);
      } while (cursor !== '0');
      expect(keys.length, `keys on ${node.options.host}:${node.options.port}`).toBeGreaterThan(0);
      aggregateKeys.push(...keys.filter((k) => k.endsWith(':agg')));
    }
    // Customer keys are spread by their {customer id} tag: one aggregate per customer with events, none twice.
    expect(new Set(aggregateKeys).size).toBe(aggregateKeys.length);
    expect(aggregateKeys.length).toBeGreaterThanOrEqual(oracle.states.size);
  });
});
