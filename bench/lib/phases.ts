import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { createClient } from '@clickhouse/client';
import {
  bootstrapPipeline,
  type Clients,
  feedEvents,
  groupLag,
  REPO_ROOT,
  resetPipelineData,
  sendWatermarks,
} from '@tierstream/cli';
import { INPUT_TOPICS, type OrderEvent, type TierChange, TOPICS } from '@tierstream/contracts';
import { DEFAULT_END, type GeneratorOptions, generateWorkload } from '@tierstream/generator';
import { createKafka, createProducer } from '@tierstream/kafka';
import { dayOf, TierStateStore } from '@tierstream/tierstate';
import { MIGRATIONS_DIR, migrate, WarehouseWriter } from '@tierstream/warehouse';
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
  const kafka = createKafka({ brokers: ctx.clients.endpoints.kafkaBrokers, clientId: 'tierstream-bench-drain' });
  // Same fetch settings as the aggregator's ConsumerRunner (MAX_BYTES_PER_PARTITION default 2 MiB, 100 ms max wait).
  const consumer = kafka.consumer({
    groupId: `tierstream-bench-drain-${ctx.runId}`,
    maxBytesPerPartition: 2_097_152,
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
  const redis = new Redis(ctx.clients.endpoints.redisUrl);
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

export async function phaseAggregator(ctx: BenchContext, timeoutMs: number): Promise<AggregatorResult> {
  const admin = await ctx.clients.admin();
  const counts = await topicCounts(admin, INPUT_TOPICS);
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  const redisBytesBefore = await redisUsedMemory(ctx.clients.redis);
  const svc = startBenchService('aggregator', {}, { cpuProfDir: cpuProfDir(ctx, 'aggregator') });
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
    const joinedAt = svc.joinedAt();
    const events = joinedAt > 0 ? total : lagAtFirst;
    const seconds = Math.max(0.001, (doneAt - (joinedAt > 0 ? joinedAt : firstAt)) / 1000);
    const redisBytesAfter = await redisUsedMemory(ctx.clients.redis);
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
    };
  } finally {
    await svc.stop();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// 5. Warehouse writer

export interface WarehouseResult {
  database: string;
  changes: { rows: number; seconds: number; rowsPerSec: number };
  snapshot: { rows: number; seconds: number; rowsPerSec: number; wallSecondsWithRowBuilding: number };
}

const DIMS: Array<[string, string[]]> = [
  ['lifecycle', ['NEW', 'ACTIVE', 'LOYAL', 'AT_RISK', 'DORMANT', 'CHURNED', 'PROSPECT']],
  [
    'rfm_segment',
    [
      'CHAMPION',
      'LOYAL_AT_RISK',
      'POTENTIAL',
      'BIG_SPENDER_LOST',
      'GENERAL_VALUE',
      'GENERAL_DEVELOP',
      'GENERAL_KEEP',
      'GENERAL_RETAIN',
    ],
  ],
  ['service_flag', ['NONE', 'COMPLAINT_RISK']],
  ['value_potential', ['STAR', 'CASH_COW', 'QUESTION_MARK', 'DOG']],
  ['value_tier', ['PLATINUM', 'GOLD', 'SILVER', 'BRONZE']],
];

/** A synthetic full-state row shaped like the engine's (5 dimensions, the engine's 12 row metrics). */
function syntheticRow(i: number, kind: 'CHANGE' | 'SNAPSHOT', day: string, asOf: number): TierChange {
  const tiers: Record<string, string> = {};
  for (const [d, values] of DIMS) tiers[d] = values[(i * 7 + d.length) % values.length]!;
  const revenue = (i * 7919) % 500_000;
  return {
    customer_id: `c${String(i).padStart(8, '0')}`,
    kind,
    state_version: asOf + (i % 1000),
    snapshot_day: kind === 'SNAPSHOT' ? day : null,
    tiers,
    metrics: {
      aov_lifetime: revenue / 3,
      engagement_score: (i % 100) / 10,
      first_order_at: asOf - (i % 365) * 86_400_000,
      last_order_at: asOf - (i % 30) * 86_400_000,
      margin_365d: revenue * 0.2,
      orders_365d: i % 12,
      orders_lifetime: i % 40,
      recency_days: i % 30,
      revenue_365d: revenue,
      revenue_90d: revenue / 4,
      revenue_lifetime: revenue * 2,
      tenure_days: i % 365,
    },
    rules_version: '2026-11.1',
    cutpoints_version: 'cp-2026-06-28',
    as_of: asOf,
    emitted_at: asOf + 1,
  };
}

export async function phaseWarehouse(ctx: BenchContext, snapshotRows: number): Promise<WarehouseResult> {
  const database = 'tierstream_bench';
  const client = createClient({ url: ctx.clients.endpoints.clickhouseUrl, request_timeout: 300_000 });
  try {
    await client.command({ query: `DROP DATABASE IF EXISTS ${database}` });
    await migrate(client, { database, dir: MIGRATIONS_DIR });
    const writer = new WarehouseWriter(client, { database });
    const asOf = Date.parse('2026-06-30T23:59:59.999Z');
    const chunk = 50_000;
    // tier_current (CHANGE rows): 200k rows built first, then timed through the writer.
    const changeRows = Array.from({ length: 200_000 }, (_, i) => syntheticRow(i, 'CHANGE', '2026-06-30', asOf));
    let t = Date.now();
    await writer.insertChanges(changeRows);
    const changesSeconds = (Date.now() - t) / 1000;
    ctx.log(`  tier_current: ${changeRows.length} rows in ${changesSeconds.toFixed(1)} s`);
    // A full daily snapshot: rows are built 50k at a time (as the writer receives them from Kafka) so that 1M
    // rows never sit in memory at once; only the writer calls are timed, the wall time with row building too.
    let writeMs = 0;
    const wallStart = Date.now();
    for (let i = 0; i < snapshotRows; i += chunk) {
      const rows = Array.from({ length: Math.min(chunk, snapshotRows - i) }, (_, k) =>
        syntheticRow(i + k, 'SNAPSHOT', '2026-06-30', asOf),
      );
      t = Date.now();
      await writer.insertSnapshots(rows);
      writeMs += Date.now() - t;
    }
    const wall = (Date.now() - wallStart) / 1000;
    const written = await client.query({
      query: `SELECT count() AS n FROM ${database}.tier_snapshots`,
      format: 'JSONEachRow',
    });
    const n = Number(((await written.json()) as Array<{ n: string }>)[0]?.n ?? 0);
    if (n !== snapshotRows) throw new Error(`snapshot check: expected ${snapshotRows} rows in ClickHouse, found ${n}`);
    ctx.log(
      `  tier_snapshots: ${snapshotRows} rows in ${(writeMs / 1000).toFixed(1)} s (${wall.toFixed(1)} s with row building)`,
    );
    return {
      database,
      changes: { rows: changeRows.length, seconds: changesSeconds, rowsPerSec: changeRows.length / changesSeconds },
      snapshot: {
        rows: snapshotRows,
        seconds: writeMs / 1000,
        rowsPerSec: snapshotRows / (writeMs / 1000),
        wallSecondsWithRowBuilding: wall,
      },
    };
  } finally {
    await client.command({ query: `DROP DATABASE IF EXISTS ${database}` }).catch(() => undefined);
    await client.close();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// 6. Latency (live mode)

export interface LatencyResult {
  maxRate: { customers: number; seconds: number; perSec: number };
  rate: number;
  seconds: number;
  sent: number;
  matched: number;
  missing: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  aggregatorRssBytes: number;
  engineRssBytes: number;
}

function orderFor(customerId: string, at: number, i: number): OrderEvent {
  return {
    event_id: `${customerId}-e`,
    customer_id: customerId,
    order_id: `${customerId}-o`,
    type: 'PLACED',
    amount_minor: 1_000 + ((i * 7919) % 50_000),
    currency: 'USD',
    margin_minor: null,
    channel: 'web',
    items: 1,
    occurred_at: at,
    original_placed_at: null,
    attributes: null,
  };
}

export function percentile(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[idx]!;
}

export async function phaseLatency(
  ctx: BenchContext,
  opts: { seconds: number; probeSeconds: number },
): Promise<LatencyResult> {
  const { clients } = ctx;
  ctx.log('  resetting tierstream data for live mode (fresh topics, groups, Redis keys)');
  await resetPipelineData(clients);
  await bootstrapPipeline(clients);
  const admin = await clients.admin();
  // A fresh idempotent producer: the shared one still holds sequence numbers of the deleted topics' partitions.
  const producer = await createProducer(
    createKafka({ brokers: clients.endpoints.kafkaBrokers, clientId: 'tierstream-bench-latency-producer' }),
  );
  const serde = clients.serde;
  const agg = startBenchService('aggregator', {}, { cpuProfDir: cpuProfDir(ctx, 'aggregator') });
  const engine = startBenchService(
    'tier-engine',
    { CLOCK_MODE: 'live' },
    { cpuProfDir: cpuProfDir(ctx, 'tier-engine') },
  );
  const kafka = createKafka({ brokers: clients.endpoints.kafkaBrokers, clientId: 'tierstream-bench-latency' });
  const consumer = kafka.consumer({ groupId: `tierstream-bench-latency-${ctx.runId}`, maxWaitTimeInMs: 10 });
  /** customer id → timestamp of the first transition record produced for it. */
  const firstTransition = new Map<string, number>();
  let probeSeen = 0;
  try {
    await waitReady(agg, 60_000);
    await waitReady(engine, 60_000);
    await consumer.connect();
    await consumer.subscribe({ topics: [TOPICS.transitions], fromBeginning: true });
    await consumer.run({
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) {
          // The key is the customer id (every topic is keyed by customer_id); the record timestamp is the
          // engine's produce time, so the bench consumer's own delay does not count.
          const id = m.key?.toString('utf8');
          if (id && !firstTransition.has(id)) {
            firstTransition.set(id, Number(m.timestamp));
            if (id.startsWith('bench-probe-')) probeSeen++;
          }
        }
      },
    });
    await sleep(3_000); // consumer group join
    const idle = async (what: string) => {
      let last = -1;
      let stableSince = Date.now();
      const deadline = Date.now() + 120_000;
      while (Date.now() < deadline) {
        const lag =
          (await groupLag(admin, 'tierstream-aggregator', [TOPICS.orders])) +
          (await groupLag(admin, 'tierstream-tier-engine', [TOPICS.signals]));
        if (lag !== 0 || firstTransition.size !== last) {
          last = firstTransition.size;
          stableSince = Date.now();
        } else if (Date.now() - stableSince > 2_000) return;
        const dead = agg.dead() ?? engine.dead();
        if (dead) throw new Error(dead);
        await sleep(200);
      }
      throw new Error(`pipeline not idle after 120 s (${what})`);
    };
    // Warm-up: JIT, connections, schema ids.
    const warm = Array.from({ length: 200 }, (_, i) => `bench-warm-${ctx.runId}-${i}`);
    await producer.send(
      TOPICS.orders,
      await Promise.all(
        warm.map(async (id, i) => ({ key: id, value: await serde.encode(TOPICS.orders, orderFor(id, Date.now(), i)) })),
      ),
    );
    await idle('warm-up');

    // Max sustainable rate: new customers produced in batches of 200 for `probeSeconds`, keeping at most 2,000 in
    // flight (the probe measures completion, not queueing); the rate at which their first transitions come out is
    // what the pipeline sustains.
    const probeIds: string[] = [];
    const probeStart = Date.now();
    let n = 0;
    while (Date.now() - probeStart < opts.probeSeconds * 1000) {
      while (probeIds.length - probeSeen >= 2_000) {
        const dead = agg.dead() ?? engine.dead();
        if (dead) throw new Error(dead);
        if (Date.now() - probeStart > 120_000)
          throw new Error(`max-rate probe: ${probeSeen}/${probeIds.length} through after 120 s`);
        await sleep(5);
      }
      const batch = Array.from({ length: 200 }, () => `bench-probe-${ctx.runId}-${n++}`);
      probeIds.push(...batch);
      const at = Date.now();
      await producer.send(
        TOPICS.orders,
        await Promise.all(
          batch.map(async (id, i) => ({ key: id, value: await serde.encode(TOPICS.orders, orderFor(id, at, i)) })),
        ),
      );
    }
    await idle('max-rate probe');
    const seenProbe = probeIds.filter((id) => firstTransition.has(id));
    const lastProbe = Math.max(...seenProbe.map((id) => firstTransition.get(id)!));
    const probeSeconds = (lastProbe - probeStart) / 1000;
    const maxPerSec = seenProbe.length / probeSeconds;
    ctx.log(
      `  max rate: ${seenProbe.length}/${probeIds.length} new customers through in ${probeSeconds.toFixed(1)} s = ${Math.round(maxPerSec)}/s`,
    );

    // Measured run: single PLACED orders for brand-new customers at half that rate, each with its own send time.
    const rate = maxPerSec / 2;
    const sentAt = new Map<string, number>();
    const start = Date.now();
    let i = 0;
    while (Date.now() - start < opts.seconds * 1000) {
      const due = Math.floor(((Date.now() - start) / 1000) * rate) - i;
      if (due > 0) {
        const now = Date.now();
        const records = await Promise.all(
          Array.from({ length: due }, async (_, k) => {
            const id = `bench-lat-${ctx.runId}-${i + k}`;
            sentAt.set(id, now);
            return { key: id, value: await serde.encode(TOPICS.orders, orderFor(id, now, i + k)) };
          }),
        );
        i += due;
        await producer.send(TOPICS.orders, records);
      }
      await sleep(2);
    }
    await idle('latency run');
    const latencies: number[] = [];
    for (const [id, at] of sentAt) {
      const out = firstTransition.get(id);
      if (out !== undefined) latencies.push(out - at);
    }
    latencies.sort((a, b) => a - b);
    return {
      maxRate: { customers: seenProbe.length, seconds: probeSeconds, perSec: maxPerSec },
      rate,
      seconds: opts.seconds,
      sent: sentAt.size,
      matched: latencies.length,
      missing: sentAt.size - latencies.length,
      p50: percentile(latencies, 0.5),
      p95: percentile(latencies, 0.95),
      p99: percentile(latencies, 0.99),
      max: latencies[latencies.length - 1] ?? Number.NaN,
      aggregatorRssBytes: agg.maxRssBytes(),
      engineRssBytes: engine.maxRssBytes(),
    };
  } finally {
    await consumer.disconnect().catch(() => undefined);
    await producer.disconnect().catch(() => undefined);
    await Promise.all([agg.stop(), engine.stop()]);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// 7. Sweep cost growth

export interface SweepPoint {
  customers: number;
  due: number;
  sweepMsMean: number;
  sweepMsP50: number;
  sweepMsP99: number;
  redisBytes: number;
  redisBytesPerCustomer: number;
}

export async function phaseSweep(ctx: BenchContext, scales: number[], dueCount: number): Promise<SweepPoint[]> {
  const redis = new Redis(ctx.clients.endpoints.redisUrl);
  const prefix = `bench-sweep-${ctx.runId}`;
  const store = new TierStateStore(redis, prefix);
  const partition = 0;
  const now = Date.parse('2026-06-30T12:00:00Z');
  const points: SweepPoint[] = [];
  try {
    const before = await redisUsedMemory(redis);
    let scheduled = 0;
    for (const target of [...scales].sort((a, b) => a - b)) {
      // The first `dueCount` customers are due (an hour ago); every other one is due within the next 30 days.
      while (scheduled < target) {
        const n = Math.min(10_000, target - scheduled);
        await store.schedule(
          Array.from({ length: n }, (_, k) => {
            const i = scheduled + k;
            return {
              customerId: `c${i}`,
              partition,
              dueAt: i < dueCount ? now - 3_600_000 : now + 60_000 + ((i * 2_654_435_761) % (30 * 86_400_000)),
            };
          }),
        );
        scheduled += n;
      }
      const used = (await redisUsedMemory(redis)) - before;
      // One sweep step = what the sweeper does per page: due() (ZRANGEBYSCORE … LIMIT + HMGET of the touches) and dueCount().
      const times: number[] = [];
      for (let r = 0; r < 220; r++) {
        const t = process.hrtime.bigint();
        const due = await store.due(partition, now, dueCount);
        const count = await store.dueCount(partition, now);
        const ms = Number(process.hrtime.bigint() - t) / 1e6;
        if (due.length !== dueCount || count !== dueCount)
          throw new Error(`sweep: expected ${dueCount} due, got ${due.length}/${count}`);
        if (r >= 20) times.push(ms); // the first 20 warm up
      }
      times.sort((a, b) => a - b);
      const point: SweepPoint = {
        customers: target,
        due: dueCount,
        sweepMsMean: times.reduce((a, b) => a + b, 0) / times.length,
        sweepMsP50: percentile(times, 0.5),
        sweepMsP99: percentile(times, 0.99),
        redisBytes: used,
        redisBytesPerCustomer: used / target,
      };
      ctx.log(
        `  sweep at ${target.toLocaleString('en')} customers: ${point.sweepMsMean.toFixed(2)} ms per sweep of ${dueCount} due`,
      );
      points.push(point);
    }
    return points;
  } finally {
    await redis
      .unlink(store.keys.due(partition), store.keys.touch(partition), store.keys.customers(partition))
      .catch(() => undefined);
    redis.disconnect();
  }
}
