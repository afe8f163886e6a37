import { mkdirSync } from 'node:fs';
import path from 'node:path';
import {
  bootstrapPipeline,
  type Clients,
  feedEvents,
  groupLag,
  REPO_ROOT,
  resetPipelineData,
  sendWatermarks,
} from '@tierstream/cli';
import { type RedisClient, redisSecurity } from '@tierstream/config';
import { INPUT_TOPICS, TOPICS } from '@tierstream/contracts';
import { DEFAULT_END, type GeneratorOptions, generateWorkload } from '@tierstream/generator';
import { createKafka, kafkaSecurity } from '@tierstream/kafka';
import { dayOf, TierStateStore } from '@tierstream/tierstate';
import { Redis } from 'ioredis';
import type { Admin } from 'kafkajs';
import { type BenchService, runCommand, scrapeMetric, sleep, startBenchService, waitReady, withTimeout } from './proc';

export interface BenchContext {
  clients: Clients;
  runId: string;
  customers: number;
  /** Services to run under node --cpu-prof (profiles land in `profileDir`). */
  profile: Set<string>;
  profileDir: string;
  log: (msg: string) => void;
}

export const STANDARD_SEED = 20260630;

/** Messages per topic, from the end offsets (records produced so far, control records included). */
export async function topicCounts(admin: Admin, topics: readonly string[]): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const t of topics) {
    const offsets = await admin.fetchTopicOffsets(t);
    out[t] = offsets.reduce((s, p) => s + Number(BigInt(p.high) - BigInt(p.low)), 0);
  }
  return out;
}

export async function redisUsedMemory(redis: { info(section: 'memory'): Promise<string> }): Promise<number> {
  const info = await redis.info('memory');
  const m = /used_memory:(\d+)/.exec(info);
  return m ? Number(m[1]) : Number.NaN;
}

/** Redis' AOF counters (INFO persistence): rewrites done so far, and whether one runs or waits to run. */
async function aofState(redis: { info(section: 'persistence'): Promise<string> }) {
  const info = await redis.info('persistence');
  const field = (name: string) => Number(new RegExp(`${name}:(\\d+)`).exec(info)?.[1] ?? Number.NaN);
  return {
    rewrites: field('aof_rewrites'),
    busy: field('aof_rewrite_in_progress') === 1 || field('aof_rewrite_scheduled') === 1,
  };
}

/**
 * Rewrites Redis' AOF (BGREWRITEAOF) and waits until the rewrite is done (at most `timeoutMs`), so that an aggregator
 * run starts with a compact AOF: otherwise a run that follows another (the A/B phase, the identity rounds) inherits
 * its AOF growth, and Redis' automatic rewrite (a fork writing the whole dataset, on the box's other core) falls in
 * the second run only. Returns the rewrite count after it (the run's rewrites are counted from there).
 */
export async function compactAof(
  redis: { info(section: 'persistence'): Promise<string>; bgrewriteaof(): Promise<unknown> },
  timeoutMs = 120_000,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while ((await aofState(redis)).busy && Date.now() < deadline) await sleep(200);
  await redis.bgrewriteaof();
  await sleep(200);
  for (;;) {
    const state = await aofState(redis);
    if (!state.busy || Date.now() > deadline) return state.rewrites;
    await sleep(200);
  }
}

/** CPU seconds of Redis' main thread so far (INFO cpu `used_cpu_user_main_thread` + `used_cpu_sys_main_thread`). */
export async function redisMainThreadCpu(redis: { info(section: 'cpu'): Promise<string> }): Promise<number> {
  const info = await redis.info('cpu');
  const field = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? 0);
  return field('used_cpu_user_main_thread') + field('used_cpu_sys_main_thread');
}

/** Redis' AOF rewrites counted so far (INFO persistence `aof_rewrites`). */
export async function aofRewrites(redis: { info(section: 'persistence'): Promise<string> }): Promise<number> {
  return (await aofState(redis)).rewrites;
}

/**
 * Redis bytes of the identity's held anonymous web events (`ts:{<anonymous id>}:anon`, design-decisions §22): the
 * MEMORY USAGE of every such key (SCAN, pipelined 1,000 at a time) and how many there are. They are kept apart from
 * the per-customer figure, which issue 18 bounds for aggregates + due index (+ tier state).
 */
