import calculateSlot from 'cluster-key-slot';
import { type ChainableCommander, Cluster, Redis, type RedisOptions } from 'ioredis';

export type RedisClient = Redis | Cluster;

/**
 * A Redis client from a URL: `redis://host:port[/db]` for one server, `redis-cluster://host:port,host:port,...`
 * for Redis Cluster (the seed nodes; the client discovers the rest).
 */
export function createRedis(url: string, options: RedisOptions = {}): RedisClient {
  const opts: RedisOptions = { maxRetriesPerRequest: null, ...options };
  if (url.startsWith('redis-cluster://')) {
    const nodes = url
      .slice('redis-cluster://'.length)
      .split(',')
      .map((hp) => {
        const [host, port] = hp.split(':');
        return { host: host || '127.0.0.1', port: Number(port || 6379) };
      });
    return new Cluster(nodes, { redisOptions: opts, scaleReads: 'master' });
  }
  return new Redis(url, opts);
}

/**
 * Runs one command per item in pipelines and returns the results in item order. On a single server that is one
 * pipeline; on Redis Cluster one pipeline per hash slot (a pipeline of custom scripts cannot span slots), run
 * concurrently. Throws the first command error.
 */
export async function execBySlot<T>(
  redis: RedisClient,
  items: readonly T[],
  keyOf: (item: T) => string,
  add: (pipeline: ChainableCommander, item: T) => void,
): Promise<unknown[]> {
  if (items.length === 0) return [];
  const groups: number[][] = [];
  if (redis instanceof Cluster) {
    const bySlot = new Map<number, number[]>();
    items.forEach((item, i) => {
      const slot = calculateSlot(keyOf(item));
      const g = bySlot.get(slot);
      if (g) g.push(i);
      else bySlot.set(slot, [i]);
    });
    groups.push(...bySlot.values());
  } else {
    groups.push(items.map((_, i) => i));
  }
  const out: unknown[] = new Array(items.length);
  await Promise.all(
    groups.map(async (indexes) => {
      const pipeline = redis.pipeline();
      for (const i of indexes) add(pipeline, items[i]!);
      const results = (await pipeline.exec()) ?? [];
      results.forEach(([err, value], j) => {
        if (err) throw err;
        out[indexes[j]!] = value;
      });
    }),
  );
  return out;
}
