import type { ConnectionOptions } from 'node:tls';
import calculateSlot from 'cluster-key-slot';
import { type ChainableCommander, Cluster, Redis, type RedisOptions } from 'ioredis';
import { credentialFailure, readSettingFile, tlsSettingsOf } from './connections';

export type RedisClient = Redis | Cluster;

/**
 * The hash tag of a customer's keys: `{<id>}` with `%`, `{` and `}` percent-escaped. Redis Cluster hashes only the
 * text between the first `{` and the next `}`, so a raw id containing a brace would be cut (`a}b` → tag `a`) or, when
 * it starts with `}`, give an empty tag (the whole key is hashed: a customer's keys would land in different slots).
 * The escaping is injective and leaves ids without these characters unchanged.
 */
export function customerHashTag(customerId: string): string {
  // Ids without the three characters (all of them, in practice) skip the regex: three keys per customer and batch.
  if (customerId.indexOf('%') < 0 && customerId.indexOf('{') < 0 && customerId.indexOf('}') < 0)
    return `{${customerId}}`;
  return `{${customerId.replace(/[%{}]/g, (c) => (c === '%' ? '%25' : c === '{' ? '%7B' : '%7D'))}}`;
}

/** The Redis connection settings of a validated configuration (redisServiceSettings). */
export interface RedisSecuritySettings {
  REDIS_URL: string;
  REDIS_USERNAME: string;
  REDIS_PASSWORD: string;
  REDIS_TLS: boolean;
  REDIS_TLS_CA_FILE: string;
  REDIS_TLS_CERT_FILE: string;
  REDIS_TLS_KEY_FILE: string;
}

/**
 * ioredis options from the settings: the ACL user and password (REDIS_USERNAME, REDIS_PASSWORD; a password alone is
 * `requirepass`), and TLS for a `rediss://` URL, REDIS_TLS (e.g. with `redis-cluster://`) or a REDIS_TLS_*_FILE (the
 * CA, and the client certificate and key for mutual TLS, read now). Every node of a Redis Cluster gets the same.
 * Throws an Error naming the setting when a file cannot be read.
 */
export function redisSecurity(settings: RedisSecuritySettings): RedisOptions {
  const out: RedisOptions = {};
  if (settings.REDIS_USERNAME) out.username = settings.REDIS_USERNAME;
  if (settings.REDIS_PASSWORD) out.password = settings.REDIS_PASSWORD;
  const tls = tlsSettingsOf(
    settings as unknown as Record<string, unknown>,
    'REDIS',
    settings.REDIS_URL.startsWith('rediss://'),
  );
  if (tls.mode !== 'none') {
    const options: ConnectionOptions = {};
    if (tls.caFile) options.ca = readSettingFile('REDIS_TLS_CA_FILE', tls.caFile);
    if (tls.mode === 'mutual') {
      options.cert = readSettingFile('REDIS_TLS_CERT_FILE', tls.certFile);
      options.key = readSettingFile('REDIS_TLS_KEY_FILE', tls.keyFile);
    }
    out.tls = options;
  }
  return out;
}

/** A Redis client for a validated configuration: createRedis(REDIS_URL) with redisSecurity's options over `options`. */
export function createRedisFrom(settings: RedisSecuritySettings, options: RedisOptions = {}): RedisClient {
  return createRedis(settings.REDIS_URL, { ...options, ...redisSecurity(settings) });
}

/**
 * A Redis client from a URL: `redis://host:port[/db]` (or `rediss://` for TLS) for one server,
 * `redis-cluster://host:port,host:port,...` for Redis Cluster (the seed nodes; the client discovers the rest).
 * Credentials and TLS come in `options` (redisSecurity; createRedisFrom does both).
 */
export function createRedis(url: string, options: RedisOptions = {}): RedisClient {
  const client = connect(url, { maxRetriesPerRequest: null, ...options });
  // Remember the last connection error for the readiness check (a listener also keeps ioredis from printing an
  // "Unhandled error event" stack trace on every reconnect attempt while Redis is away).
  client.on('error', (err: Error) => lastErrors.set(client, connectionError(err)));
  client.on('ready', () => lastErrors.delete(client));
  return client;
}

const lastErrors = new WeakMap<RedisClient, string>();