export async function heldAnonymousBytes(client: RedisClient): Promise<{ keys: number; bytes: number }> {
  if (!(client instanceof Redis))
    throw new Error('heldAnonymousBytes: the bench measures a single Redis, not a Cluster');
  const redis = client;
  let keys = 0;
  let bytes = 0;
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', 'ts:{*}:anon', 'COUNT', 1000);
    cursor = next;
    if (batch.length === 0) continue;
    const pipeline = redis.pipeline();
    for (const k of batch) pipeline.call('MEMORY', 'USAGE', k, 'SAMPLES', '0');
    for (const [err, n] of (await pipeline.exec()) ?? []) if (!err) bytes += Number(n);
    keys += batch.length;
  } while (cursor !== '0');
  return { keys, bytes };
}

/** The profile directory when `service` runs under the CPU profiler (`--profile`), else undefined. */
export function cpuProfDir(ctx: BenchContext, service: string): string | undefined {
  if (!ctx.profile.has(service)) return undefined;
  mkdirSync(ctx.profileDir, { recursive: true });
  return ctx.profileDir;
}

// ---------------------------------------------------------------------------------------------------------------
// 1. Workload

export interface WorkloadResult {
  generator: GeneratorOptions & { end: string };
  events: number;
  byTopic: Record<string, number>;
  seconds: number;
  eventsPerSec: number;
}

