/**
 * Erasure of one customer (docs/security.md "Erasure"): the Redis adapter (every key carrying the customer's hash
 * tag, and the id as a member or field of the per-partition indexes) and the procedure that runs the stores in a
 * race-closing order. The procedure takes the warehouse, Kafka and log writes as ports, so tierctl and the warehouse
 * writer (which executes erasure-requests.v1) run the same code, and a unit test runs it with fakes.
 *
 * Order (why it closes the races with work in flight):
 *  1. the suppression marker `<prefix>:{id}:erased` is written first: from then on the aggregator's apply script
 *     (which checks it in the same Lua call as its write), the tier engine and the warehouse writer drop the id;
 *  2. first sweep: Redis keys and index entries, warehouse rows, tombstones on the compacted topics;
 *  3. wait ERASURE_SETTLE_MS: a service that read the id before step 1 and writes after step 2 has written by then;
 *  4. second sweep, the same: what it finds is reported as late_* in the erasure log (normally 0);
 *  5. the erasure log row and the audit row; the request is marked done (a redelivery is skipped).
 */
import {
  anySuppressionKey,
  customerDigest,
  customerHashTag,
  ERASURE_REQUEST_KEEP_DAYS,
  erasureRequestKey,
  type RedisClient,
  suppressedUntil,
  suppressionKey,
} from '@tierstream/config';
import type { ErasureRequest } from '@tierstream/contracts';
import type { AuditRow, ErasureLogRow } from '@tierstream/warehouse';
import { Cluster } from 'ioredis';

/** A Redis glob pattern matching `text` literally (`*`, `?`, `[`, `]`, `\` escaped). */
export function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

/** What a Redis sweep removed: whole keys of the customer, and its entries in shared indexes. */
export interface RedisErasure {
  keys: number;
  members: number;
}

function masters(redis: RedisClient) {
  return redis instanceof Cluster ? redis.nodes('master') : [redis];
}

/**
 * Removes the customer from Redis: deletes every key under `prefix` whose name holds the customer's hash tag (the
 * aggregates, the tier state, attributes, destination parking, whatever a layout adds, as long as it is tagged; the
 * suppression marker excepted), and removes the id from every sorted set, set and hash under `prefix` without a
 * customer tag (the due index, touch counters, customer sets, population caches, parking due sets). One SCAN of the
 * prefix per master (COUNT 1000): O(keys of the deployment), seconds for millions of keys.
 */
export async function eraseRedisCustomer(
  redis: RedisClient,
  prefix: string,
  customerId: string,
): Promise<RedisErasure> {
  const tag = customerHashTag(customerId);
  const keep = suppressionKey(prefix, customerId);
  let keys = 0;
  let members = 0;
  for (const node of masters(redis)) {
    let cursor = '0';
    do {
      const [next, found] = await node.scan(cursor, 'MATCH', `${globEscape(prefix)}:*`, 'COUNT', 1000);
      cursor = next;
      const own = found.filter((k) => k !== keep && customerTagOf(prefix, k) === tag);
      const shared = found.filter((k) => customerTagOf(prefix, k) === null && !notKeyedByCustomer(prefix, k));
      for (const k of own) keys += await redis.del(k);
      if (shared.length > 0) {
        const types = await Promise.all(shared.map((k) => redis.type(k)));
        for (const [i, k] of shared.entries()) {
          const type = types[i];
          if (type === 'zset') members += await redis.zrem(k, customerId);
          else if (type === 'set') members += await redis.srem(k, customerId);
          else if (type === 'hash') members += await redis.hdel(k, customerId);
        }
      }
    } while (cursor !== '0');
  }
  return { keys, members };
}

const RULES_KEY = /^\{rules\}:(active|history|seq|files|engine|change:\d+)$/;

/**
 * Shared hashes whose fields are not customer ids (the tier states' code table: `gen`, `next`, `s:<string>`; the
 * input watermarks: `<topic>:<partition>`; a partition's meta): the sweep leaves them alone, so erasing a customer
 * whose id is spelled like one of their fields (`next`, `closed_day`) does not corrupt them.
 */
