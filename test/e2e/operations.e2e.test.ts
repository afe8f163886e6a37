import {
  bootstrapPipeline,
  Clients,
  feedEvents,
  GROUPS,
  groupLag,
  OUTPUT_TOPICS,
  pipelineProgress,
  resetPipelineData,
  type ServiceName,
  type ServiceProcess,
  sendWatermarks,
  startService,
  stopService,
  waitForPipeline,
} from '@tierstream/cli';
import { INPUT_TOPICS, type InputEvent, type TierTransition, TOPICS } from '@tierstream/contracts';
import { generateWorkload, resolveOptions } from '@tierstream/generator';
import { dayOf, endOfDay, isoDay } from '@tierstream/tierstate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/free-port';
import { aggregateMismatches, tierStateMismatches } from '../support/oracle-checks';
import { runPipelineOracle } from '../support/pipeline-oracle';
import { createKafka } from '../support/stack';
import { historyDistribution, warehouseTransitionIds } from '../support/warehouse-reads';

/**
 * Running tierstream as infrastructure: the three services as processes (replay mode, `tiny` profile), each one
 * stopped with SIGTERM while it is busy and restarted; a second aggregator and a second tier engine join mid-run and
 * leave again (SIGTERM), so partitions move between members twice. Graceful stops must exit 0 quickly, and the
 * results must still equal the batch oracle exactly: aggregates, tier state, the set of transition ids, snapshot
 * counts. Then /metrics and the health endpoints of the surviving processes, and readiness without Redis.
 */
const CUTPOINTS_EVERY_DAYS = 7;
/** A graceful stop must end well before the 30 s shutdown timeout of installShutdown (which exits 1). */
const STOP_BOUND_MS = 20_000;