export async function phaseWorkload(ctx: BenchContext): Promise<WorkloadResult> {
  const { clients } = ctx;
  ctx.log(
    'resetting tierstream data (topics, consumer groups, Redis keys under "ts:", ClickHouse database) — the bench owns the stack while it runs',
  );
  await resetPipelineData(clients);
  await bootstrapPipeline(clients);
  const generator = { customers: ctx.customers, days: 365, seed: STANDARD_SEED, end: DEFAULT_END };
  const producer = await clients.producer();
  const started = Date.now();
  let lastLog = started;
  const progress = await feedEvents(producer, clients.serde, generateWorkload(generator), {
    batchSize: 5_000,
    onProgress: (p) => {
      if (Date.now() - lastLog > 10_000) {
        lastLog = Date.now();
        ctx.log(
          `  produced ${p.sent.toLocaleString('en')} events (${Math.round(p.sent / ((Date.now() - started) / 1000))}/s)`,
        );
      }
    },
  });
  const seconds = (Date.now() - started) / 1000;
  return {
    generator,
    events: progress.sent,
    byTopic: progress.byTopic,
    seconds,
    eventsPerSec: progress.sent / seconds,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// 2. Ceilings

export interface CeilingsResult {
  consumerPerformance:
    | { messages: number; fetchSeconds: number; messagesPerSec: number; perTopic: Record<string, number> }
    | { error: string };
  kafkajsDrain: { messages: number; seconds: number; messagesPerSec: number };
  redisEvalsha: { calls: number; seconds: number; callsPerSec: number };
}

export async function phaseCeilings(ctx: BenchContext): Promise<CeilingsResult> {
  const admin = await ctx.clients.admin();
  const counts = await topicCounts(admin, INPUT_TOPICS);
  let consumerPerformance: CeilingsResult['consumerPerformance'];
  try {
    consumerPerformance = await kafkaConsumerPerformance(ctx, counts);
  } catch (err) {
    consumerPerformance = { error: (err as Error).message.slice(0, 500) };
    ctx.log(`  ConsumerPerformance failed: ${consumerPerformance.error}`);
  }
  const kafkajsDrain = await kafkajsDrainRate(ctx, counts);
  const redisEvalsha = await redisEvalshaRate(ctx);
  return { consumerPerformance, kafkajsDrain, redisEvalsha };
}

/** Kafka's own ConsumerPerformance tool (kafka-tools 3.9.1, from the stack's jar cache), one run per input topic. */
async function kafkaConsumerPerformance(
  ctx: BenchContext,
  counts: Record<string, number>,
): Promise<{ messages: number; fetchSeconds: number; messagesPerSec: number; perTopic: Record<string, number> }> {
  const cacheDir = process.env.TIERSTREAM_STACK_CACHE_DIR ?? path.join(REPO_ROOT, '.stack', 'cache');
  const libs = path.join(cacheDir, `kafka-libs-${process.env.KAFKA_VERSION ?? '3.9.1'}`);
  const log4j = path.join(REPO_ROOT, '.stack', 'conf', 'kafka', 'tools-log4j.properties');
  let messages = 0;
  let fetchMs = 0;
  const perTopic: Record<string, number> = {};
  for (const topic of INPUT_TOPICS) {
    const n = counts[topic] ?? 0;
    if (n === 0) continue;
    const out = await runCommand(
      'java',
      [
        '-Xmx512m',
        '-cp',
        `${libs}/*`,
        `-Dlog4j.configuration=file:${log4j}`,
        'org.apache.kafka.tools.ConsumerPerformance',
        '--bootstrap-server',
        ctx.clients.endpoints.kafkaBrokers.join(','),
        '--topic',
        topic,
        '--messages',
        String(n),
        '--group',
        `tierstream-bench-cperf-${ctx.runId}-${topic}`,
        '--timeout',
        '20000',
        '--hide-header',
      ],
      180_000,
    );
    // start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec
    const line = out
      .trim()
      .split('\n')
      .filter((l) => l.includes(','))
      .pop();
    const cols = line?.split(',').map((c) => c.trim()) ?? [];
    const nMsg = Number(cols[4]);
    const fetchTimeMs = Number(cols[7]);
    if (!Number.isFinite(nMsg) || !Number.isFinite(fetchTimeMs))
      throw new Error(`unexpected ConsumerPerformance output: ${out.slice(-500)}`);
    messages += nMsg;
    fetchMs += fetchTimeMs;
    perTopic[topic] = nMsg / (fetchTimeMs / 1000);
    ctx.log(`  ConsumerPerformance ${topic}: ${nMsg} messages, ${Math.round(perTopic[topic]!)}/s`);
  }
  return { messages, fetchSeconds: fetchMs / 1000, messagesPerSec: messages / (fetchMs / 1000), perTopic };
}

/**
 * A bare kafkajs consumer (fresh group, eachBatch, no work) draining the three input topics; timed from the group
 * join to the last batch, like the aggregator (join logged → lag 0).
 */
async function kafkajsDrainRate(
  ctx: BenchContext,
  counts: Record<string, number>,
): Promise<{ messages: number; seconds: number; messagesPerSec: number }> {
  const expected = Object.values(counts).reduce((a, b) => a + b, 0);
  const kafka = createKafka({
    brokers: ctx.clients.endpoints.kafkaBrokers,
    clientId: 'tierstream-bench-drain',
    ...kafkaSecurity(ctx.clients.config),
  });
  // Same fetch settings as the aggregator's ConsumerRunner (MAX_BYTES_PER_PARTITION default 8 MiB, a fetch of that
  // × PARTITIONS_CONCURRENCY 3, 100 ms max wait).
  const consumer = kafka.consumer({
    groupId: `tierstream-bench-drain-${ctx.runId}`,
    maxBytesPerPartition: 8_388_608,
    maxBytes: 3 * 8_388_608,
    maxWaitTimeInMs: 100,
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [...INPUT_TOPICS], fromBeginning: true });
    let count = 0;
    let joinedAt = 0;
    let last = 0;
    consumer.on(consumer.events.GROUP_JOIN, () => {
      joinedAt = Date.now();
    });
    let resolveDone: () => void = () => undefined;
    const done = new Promise<void>((r) => {
      resolveDone = r;
    });
    await consumer.run({
      eachBatch: async ({ batch }) => {
        count += batch.messages.length;
        last = Date.now();
        if (count >= expected) resolveDone();
      },
    });
    await withTimeout(done, 300_000, `kafkajs drain of ${expected} messages (got ${count})`);
    const seconds = (last - joinedAt) / 1000;
    ctx.log(`  kafkajs drain: ${count} messages in ${seconds.toFixed(2)} s (group joined → last batch)`);
    return { messages: count, seconds, messagesPerSec: count / seconds };
  } finally {
    await consumer.disconnect();
  }
}

/** Redis with a trivial script through EVALSHA, pipelined 1,000 calls at a time, for about 3 s. */
async function redisEvalshaRate(ctx: BenchContext): Promise<{ calls: number; seconds: number; callsPerSec: number }> {
  const redis = new Redis(ctx.clients.endpoints.redisUrl, redisSecurity(ctx.clients.config));
  try {
    const sha = (await redis.script('LOAD', 'return 1')) as string;
    const key = `bench-evalsha-${ctx.runId}`;
    const started = Date.now();
    let calls = 0;
    while (Date.now() - started < 3_000) {
      const pipeline = redis.pipeline();
      for (let i = 0; i < 1_000; i++) pipeline.evalsha(sha, 1, key);
      await pipeline.exec();
      calls += 1_000;
    }
    const seconds = (Date.now() - started) / 1000;
    return { calls, seconds, callsPerSec: calls / seconds };
  } finally {
    redis.disconnect();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// 3. Aggregator

export interface AggregatorResult {
  events: number;
  seconds: number;
  eventsPerSec: number;
  maxRssBytes: number;
  redisBytesBefore: number;
  redisBytesAfter: number;
  redisBytesPerCustomer: number;
  /** The identity's held anonymous events (heldAnonymousBytes): part of redisBytesAfter, not of the figure below. */
  heldAnonymous: { keys: number; bytes: number };
  /** (redisBytesAfter − redisBytesBefore − heldAnonymous.bytes) ÷ customers: aggregates + due index + attributes. */
  redisBytesPerCustomerWithoutHeld: number;
  /** Redis' AOF rewrites during the run (each a fork writing the dataset; the run starts after compactAof). */
  aofRewrites: number;
  /**
   * CPU seconds from the service's start to lag 0: the aggregator's process (start-up included) and Redis' main
   * thread (INFO cpu), the two a run's rate depends on.
   */
  cpuSeconds: { aggregator: number; redisMainThread: number };
}

/** Waits until a group's lag on `topics` is 0; returns the first instant progress was seen, the end, and the lag then. */
async function drainTimed(
  admin: Admin,
  group: string,
  topics: readonly string[],
  total: number,
  svc: BenchService,
  timeoutMs: number,
  onProgress: (lag: number) => void,
): Promise<{ firstAt: number; lagAtFirst: number; doneAt: number }> {
  const deadline = Date.now() + timeoutMs;
  let firstAt = 0;
  let lagAtFirst = total;
  let lastLog = Date.now();
  for (;;) {
    const dead = svc.dead();
    if (dead) throw new Error(dead);
    const lag = await groupLag(admin, group, topics);
    const now = Date.now();
    if (firstAt === 0 && lag < total) {
      firstAt = now;
      lagAtFirst = lag;
    }
    if (lag === 0 && firstAt !== 0) return { firstAt, lagAtFirst, doneAt: now };
    if (now - lastLog > 10_000) {
      lastLog = now;
      onProgress(lag);
    }
    if (now > deadline)
      throw new Error(`timeout after ${Math.round(timeoutMs / 1000)} s: ${svc.name} lag still ${lag}`);
    await sleep(200);
  }
}

/**
 * The aggregator service over the whole workload (fresh group). `root`: the checkout whose service runs (default this
 * one; a baseline worktree for the A/B comparison, see aggregator-ab.ts); `env`: settings of the service (e.g.
 * IDENTITY_ROUTING for the identity phase, identity.ts).
 */
export async function phaseAggregator(
  ctx: BenchContext,
  timeoutMs: number,
  opts: { root?: string; env?: Record<string, string> } = {},
): Promise<AggregatorResult> {
  const admin = await ctx.clients.admin();
  const counts = await topicCounts(admin, INPUT_TOPICS);
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  const redisBytesBefore = await redisUsedMemory(ctx.clients.redis);
  const rewritesBefore = await compactAof(ctx.clients.redis);
  const redisCpuBefore = await redisMainThreadCpu(ctx.clients.redis);
  const svc = startBenchService('aggregator', opts.env ?? {}, {
    cpuProfDir: cpuProfDir(ctx, 'aggregator'),
    root: opts.root,
  });
  try {
    const { firstAt, lagAtFirst, doneAt } = await drainTimed(
      admin,
      'tierstream-aggregator',
      INPUT_TOPICS,
      total,
      svc,
      timeoutMs,
      (lag) => ctx.log(`  aggregator lag ${lag.toLocaleString('en')}`),
    );
    // Timed like the kafkajs drain: from the group join (logged by the service) to lag 0. If the join line was
    // not seen, from the first poll that saw progress, counting only the events left then.
    const cpuSeconds = {
      aggregator: +svc.cpuSeconds().toFixed(2),
      redisMainThread: +((await redisMainThreadCpu(ctx.clients.redis)) - redisCpuBefore).toFixed(2),
    };
    const joinedAt = svc.joinedAt();
    const events = joinedAt > 0 ? total : lagAtFirst;
    const seconds = Math.max(0.001, (doneAt - (joinedAt > 0 ? joinedAt : firstAt)) / 1000);
    const redisBytesAfter = await redisUsedMemory(ctx.clients.redis);
    const heldAnonymous = await heldAnonymousBytes(ctx.clients.redis);
    const aofRewritesDuring = (await aofRewrites(ctx.clients.redis)) - rewritesBefore;
    // Close the replay: control records move every input partition's watermark to the end of the workload.
    await sendWatermarks(admin, await ctx.clients.producer(), Date.parse(DEFAULT_END));
    await withTimeout(
      (async () => {
        while ((await groupLag(admin, 'tierstream-aggregator', INPUT_TOPICS)) > 0) await sleep(200);
      })(),
      60_000,
      'aggregator consuming the watermark control records',
    );
    return {
      events,
      seconds,
      eventsPerSec: events / seconds,
      maxRssBytes: svc.maxRssBytes(),
      redisBytesBefore,
      redisBytesAfter,
      redisBytesPerCustomer: (redisBytesAfter - redisBytesBefore) / ctx.customers,
      heldAnonymous,
      redisBytesPerCustomerWithoutHeld: (redisBytesAfter - redisBytesBefore - heldAnonymous.bytes) / ctx.customers,
      aofRewrites: aofRewritesDuring,
      cpuSeconds,
    };
  } finally {
    await svc.stop();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// 4. Tier engine (replay)

export interface EngineResult {
  finished: boolean;
  seconds: number;
  daysClosed: number;
  daysTotal: number;
  daysClosedPerSec: number;
  evaluations: number | null;
  evaluationsPerSec: number | null;
  projectedTotalSeconds: number;
  transitions: number;
  maxRssBytes: number;
  redisBytesAfter: number;
  redisBytesPerCustomer: number;
  /** As redisBytesPerCustomer, without the identity's held anonymous events (heldAnonymousBytes). */
  redisBytesPerCustomerWithoutHeld: number;
}

export async function phaseEngine(
  ctx: BenchContext,
  redisBytesBaseline: number,
  timeoutMs: number,
): Promise<EngineResult> {
  const admin = await ctx.clients.admin();
  const tierState = new TierStateStore(ctx.clients.redis, 'ts');
  const lastDay = dayOf(Date.parse(DEFAULT_END));
  const partitions = (await admin.fetchTopicMetadata({ topics: [TOPICS.signals] })).topics[0]?.partitions.length ?? 0;
  const active: number[] = [];
  const firstDay: number[] = [];
  for (let p = 0; p < partitions; p++) {
    if ((await tierState.customerCount(p)) > 0) {
      active.push(p);
      const earliest = await tierState.earliestDue(p);
      firstDay.push(earliest === null ? lastDay : dayOf(earliest));
    }
  }
  const daysTotal = active.reduce((s, _p, i) => s + (lastDay - firstDay[i]! + 1), 0);
  const svc = startBenchService(
    'tier-engine',
    { CLOCK_MODE: 'replay', SNAPSHOT_PERIOD: 'off' },
    { cpuProfDir: cpuProfDir(ctx, 'tier-engine') },
  );
  try {
    const port = await waitReady(svc, 60_000);
    const started = Date.now();
    const closedDays = async () => {
      let closed = 0;
      for (const [i, p] of active.entries()) {
        const meta = await tierState.getPartitionMeta(p);
        if (meta.closed_day !== undefined) closed += Number(meta.closed_day) - firstDay[i]! + 1;
      }
      return closed;
    };
    let finished = false;
    let daysClosed = 0;
    let lastLog = Date.now();
    for (;;) {
      const dead = svc.dead();
      if (dead) throw new Error(dead);
      daysClosed = await closedDays();
      if (daysClosed >= daysTotal) {
        finished = true;
        break;
      }
      if (Date.now() - started > timeoutMs) break;
      if (Date.now() - lastLog > 10_000) {
        lastLog = Date.now();
        ctx.log(`  tier engine: ${daysClosed}/${daysTotal} partition-days closed`);
      }
      await sleep(250);
    }
    const seconds = (Date.now() - started) / 1000;
    const evaluations = await scrapeMetric(port, 'tierstream_sweeper_evaluated_total');
    const transitions = (await topicCounts(admin, [TOPICS.transitions]))[TOPICS.transitions] ?? 0;
    const redisBytesAfter = await redisUsedMemory(ctx.clients.redis);
    const held = await heldAnonymousBytes(ctx.clients.redis);
    const daysClosedPerSec = daysClosed / seconds;
    return {
      finished,
      seconds,
      daysClosed,
      daysTotal,
      daysClosedPerSec,
      evaluations,
      evaluationsPerSec: evaluations === null ? null : evaluations / seconds,
      projectedTotalSeconds: finished ? seconds : daysTotal / Math.max(daysClosedPerSec, 1e-9),
      transitions,
      maxRssBytes: svc.maxRssBytes(),
      redisBytesAfter,
      redisBytesPerCustomer: (redisBytesAfter - redisBytesBaseline) / ctx.customers,
      redisBytesPerCustomerWithoutHeld: (redisBytesAfter - redisBytesBaseline - held.bytes) / ctx.customers,
    };
  } finally {
    await svc.stop();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// 5. Warehouse writer