function notKeyedByCustomer(prefix: string, key: string): boolean {
  const rest = key.slice(prefix.length + 1);
  return rest === 'tiercodes' || rest === 'watermarks' || /^meta:\{p\d+\}$/.test(rest);
}

/**
 * The customer hash tag of a per-customer key (`<prefix>:{<id>}:…`, `<prefix>:dest:<name>:{<id>}:…`: a tag with a
 * suffix), or null for a shared key: no tag, a partition key ending in its tag (`<prefix>:due:{p0}`), or a rules key
 * (`<prefix>:{rules}:active`…). So a customer called `p1` or `rules` is told apart from the shared keys.
 */
export function customerTagOf(prefix: string, key: string): string | null {
  if (!key.startsWith(`${prefix}:`)) return null;
  const rest = key.slice(prefix.length + 1);
  if (RULES_KEY.test(rest)) return null;
  const open = rest.indexOf('{');
  if (open < 0) return null;
  const close = rest.indexOf('}', open + 1);
  if (close < 0 || close === rest.length - 1) return null;
  return rest.slice(open, close + 1);
}

/**
 * Writes the suppression marker (value: the request id) expiring at `until` (epoch ms). While it exists the services
 * drop the customer's events and rows.
 */
export async function suppressCustomer(
  redis: RedisClient,
  prefix: string,
  customerId: string,
  requestId: string,
  until: number,
): Promise<void> {
  const ms = Math.max(1, until - Date.now());
  await redis.set(suppressionKey(prefix, customerId), requestId, 'PX', ms);
  const any = anySuppressionKey(prefix);
  await redis.set(any, '1', 'PX', ms, 'NX');
  await redis.call('PEXPIREAT', any, String(until), 'GT');
}

/**
 * Ids of `customerIds` that are suppressed now: one EXISTS of anySuppressionKey, and only while some customer is
 * suppressed one EXISTS per id (sent together).
 */
export async function suppressedAmong(
  redis: RedisClient,
  prefix: string,
  customerIds: Iterable<string>,
): Promise<Set<string>> {
  const ids = [...new Set(customerIds)];
  if (ids.length === 0 || (await redis.exists(anySuppressionKey(prefix))) === 0) return new Set();
  const found = await Promise.all(ids.map((id) => redis.exists(suppressionKey(prefix, id))));
  return new Set(ids.filter((_, i) => found[i] === 1));
}

/** The ports of executeErasure: the stores other than Redis, and the log. */
export interface ErasurePorts {
  redis: RedisClient;
  prefix: string;
  /** Deletes the customer's warehouse rows; returns rows found per table. */
  deleteWarehouseRows(customerId: string): Promise<Record<string, number>>;
  /** Writes a tombstone for the customer's key on every compacted topic; returns the topics. */
  writeTombstones(customerId: string): Promise<string[]>;
  insertLog(row: ErasureLogRow): Promise<void>;
  insertAudit(row: AuditRow): Promise<void>;
  /** Waits `ms` (tests pass a fake). Default: setTimeout. */
  sleep?(ms: number): Promise<void>;
}

export interface ErasureOptions {
  /** ERASURE_SUPPRESS_DAYS: the suppression when the request has no suppress_days. */
  suppressDays: number;
  /** ERASURE_SETTLE_MS: the wait between the two sweeps. */
  settleMs: number;
  /** ERASURE_DIGEST_SECRET ('' → an unlinkable digest). */
  digestSecret: string;
  /** Who executes (OPERATOR_NAME or the OS user); the log's executed_by and the audit's actor. */
  executedBy: string;
  /** `tierctl` or the topic the request came from. */
  source: string;
  now?: () => number;
}

export type ErasureOutcome = { status: 'done'; log: ErasureLogRow } | { status: 'skipped'; reason: string };