/**
 * The text of a connection error as readiness shows it. A Redis Cluster reports a failed start as "Failed to refresh
 * slots cache." and keeps the cause (WRONGPASS, NOAUTH, a refused connection) in `lastNodeError`: refused
 * credentials are told by that node error alone, anything else keeps both.
 */
function connectionError(err: Error): string {
  const node = (err as { lastNodeError?: Error | null }).lastNodeError;
  if (!node) return err.message;
  if (credentialFailure('redis', node) !== null) return node.message;
  return `${err.message} (last node error: ${node.message})`;
}

/**
 * Refused credentials or TLS trust behind the last connection error of `redis`, as one line
 * (`redis authentication failed: WRONGPASS …`, `redis TLS handshake failed: …`); null when its last error (if any)
 * is something else. What a command's own error hides (ioredis rejects it with "Reached the max retries per request
 * limit" or "None of startup nodes is available"): tierctl's last catch asks this. Pure.
 */
export function redisRefusal(redis: RedisClient): string | null {
  const why = lastErrors.get(redis);
  return why === undefined ? null : credentialFailure('redis', new Error(why));
}

/**
 * Readiness of a Redis connection: null when it answers PING within `timeoutMs`, else why not (`redis: ...`).
 * Never waits longer than the timeout: with maxRetriesPerRequest null a PING to an unreachable Redis would queue
 * until Redis comes back, and a health probe must answer.
 */
export async function redisHealth(redis: RedisClient, timeoutMs = 1_000): Promise<string | null> {
  if (redis.status !== 'ready') {
    const why = lastErrors.get(redis);
    // Refused credentials (or TLS trust) say so, as at start (docs/security.md "Failures"): e.g. a password rotated
    // on the server only.
    const refused = redisRefusal(redis);
    if (refused !== null) return refused;
    return `redis: not connected (${redis.status}${why ? `: ${why}` : ''})`;
  }
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      redis.ping(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no PING answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return null;
  } catch (err) {
    return `redis: ${(err as Error).message}`;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Resolves once Redis answers PING within `timeoutMs`; rejects with redisHealth's problem otherwise (the last
 * connection error, e.g. `WRONGPASS …` for refused credentials). The attempt of a service's start wait for Redis.
 */
export async function pingRedis(redis: RedisClient, timeoutMs = 2_000): Promise<void> {
  // A client still connecting (the first attempt of a start) is given until `timeoutMs` to be ready or fail, so a
  // normal start does not log a "not connected (connecting)" warning.
  if (redis.status !== 'ready' && !lastErrors.has(redis)) {
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        redis.off('ready', done);
        redis.off('error', done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      redis.once('ready', done);
      redis.once('error', done);
    });
  }
  const problem = await redisHealth(redis, timeoutMs);
  if (problem !== null) throw new Error(problem);
}

/** Logs Redis connection errors: one warning per distinct error per minute (ioredis retries every ~2 s). */
export function warnWhileRedisUnreachable(
  redis: RedisClient,
  logger: { warn: (obj: object, msg: string) => void },
): void {
  let last = '';
  let lastAt = 0;
  redis.on('error', (err: Error) => {
    if (err.message === last && Date.now() - lastAt < 60_000) return;
    last = err.message;
    lastAt = Date.now();
    logger.warn({ err: err.message }, 'redis unreachable: retrying (not ready meanwhile)');
  });
}

function connect(url: string, opts: RedisOptions): RedisClient {
  if (url.startsWith('redis-cluster://')) {
    const nodes = url
      .slice('redis-cluster://'.length)
      .split(',')
      .map((hp) => {
        const [host, port] = hp.split(':');
        return { host: host || '127.0.0.1', port: Number(port || 6379) };
      });
    // A client with bounded retries (tierctl: maxRetriesPerRequest 3) gives up on the cluster as well: the Cluster
    // reconnects forever by default and queues every command meanwhile, so a wrong password or an unreachable
    // cluster would hang the command without a word. Its commands then fail ("None of startup nodes is available";
    // redisRefusal tells refused credentials).
    const retries = opts.maxRetriesPerRequest;
    const clusterRetryStrategy =
      typeof retries === 'number'
        ? (times: number) => (times > retries ? null : Math.min(100 + times * 2, 2000))
        : undefined;
    return new Cluster(nodes, {
      redisOptions: opts,
      scaleReads: 'master',
      ...(clusterRetryStrategy ? { clusterRetryStrategy } : {}),
    });
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
