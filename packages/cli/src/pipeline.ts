import { DLQ_TOPICS, TOPICS } from '@tierstream/contracts';
import { dayOf, TierStateStore } from '@tierstream/tierstate';
import { Cluster } from 'ioredis';
import type { Admin } from 'kafkajs';
import type { Clients } from './clients';
import { DEFAULT_GROUPS } from './config';

/** The default consumer group ids; a deployment may override them (Clients.groups has the configured ones). */
export const GROUPS = DEFAULT_GROUPS;

/** The default output topics; Clients.outputTopics has the configured ones. */
export const OUTPUT_TOPICS = [TOPICS.changes, TOPICS.transitions, TOPICS.snapshots, TOPICS.cutpoints] as const;

/**
 * Per partition of `topics`: end offset − committed offset of `groupId` (a partition without a committed offset
 * counts from its low watermark: everything still there is unread).
 */
export async function groupLagByPartition(
  admin: Admin,
  groupId: string,
  topics: readonly string[],
): Promise<Array<{ topic: string; partition: number; lag: number }>> {
  const out: Array<{ topic: string; partition: number; lag: number }> = [];
  const committed = await admin.fetchOffsets({ groupId, topics: [...topics] });
  for (const t of committed) {
    const ends = await admin.fetchTopicOffsets(t.topic);
    for (const p of t.partitions) {
      const end = BigInt(ends.find((e) => e.partition === p.partition)?.high ?? '0');
      const done =
        p.offset === '-1' ? BigInt(ends.find((e) => e.partition === p.partition)?.low ?? '0') : BigInt(p.offset);
      out.push({ topic: t.topic, partition: p.partition, lag: end > done ? Number(end - done) : 0 });
    }
  }
  return out.sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
}

/** Sum over partitions of (end offset − committed offset) of a group on some topics. */
export async function groupLag(admin: Admin, groupId: string, topics: readonly string[]): Promise<number> {
  return (await groupLagByPartition(admin, groupId, topics)).reduce((n, p) => n + p.lag, 0);
}

export interface PipelineProgress {
  aggregatorLag: number;
  closedDays: Array<number | null>;
  writerLag: number;
  done: boolean;
}

/**
 * Has a replay finished end to end? The aggregator consumed every input record, every signal partition of the tier
 * engine closed `lastDay` (or has no customers at all), and the writer consumed every output record.
 */
export async function pipelineProgress(clients: Clients, lastDay: number): Promise<PipelineProgress> {
  const admin = await clients.admin();
  const tierState = new TierStateStore(clients.redis, clients.redisPrefix);
  const aggregatorLag = await groupLag(admin, clients.groups.aggregator, clients.inputTopics);
  const meta = await admin.fetchTopicMetadata({ topics: [clients.signalsTopic] });
  const partitions = meta.topics[0]?.partitions.length ?? 0;
  const closedDays: Array<number | null> = [];
  let enginesDone = true;
  for (let p = 0; p < partitions; p++) {
    const m = await tierState.getPartitionMeta(p);
    const closed = m.closed_day !== undefined ? Number(m.closed_day) : null;
    closedDays.push(closed);
    const hasCustomers = (await tierState.customerCount(p)) > 0;
    if (hasCustomers && (closed === null || closed < lastDay)) enginesDone = false;
  }
  const writerLag = enginesDone ? await groupLag(admin, clients.groups.writer, clients.outputTopics) : Number.NaN;
  return { aggregatorLag, closedDays, writerLag, done: aggregatorLag === 0 && enginesDone && writerLag === 0 };
}

/** waitForPipeline ran out of time; `progress` is the last progress seen (null if none was read). */
export class PipelineTimeoutError extends Error {
  constructor(
    readonly progress: PipelineProgress | null,
    readonly timeoutMs: number,
  ) {
    super(`pipeline did not finish in time: ${JSON.stringify(progress)}`);
    this.name = 'PipelineTimeoutError';
  }
}

export async function waitForPipeline(
  clients: Clients,
  endAt: number,
  opts: { timeoutMs?: number; onProgress?: (p: PipelineProgress) => void; isAlive?: () => string | null } = {},
): Promise<PipelineProgress> {
  const deadline = Date.now() + (opts.timeoutMs ?? 600_000);
  const lastDay = dayOf(endAt + 1) - 1;
  let last: PipelineProgress | null = null;
  for (;;) {
    const dead = opts.isAlive?.();
    if (dead) throw new Error(`pipeline stopped: ${dead}`);
    let progress: PipelineProgress;
    try {
      progress = await pipelineProgress(clients, lastDay);
    } catch (err) {
      // Retriable broker errors are expected while a fresh broker creates __consumer_offsets ("not the correct
      // coordinator for this group"): poll again instead of failing the wait.
      if (!(err as { retriable?: boolean }).retriable) throw err;
      if (Date.now() > deadline) throw new PipelineTimeoutError(last, opts.timeoutMs ?? 600_000);
      await new Promise((r) => setTimeout(r, 500));
      continue;
    }
    last = progress;
    opts.onProgress?.(progress);
    if (progress.done) return progress;
    if (Date.now() > deadline) throw new PipelineTimeoutError(progress, opts.timeoutMs ?? 600_000);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Removes every Redis key under the clients' prefix (on every master of a Redis Cluster). */
export async function deleteRedisKeys(clients: Clients): Promise<void> {
  const redis = clients.redis;
  // Redis Cluster: every master holds part of the keyspace; keys of different slots are unlinked one by one.
  // A new Cluster client lists no node until it has the slot map: PING waits for that (`ready`).
  if (redis instanceof Cluster) await redis.ping();
  const nodes = redis instanceof Cluster ? redis.nodes('master') : [redis];
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', `${clients.redisPrefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await Promise.all(keys.map((k) => node.unlink(k)));
    } while (cursor !== '0');
  }
}

/**
 * Wipes tierstream's data (not the stack): deletes and recreates the topics, deletes the consumer groups, removes the
 * Redis keys under the prefix and drops the ClickHouse database. For demos and tests that want a clean start.
 */
export async function resetPipelineData(clients: Clients): Promise<void> {
  const admin = await clients.admin();
  const existing = new Set(await admin.listTopics());
  const ours = [...Object.values(TOPICS), ...DLQ_TOPICS].filter((t) => existing.has(t));
  const groups = (await admin.listGroups()).groups.map((g) => g.groupId).filter((g) => g.startsWith('tierstream-'));
  if (groups.length > 0) await admin.deleteGroups(groups).catch(() => undefined);
  if (ours.length > 0) {
    await clients.resetProducer();
    await admin.deleteTopics({ topics: ours, timeout: 30_000 });
    // Topic deletion is asynchronous on the broker: wait until the names are gone before they are created again.
    for (let i = 0; i < 100; i++) {
      const left = (await admin.listTopics()).filter((t) => ours.includes(t));
      if (left.length === 0) break;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  await deleteRedisKeys(clients);
  await clients.clickhouse.command({ query: `DROP DATABASE IF EXISTS ${clients.endpoints.clickhouseDatabase}` });
}