/** Validates a request's fields; returns the problems (empty when valid). */
export function erasureRequestProblems(r: ErasureRequest): string[] {
  const problems: string[] = [];
  if (r.request_id.trim() === '') problems.push('request_id is empty');
  if (r.customer_id === '') problems.push('customer_id is empty');
  if (r.reason.trim() === '') problems.push('reason is empty');
  if (r.suppress_days !== null && (!Number.isInteger(r.suppress_days) || r.suppress_days < 1))
    problems.push(`suppress_days must be a whole number of days >= 1, got ${r.suppress_days}`);
  return problems;
}

/**
 * Executes one erasure request once (see the order at the top of this file). A request id already done is skipped
 * (`skipped`); one left `running` by a crash is executed again (every step is idempotent). Throws when a store
 * fails: the request stays `running`, and running it again completes it. Throws on an invalid request.
 */
export async function executeErasure(
  ports: ErasurePorts,
  request: ErasureRequest,
  opts: ErasureOptions,
): Promise<ErasureOutcome> {
  const problems = erasureRequestProblems(request);
  if (problems.length > 0) throw new Error(`invalid erasure request: ${problems.join('; ')}`);
  const now = opts.now ?? Date.now;
  const sleep = ports.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const { redis, prefix } = ports;
  const requestKey = erasureRequestKey(prefix, request.request_id);
  const keepMs = ERASURE_REQUEST_KEEP_DAYS * 86_400_000;
  const claimed = await redis.set(requestKey, 'running', 'PX', keepMs, 'NX');
  if (claimed === null && (await redis.get(requestKey)) === 'done')
    return { status: 'skipped', reason: `request ${request.request_id} was already executed` };

  const id = request.customer_id;
  const until = request.suppress ? suppressedUntil(now(), request.suppress_days, opts.suppressDays) : 0;
  if (request.suppress) await suppressCustomer(redis, prefix, id, request.request_id, until);
  else await redis.del(suppressionKey(prefix, id));

  const sweep = async () => {
    const r = await eraseRedisCustomer(redis, prefix, id);
    const tables = await ports.deleteWarehouseRows(id);
    const topics = await ports.writeTombstones(id);
    return { redis: r, tables, topics };
  };
  const first = await sweep();
  if (opts.settleMs > 0) await sleep(opts.settleMs);
  const second = await sweep();

  const names = [...new Set([...Object.keys(first.tables), ...Object.keys(second.tables)])].sort();
  const digest = customerDigest(id, opts.digestSecret);
  const executedAt = now();
  const log: ErasureLogRow = {
    request_id: request.request_id,
    executed_at: executedAt,
    requested_at: request.requested_at,
    customer_digest: digest.digest,
    digest_kind: digest.kind,
    reason: request.reason,
    requested_by: request.requested_by ?? opts.executedBy,
    executed_by: opts.executedBy,
    source: opts.source,
    suppressed_until: until,
    redis_keys: first.redis.keys + second.redis.keys,
    redis_members: first.redis.members + second.redis.members,
    table_names: names,
    table_rows: names.map((t) => (first.tables[t] ?? 0) + (second.tables[t] ?? 0)),
    compacted_topics: first.topics,
    late_redis: second.redis.keys + second.redis.members,
    late_rows: Object.values(second.tables).reduce((a, b) => a + b, 0),
  };
  await ports.insertLog(log);
  await ports.insertAudit({
    at: executedAt,
    audit_id: `erase:${request.request_id}`,
    actor: request.requested_by ?? opts.executedBy,
    action: 'customer.erase',
    subject: request.request_id,
    source: opts.source,
    details: JSON.stringify({
      reason: request.reason,
      customer_digest: digest.digest,
      executed_by: opts.executedBy,
      suppressed_until: until === 0 ? null : new Date(until).toISOString(),
    }),
  });
  await redis.set(requestKey, 'done', 'PX', keepMs);
  return { status: 'done', log };
}
