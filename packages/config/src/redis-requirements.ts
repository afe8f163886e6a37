import { Cluster } from 'ioredis';
import { Gauge, type Registry } from 'prom-client';
import type { RedisClient } from './redis';

/**
 * What tierstream needs from Redis (docs/operations.md "Redis requirements"): Redis holds the only copy of the
 * aggregates and tier state, and the aggregator commits Kafka offsets once Redis acknowledged a batch.
 * - `maxmemory-policy noeviction`: any other policy lets Redis evict a customer's keys under memory pressure, silently.
 * - `appendonly yes`: without AOF a restart loses everything since the last RDB snapshot (offsets already committed).
 * - `appendfsync always`: `everysec` can lose the last second of acknowledged writes on a machine crash.
 */
export const REDIS_REQUIREMENTS = {
  'maxmemory-policy': 'noeviction',
  appendonly: 'yes',
  appendfsync: 'always',
} as const;

export type RedisRequirement = keyof typeof REDIS_REQUIREMENTS;

/** One unmet requirement (or an unchecked one): the setting, what a node has, what is needed, one line to log. */
export interface RedisFinding {
  /** The Redis setting, or `CONFIG` when the check itself could not run. */
  setting: RedisRequirement | 'CONFIG';
  /** The node's value; null when not known. */
  value: string | null;
  required: string;
  /** The node (host:port), for Redis Cluster where each master is checked. */
  node: string;
  message: string;
}

const WHY: Record<RedisRequirement, string> = {
  'maxmemory-policy': 'another policy lets Redis evict customer aggregates and tier state silently',
  appendonly: 'without AOF a restart loses the state written since the last snapshot, with Kafka offsets committed',
  appendfsync: 'a machine crash can lose the last second of acknowledged writes (offsets already committed)',
};

/**
 * The findings for one node's CONFIG GET answer (`config`: setting → value), or for a CONFIG GET that failed
 * (`error`: CONFIG disabled or renamed, no permission). Empty: every requirement is met. Pure.
 */
export function redisFindings(node: string, config: Record<string, string> | null, error?: string): RedisFinding[] {
  if (config === null) {
    return [
      {
        setting: 'CONFIG',
        value: null,
        required: 'CONFIG GET',
        node,
        message:
          `redis ${node}: could not check maxmemory-policy, appendonly and appendfsync (CONFIG GET failed: ${error ?? 'no answer'}); ` +
          'make sure maxmemory-policy is noeviction and appendonly is yes',
      },
    ];
  }
  const out: RedisFinding[] = [];
  for (const [setting, required] of Object.entries(REDIS_REQUIREMENTS) as Array<[RedisRequirement, string]>) {
    const value = config[setting] ?? null;
    // appendfsync matters only with AOF on; with AOF off the appendonly finding says what to do.
    if (setting === 'appendfsync' && config.appendonly !== 'yes') continue;
    if (value === required) continue;
    out.push({
      setting,
      value,
      required,
      node,
      message: `redis ${node}: ${setting} is ${value ?? 'unknown'}, tierstream needs ${required}: ${WHY[setting]}`,
    });
  }
  return out;
}

/** Reads one node's settings with CONFIG GET (one call per setting: Redis < 7 takes one pattern per call). */
async function configGet(
  node: { config: (op: 'GET', key: string) => Promise<unknown> },
  keys: string[],
): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const key of keys) {
    const reply = (await node.config('GET', key)) as string[];
    for (let i = 0; i + 1 < reply.length; i += 2) out[reply[i]!] = reply[i + 1]!;
  }
  return out;
}

/**
 * Checks every master (one server, or each master of a Redis Cluster) against REDIS_REQUIREMENTS. Never throws:
 * a CONFIG GET that fails (disabled, renamed, not allowed, Redis unreachable) gives a `CONFIG` finding instead.
 */
export async function checkRedisRequirements(redis: RedisClient): Promise<RedisFinding[]> {
  let nodes: Array<{ name: string; client: { config: (op: 'GET', key: string) => Promise<unknown> } }>;
  try {
    if (redis instanceof Cluster) {
      await redis.ping(); // a new Cluster client lists no node until it has the slot map
      nodes = redis.nodes('master').map((n) => ({ name: `${n.options.host}:${n.options.port}`, client: n }));
    } else {
      nodes = [{ name: `${redis.options.host}:${redis.options.port}`, client: redis }];
    }
  } catch (err) {
    return redisFindings('(cluster)', null, (err as Error).message);
  }
  const findings: RedisFinding[] = [];
  for (const node of nodes) {
    try {
      findings.push(...redisFindings(node.name, await configGet(node.client, Object.keys(REDIS_REQUIREMENTS))));
    } catch (err) {
      findings.push(...redisFindings(node.name, null, (err as Error).message));
    }
  }
  return findings;
}

/**
 * Logs each finding as one warning line naming the setting, and sets `tierstream_redis_requirement_met{setting}`
 * (1 met, 0 not met on some node, -1 could not check) in `registry` when given. Returns the findings.
 */
export async function warnOnRedisRequirements(
  redis: RedisClient,
  logger: { warn: (obj: object, msg: string) => void },
  registry?: Registry,
): Promise<RedisFinding[]> {
  const findings = await checkRedisRequirements(redis);
  for (const f of findings)
    logger.warn({ setting: f.setting, value: f.value, required: f.required, node: f.node }, f.message);
  if (registry) {
    const gauge =
      (registry.getSingleMetric('tierstream_redis_requirement_met') as Gauge<'setting'> | undefined) ??
      new Gauge({
        name: 'tierstream_redis_requirement_met',
        help: 'Redis setting as tierstream needs it (maxmemory-policy noeviction, appendonly yes, appendfsync always): 1 met, 0 not met, -1 could not check (CONFIG GET failed)',
        labelNames: ['setting'],
        registers: [registry],
      });
    const unchecked = findings.some((f) => f.setting === 'CONFIG');
    for (const setting of Object.keys(REDIS_REQUIREMENTS))
      gauge.set({ setting }, unchecked ? -1 : findings.some((f) => f.setting === setting) ? 0 : 1);
  }
  return findings;
}