async function waitUntil(what: string, probe: () => Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Sum of the samples of one metric (exact name: `name{...} v` or `name v`) in Prometheus text. */
function metricSum(text: string, name: string): number | null {
  let sum: number | null = null;
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    if (!(line.startsWith(`${name}{`) || line.startsWith(`${name} `))) continue;
    sum = (sum ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

interface Instance {
  svc: ServiceProcess;
  port: number;
  log: string[];
}

describe('operations: graceful stops while busy, rebalances, metrics and health', () => {
  const clients = new Clients();
  const workload: InputEvent[] = [...generateWorkload('tiny')];
  const options = resolveOptions('tiny');
  const endAt = endOfDay(dayOf(typeof options.end === 'number' ? options.end : Date.parse(options.end)));
  // One more order on the last day, sent after the extra instances left: the surviving aggregator then certainly
  // applies an event and produces a signal (its own counters are checked at the end).
  const lastOrder = [...workload].reverse().find((e) => e.kind === 'order')!;
  const tail: InputEvent = {
    kind: 'order',
    event: {
      ...(lastOrder.event as Extract<InputEvent, { kind: 'order' }>['event']),
      event_id: 'ops-tail-order',
      order_id: 'ops-tail-order',
      type: 'PLACED',
      original_placed_at: null,
      occurred_at: endAt - 3_600_000,
    },
  };
  const events: InputEvent[] = [...workload, tail];
  const lastDay = dayOf(endAt + 1) - 1;
  const oracle = runPipelineOracle({
    events,
    cutPointsEveryDays: CUTPOINTS_EVERY_DAYS,
    endAt,
  });
  const env = { CLOCK_MODE: 'replay', CUTPOINTS_EVERY_DAYS: String(CUTPOINTS_EVERY_DAYS), LOG_LEVEL: 'info' };
  /** The current instance of each service (the one that survives to the end). */
  const current = new Map<ServiceName, Instance>();
  const extras: Instance[] = [];
  const all: Instance[] = [];
  /** What each graceful stop did: which service, what it was doing, exit code, how long it took. */
  const stops: Array<{ name: string; busy: string; code: number | null; ms: number }> = [];

  const launch = async (name: ServiceName): Promise<Instance> => {
    const port = await freePort();
    const log: string[] = [];
    const svc = startService(name, { ...env, HTTP_PORT: String(port) }, (_n, line) => log.push(line));
    const inst = { svc, port, log };
    all.push(inst);
    return inst;
  };
  const scrape = async (inst: Instance, p = '/metrics') => {
    const res = await fetch(`http://127.0.0.1:${inst.port}${p}`, { signal: AbortSignal.timeout(5_000) });
    return { status: res.status, text: await res.text() };
  };
  const ready = async (inst: Instance) => {
    try {
      return (await scrape(inst, '/health/ready')).status === 200;
    } catch {
      return false;
    }
  };
  const metric = async (inst: Instance, name: string) => {
    try {
      return metricSum((await scrape(inst)).text, name) ?? 0;
    } catch {
      return 0;
    }
  };
  const gracefulStop = async (inst: Instance, busy: string) => {
    const started = Date.now();
    const code = await stopService(inst.svc, 60_000);
    stops.push({ name: inst.svc.name, busy, code, ms: Date.now() - started });
  };
  const dead = () => {
    const gone = [...current.values(), ...extras].find((i) => i.svc.child.exitCode !== null);
    return gone ? `${gone.svc.name} exited with ${gone.svc.child.exitCode}: ${gone.log.slice(-5).join('\n')}` : null;
  };

  beforeAll(async () => {
    await resetPipelineData(clients);
    await bootstrapPipeline(clients);
    const admin = await clients.admin();
    for (const name of ['aggregator', 'tier-engine', 'warehouse-writer'] as const)
      current.set(name, await launch(name));
    // Ready first: a start slowed by a loaded machine must not let the bounded feed below finish before the
    // aggregator has consumed anything (the stop would then not be "while busy").
    await waitUntil('the services to be ready', async () => {
      const d = dead();
      if (d) throw new Error(d);
      return (await Promise.all([...current.values()].map(ready))).every(Boolean);
    });
    const producer = await clients.producer();
    const half = Math.floor(workload.length / 2);
    // Fed at a bounded rate, so the aggregator is still consuming when it is stopped (a fast aggregator would
    // otherwise finish the first half before the probe sees it busy).
    let fed = false;
    const feeding = feedEvents(producer, clients.serde, workload.slice(0, half), {
      batchSize: 100,
      ratePerSec: 500,
    }).then(() => {
      fed = true;
    });

    // 1. Aggregator: SIGTERM while it has consumed some but not all input (the feed is still going on).
    const a1 = current.get('aggregator')!;
    await waitUntil(
      'the aggregator to be busy',
      async () => (await metric(a1, 'tierstream_records_in_total')) > 0 && !fed,
    );
    await gracefulStop(a1, `input lag ${await groupLag(admin, GROUPS.aggregator, INPUT_TOPICS)}`);
    current.set('aggregator', await launch('aggregator'));
    await feeding;

    // 2. A second aggregator and a second tier engine join mid-run (partitions move to them).
    extras.push(await launch('aggregator'), await launch('tier-engine'));
    // Also at a bounded rate: the replay clock (the input watermark) then moves slowly, so the tier engine is still
    // closing days when it is stopped (it closes the days the clock allows in a moment).
    const feedingRest = feedEvents(producer, clients.serde, workload.slice(half), { batchSize: 50, ratePerSec: 200 });
    await waitUntil('the extra instances to join their groups', async () => {
      const d = dead();
      if (d) throw new Error(d);
      return (await ready(extras[0]!)) && (await ready(extras[1]!));
    });

    // 3. Tier engine: SIGTERM while it is closing days (some partition closed a day, not yet the last one).
    await waitUntil('the tier engine to be busy', async () => {
      const { closedDays } = await pipelineProgress(clients, lastDay);
      return closedDays.some((d) => d !== null) && closedDays.some((d) => d === null || d < lastDay - 20);
    });
    const progress = await pipelineProgress(clients, lastDay);
    await gracefulStop(current.get('tier-engine')!, `closed days ${JSON.stringify(progress.closedDays)}`);
    current.set('tier-engine', await launch('tier-engine'));
    await feedingRest;

    // 4. Warehouse writer: SIGTERM while it has output records to insert.
    const w1 = current.get('warehouse-writer')!;
    await waitUntil(
      'the writer to be busy',
      async () =>
        (await metric(w1, 'tierstream_records_in_total')) > 0 &&
        (await groupLag(admin, GROUPS.writer, OUTPUT_TOPICS)) > 0,
    );
    await gracefulStop(w1, `output lag ${await groupLag(admin, GROUPS.writer, OUTPUT_TOPICS)}`);
    current.set('warehouse-writer', await launch('warehouse-writer'));

    // 5. The extra instances leave (SIGTERM) while the engine still works: their partitions move back.
    await waitUntil('the restarted engine to be in the group', () => ready(current.get('tier-engine')!));
    for (const extra of extras.splice(0)) {
      const closed = (await pipelineProgress(clients, lastDay)).closedDays;
      await gracefulStop(extra, `leaving; closed days ${JSON.stringify(closed)}`);
    }

    // One undecodable record, so the surviving aggregator has a dead letter to count; then close the replay.
    await producer.send(TOPICS.orders, [{ key: 'ops-bad', value: Buffer.from('not avro at all') }]);
    await feedEvents(producer, clients.serde, [tail]);
    await sendWatermarks(admin, producer, endAt);
    await waitForPipeline(clients, endAt, { timeoutMs: 300_000, isAlive: dead });
    console.log('graceful stops:', JSON.stringify(stops));
  });

  afterAll(async () => {
    await Promise.all(all.map((i) => stopService(i.svc)));
    await clients.close();
  });

  it('every SIGTERM while busy (and every leaving member) exited 0 within the bound', () => {
    expect(stops.map((s) => s.name)).toEqual([
      'aggregator',
      'tier-engine',
      'warehouse-writer',
      'aggregator',
      'tier-engine',
    ]);
    for (const s of stops) {
      expect(s.code, JSON.stringify(s)).toBe(0);
      expect(s.ms, JSON.stringify(s)).toBeLessThan(STOP_BOUND_MS);
    }
    // The stopped instances said why they stopped (the graceful path ran, not a kill).
    for (const inst of all.filter((i) => i.svc.child.exitCode === 0)) {
      expect(
        inst.log.some((l) => l.includes('stopped cleanly')),
        inst.svc.name,
      ).toBe(true);
    }
  });

  it('Redis aggregates equal the batch oracle for every customer', async () => {
    expect(await aggregateMismatches(clients, events, endAt)).toEqual([]);
  });

  it('tier state in Redis equals the oracle for every customer', async () => {
    expect(await tierStateMismatches(clients, oracle)).toEqual([]);
  });

  it('ClickHouse holds exactly the oracle transitions, each id once (FINAL)', async () => {
    const ids = await warehouseTransitionIds(clients);
    expect(new Set(ids).size).toBe(ids.length);
    expect(new Set(ids)).toEqual(new Set(oracle.transitions.map((t) => t.transition_id)));
    expect(oracle.transitions.length).toBeGreaterThan(100);
  });

  it('the transitions topic holds every oracle transition; any duplicate record is the same transition (same id)', async () => {
    const admin = await clients.admin();
    const ends = await admin.fetchTopicOffsets(TOPICS.transitions);
    const total = ends.reduce((n, p) => n + Number(p.high) - Number(p.low), 0);
    const kafka = createKafka('ops-transitions-reader');
    const consumer = kafka.consumer({ groupId: `ops-e2e-transitions-${Date.now()}` });
    const records: TierTransition[] = [];
    await consumer.connect();
    await consumer.subscribe({ topic: TOPICS.transitions, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`read ${records.length} of ${total}`)), 60_000);
      consumer
        .run({
          eachMessage: async ({ message }) => {
            records.push((await clients.serde.decode(message.value!)).value as TierTransition);
            if (records.length >= total) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
    await consumer.disconnect();
    const expected = new Map(oracle.transitions.map((t) => [t.transition_id, t]));
    // Nothing lost: every oracle id is on the topic. Nothing extra: no id outside the oracle.
    const byId = new Map<string, TierTransition[]>();
    for (const r of records) byId.set(r.transition_id, [...(byId.get(r.transition_id) ?? []), r]);
    expect(new Set(byId.keys())).toEqual(new Set(expected.keys()));
    // At-least-once allows redelivered copies, but a copy must be the same transition: same id, same cause.
    const cause = (t: TierTransition | (typeof oracle.transitions)[number]) =>
      JSON.stringify([t.customer_id, t.dimension, t.from_tier, t.to_tier, t.reason, t.occurred_at, t.rules_version]);
    for (const [id, copies] of byId) {
      for (const c of copies) expect(cause(c), id).toBe(cause(expected.get(id)!));
    }
    // Same cause → one id: the number of distinct causes equals the number of distinct ids.
    expect(new Set(records.map(cause)).size).toBe(byId.size);
    console.log(`transitions topic: ${records.length} records, ${byId.size} distinct ids`);
  });

  it('ClickHouse tier history counts per tier per day equal the oracle', async () => {
    expect(await historyDistribution(clients, isoDay(lastDay))).toEqual(oracle.distribution);
  });

  it('/metrics of each service exposes the documented metrics, with values after work', async () => {
    const common = [
      'tierstream_records_in_total',
      'tierstream_records_out_total',
      'tierstream_dlq_total',
      'tierstream_batch_duration_seconds',
      'tierstream_consumer_lag',
    ];
    const own: Record<ServiceName, string[]> = {
      aggregator: ['tierstream_redis_call_seconds'],
      'tier-engine': ['tierstream_transitions_total', 'tierstream_sweeper_due'],
      'warehouse-writer': ['tierstream_clickhouse_call_seconds'],
    };
    const texts = new Map<ServiceName, string>();
    for (const [name, inst] of current) {
      const { status, text } = await scrape(inst);
      expect(status, name).toBe(200);
      texts.set(name, text);
      for (const m of [...common, ...own[name]]) expect(text, `${name} ${m}`).toContain(`# TYPE ${m} `);
    }
    // Work was done by these very processes (restarted mid-run, they finished the replay). The engine in replay mode
    // works from the due index, and the last signals may have been consumed by an earlier instance, so its consumer
    // counters are checked only when it consumed something.
    for (const name of ['aggregator', 'warehouse-writer'] as const) {
      const text = texts.get(name)!;
      expect(metricSum(text, 'tierstream_records_in_total'), name).toBeGreaterThan(0);
      expect(metricSum(text, 'tierstream_batch_duration_seconds_count'), name).toBeGreaterThan(0);
      // Caught up at the end: the lag gauge has samples, and they are 0.
      expect(metricSum(text, 'tierstream_consumer_lag'), name).toBe(0);
    }
    const agg = texts.get('aggregator')!;
    expect(metricSum(agg, 'tierstream_records_out_total')).toBeGreaterThan(0); // signals
    expect(metricSum(agg, 'tierstream_redis_call_seconds_count')).toBeGreaterThan(0);
    expect(agg).toMatch(/tierstream_dlq_total\{[^}]*reason="UNDECODABLE"[^}]*\} 1/);
    const engine = texts.get('tier-engine')!;
    expect(metricSum(engine, 'tierstream_records_out_total')).toBeGreaterThan(0);
    expect(metricSum(engine, 'tierstream_transitions_total')).toBeGreaterThan(0);
    // The due backlog gauge is set on every sweep; after the last day closed nothing is due any more.
    expect(metricSum(engine, 'tierstream_sweeper_due')).toBe(0);
    expect(metricSum(engine, 'tierstream_sweeper_evaluated_total')).toBeGreaterThan(0);
    const writer = texts.get('warehouse-writer')!;
    expect(metricSum(writer, 'tierstream_clickhouse_call_seconds_count')).toBeGreaterThan(0);
    expect(metricSum(writer, 'tierstream_dlq_total')).toBeNull(); // exposed, but no dead letters: no samples
    // Observable when stuck (§10): retry metrics everywhere; the aggregator's watermark per input partition and the
    // engine's day progress per signals partition, as of the end of the replay (caught up: nothing stuck).
    for (const [name, text] of texts) {
      for (const m of [
        'tierstream_batch_failures_total',
        'tierstream_batch_retries_total',
        'tierstream_partition_retrying',
      ])
        expect(text, `${name} ${m}`).toContain(`# TYPE ${m} `);
    }
    const values = (text: string, name: string) =>
      text
        .split('\n')
        .filter((l) => l.startsWith(`${name}{`))
        .map((l) => Number(l.slice(l.lastIndexOf(' ') + 1)));
    // The surviving aggregator consumed the closing watermark records of every input partition.
    expect(values(agg, 'tierstream_watermark_seconds')).toEqual(
      Array(values(agg, 'tierstream_watermark_seconds').length).fill(endAt / 1000),
    );
    expect(values(agg, 'tierstream_watermark_seconds').length).toBeGreaterThanOrEqual(INPUT_TOPICS.length);
    expect(values(engine, 'tierstream_last_closed_day_seconds')).toEqual(
      [0, 1, 2].map(() => (lastDay * 86_400_000) / 1000),
    );
    expect(metricSum(engine, 'tierstream_engine_stuck_seconds')).toBe(0);
    expect(metricSum(engine, 'tierstream_cutpoint_barrier_waiting')).toBe(0);
  });

  it('/health/live and /health/ready answer 200 while running', async () => {
    for (const [name, inst] of current) {
      const live = await scrape(inst, '/health/live');
      expect(live.status, name).toBe(200);
      const r = await scrape(inst, '/health/ready');
      expect(r.status, `${name} ${r.text}`).toBe(200);
      expect(JSON.parse(r.text)).toEqual({ status: 'ready', failing: [] });
    }
  });

  it('without Redis, the aggregator and tier engine stay up, live, and not ready naming redis; SIGTERM exits 0', async () => {
    const closedPort = await freePort(); // nothing listens there
    for (const name of ['aggregator', 'tier-engine'] as const) {
      const port = await freePort();
      const log: string[] = [];
      const svc = startService(
        name,
        {
          ...env,
          HTTP_PORT: String(port),
          REDIS_URL: `redis://127.0.0.1:${closedPort}`,
          AGGREGATOR_GROUP_ID: 'ops-no-redis',
          ENGINE_GROUP_ID: 'ops-no-redis',
        },
        (_n, line) => log.push(line),
      );
      const inst = { svc, port, log };
      all.push(inst);
      await waitUntil(
        `${name} to answer /health/ready`,
        async () => {
          if (svc.child.exitCode !== null) throw new Error(`${name} exited ${svc.child.exitCode}: ${log.join('\n')}`);
          try {
            return (await scrape(inst, '/health/ready')).status === 503;
          } catch {
            return false;
          }
        },
        60_000,
      );
      const r = await scrape(inst, '/health/ready');
      const body = JSON.parse(r.text) as { status: string; failing: string[] };
      expect(body.status).toBe('not ready');
      expect(
        body.failing.some((f) => f.startsWith('redis:')),
        r.text,
      ).toBe(true);
      expect((await scrape(inst, '/health/live')).status, name).toBe(200);
      await new Promise((res) => setTimeout(res, 1_500));
      expect(svc.child.exitCode, `${name} must not crash while Redis is away`).toBeNull();
      const started = Date.now();
      expect(await stopService(svc, 30_000), name).toBe(0);
      expect(Date.now() - started).toBeLessThan(STOP_BOUND_MS);
    }
  });
});
