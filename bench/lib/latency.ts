/** Bench phases: live end-to-end latency (order produced → transition) and the sweeper's cost as the due set grows. */

import { bootstrapPipeline, groupLag, resetPipelineData } from '@tierstream/cli';
import { redisSecurity } from '@tierstream/config';
import { type OrderEvent, TOPICS } from '@tierstream/contracts';
import { createKafka, createProducer, kafkaSecurity } from '@tierstream/kafka';
import { TierStateStore } from '@tierstream/tierstate';
import { Redis } from 'ioredis';
import { type BenchContext, cpuProfDir, redisUsedMemory } from './phases';
import { sleep, startBenchService, waitReady } from './proc';

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
  /**
   * The two hops, p50/p95/p99 (ms): order sent → its customer's first signal produced by the aggregator, and that
   * signal → the first transition produced by the engine (record timestamps: set when each producer sends).
   */
  hops: { orderToSignal: [number, number, number]; signalToTransition: [number, number, number] };
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
    createKafka({
      brokers: clients.endpoints.kafkaBrokers,
      clientId: 'tierstream-bench-latency-producer',
      ...kafkaSecurity(clients.config),
    }),
  );
  const serde = clients.serde;
  const agg = startBenchService('aggregator', {}, { cpuProfDir: cpuProfDir(ctx, 'aggregator') });
  const engine = startBenchService(
    'tier-engine',
    { CLOCK_MODE: 'live' },
    { cpuProfDir: cpuProfDir(ctx, 'tier-engine') },
  );
  const kafka = createKafka({
    brokers: clients.endpoints.kafkaBrokers,
    clientId: 'tierstream-bench-latency',
    ...kafkaSecurity(clients.config),
  });
  const consumer = kafka.consumer({ groupId: `tierstream-bench-latency-${ctx.runId}`, maxWaitTimeInMs: 10 });
  /** customer id → timestamp of the first transition record produced for it. */
  const firstTransition = new Map<string, number>();
  /** customer id → timestamp of the first signal the aggregator produced for it. */
  const firstSignal = new Map<string, number>();
  let probeSeen = 0;
  try {
    await waitReady(agg, 60_000);
    await waitReady(engine, 60_000);
    await consumer.connect();
    await consumer.subscribe({ topics: [TOPICS.transitions, TOPICS.signals], fromBeginning: true });
    await consumer.run({
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) {
          // The key is the customer id (every topic is keyed by customer_id); the record timestamp is the
          // engine's produce time, so the bench consumer's own delay does not count.
          const id = m.key?.toString('utf8');
          if (batch.topic === TOPICS.signals) {
            if (id && !firstSignal.has(id)) firstSignal.set(id, Number(m.timestamp));
            continue;
          }
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
    const toSignal: number[] = [];
    const toTransition: number[] = [];
    for (const [id, at] of sentAt) {
      const sig = firstSignal.get(id);
      const out = firstTransition.get(id);
      if (sig === undefined || out === undefined) continue;
      toSignal.push(sig - at);
      toTransition.push(out - sig);
    }
    const q = (list: number[]): [number, number, number] => {
      list.sort((a, b) => a - b);
      return [percentile(list, 0.5), percentile(list, 0.95), percentile(list, 0.99)];
    };
    const hops = { orderToSignal: q(toSignal), signalToTransition: q(toTransition) };
    ctx.log(
      `  p50/p95/p99: order → signal ${hops.orderToSignal.join('/')} ms, signal → transition ${hops.signalToTransition.join('/')} ms`,
    );
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
      hops,
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
  const redis = new Redis(ctx.clients.endpoints.redisUrl, redisSecurity(ctx.clients.config));
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
