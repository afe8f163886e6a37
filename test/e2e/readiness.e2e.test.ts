import {
  bootstrapPipeline,
  Clients,
  feedEvents,
  GROUPS,
  resetPipelineData,
  type ServiceName,
  type ServiceProcess,
  sendWatermarks,
  startService,
  stopService,
} from '@tierstream/cli';
import { TOPICS } from '@tierstream/contracts';
import { generateWorkload, resolveOptions } from '@tierstream/generator';
import { dayOf, endOfDay } from '@tierstream/tierstate';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/free-port';
import { createKafka, createTestRedis, createTopics, testEndpoints, uniqueName } from '../support/stack';
import { startTcpProxy } from '../support/tcp-proxy';

/**
 * Readiness as an operator sees it (docs/operations.md §9): the services run as processes over the real stack, in
 * names of their own (topics, group ids, Redis prefix), so they see no other test's data.
 */

interface Instance {
  name: ServiceName;
  svc: ServiceProcess;
  port: number;
  log: string[];
}

const started: Instance[] = [];

async function launch(name: ServiceName, env: Record<string, string>): Promise<Instance> {
  const port = await freePort();
  const log: string[] = [];
  const svc = startService(name, { LOG_LEVEL: 'info', ...env, HTTP_PORT: String(port) }, (_n, line) => log.push(line));
  const inst = { name, svc, port, log };
  started.push(inst);
  return inst;
}

async function readiness(inst: Instance): Promise<{ status: number; failing: string[] } | null> {
  try {
    const res = await fetch(`http://127.0.0.1:${inst.port}/health/ready`, { signal: AbortSignal.timeout(5_000) });
    const body = (await res.json()) as { failing: string[] };
    return { status: res.status, failing: body.failing };
  } catch {
    return null; // not listening yet
  }
}

async function waitUntil(what: string, probe: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const alive = (inst: Instance) => {
  if (inst.svc.child.exitCode !== null)
    throw new Error(`${inst.name} exited ${inst.svc.child.exitCode}: ${inst.log.slice(-8).join('\n')}`);
};

afterAll(async () => {
  await Promise.all(started.map((i) => stopService(i.svc)));
});

describe('a service started while Kafka and the schema registry are down', () => {
  const redis = createTestRedis('ready_wait');
  afterAll(() => redis.cleanup());

  it('waits (live, not ready naming kafka and the registry), then becomes ready once they answer; for all three services', async () => {
    const endpoints = testEndpoints();
    const kafka = createKafka();
    const admin = kafka.admin();
    await admin.connect();
    const t = {
      signals: uniqueName('rw_signals'),
      transitions: uniqueName('rw_transitions'),
      changes: uniqueName('rw_changes'),
      snapshots: uniqueName('rw_snapshots'),
      cutpoints: uniqueName('rw_cutpoints'),
    };
    // Every topic the services wait for at start: theirs and the dead-letter topics they may write to.
    const topics = Object.values(t).flatMap((name) => [name, `${name}.dlq`]);
    await createTopics(admin, topics, 1);
    await admin.disconnect();
    // Nothing listens on these ports until the proxies open: Kafka and the registry are "down".
    const kafkaPort = await freePort();
    const registryPort = await freePort();
    const registry = new URL(endpoints.schemaRegistryUrl);
    const env = {
      KAFKA_BROKERS: `127.0.0.1:${kafkaPort}`,
      SCHEMA_REGISTRY_URL: `http://127.0.0.1:${registryPort}${registry.pathname}`,
      REDIS_PREFIX: redis.keyPrefix.slice(0, -1),
      SIGNALS_TOPIC: t.signals,
      TRANSITIONS_TOPIC: t.transitions,
      CHANGES_TOPIC: t.changes,
      SNAPSHOTS_TOPIC: t.snapshots,
      CUTPOINTS_TOPIC: t.cutpoints,
      // The least busy input topic: once ready, the aggregator consumes it under a group of its own (stopped at once).
      AGGREGATOR_TOPICS: TOPICS.tickets,
      AGGREGATOR_GROUP_ID: uniqueName('rw_agg'),
      ENGINE_GROUP_ID: uniqueName('rw_engine'),
      WRITER_GROUP_ID: uniqueName('rw_writer'),
    };
    const instances = [
      await launch('aggregator', env),
      await launch('tier-engine', env),
      await launch('warehouse-writer', env),
    ];
    for (const inst of instances) {
      await waitUntil(
        `${inst.name} to report what it waits for`,
        async () => {
          alive(inst);
          const r = await readiness(inst);
          return (
            r?.status === 503 &&
            r.failing.some((f) => /^waiting for kafka: .*ECONNREFUSED/.test(f)) &&
            r.failing.some((f) => /^waiting for schema registry: .*ECONNREFUSED/.test(f))
          );
        },
        30_000,
      );
    }
    // Longer than kafkajs' own connection retries (~10 s with this project's client settings), after which the
    // start used to throw and the process exit 1.
    await new Promise((r) => setTimeout(r, 25_000));
    for (const inst of instances) {
      alive(inst);
      const live = await fetch(`http://127.0.0.1:${inst.port}/health/live`);
      expect(live.status, inst.name).toBe(200);
      const r = await readiness(inst);
      expect(r?.status, inst.name).toBe(503);
      expect(
        r?.failing.some((f) => f.startsWith('waiting for kafka: ')),
        `${inst.name} ${r?.failing}`,
      ).toBe(true);
    }
    // Kafka and the registry come back (the broker advertises its own address: only the bootstrap goes through
    // the proxy).
    const proxies = [
      await startTcpProxy(kafkaPort, endpoints.kafkaBrokers[0]!),
      await startTcpProxy(registryPort, registry.host),
    ];
    try {
      for (const inst of instances) {
        await waitUntil(
          `${inst.name} to become ready`,
          async () => {
            alive(inst);
            return (await readiness(inst))?.status === 200;
          },
          90_000,
        );
      }
      for (const inst of instances) expect(await stopService(inst.svc, 30_000), inst.name).toBe(0);
    } finally {
      await Promise.all(proxies.map((p) => p.close()));
      await admin.connect();
      await admin.deleteTopics({ topics }).catch(() => undefined);
      await admin.disconnect();
    }
  });
});

/** Samples of one metric in Prometheus text, by the value of one label. */
function samples(text: string, name: string, label: string): Map<string, number> {
  const out = new Map<string, number>();
  const re = new RegExp(`^${name}\\{([^}]*)\\} (\\S+)$`);
  for (const line of text.split('\n')) {
    const m = re.exec(line);
    if (!m) continue;
    const value = new RegExp(`${label}="([^"]*)"`).exec(m[1]!)?.[1];
    if (value !== undefined) out.set(value, Number(m[2]));
  }
  return out;
}

describe('a tier engine whose cut-point barrier waits on a partition no engine sweeps', () => {
  const clients = new Clients();
  const STUCK_LIMIT_MS = 8_000;
  afterAll(() => clients.close());

  it('turns not ready within ENGINE_STUCK_LIMIT_MS naming partition, day and the missing partitions; ready again once they are swept', async () => {
    await resetPipelineData(clients);
    await bootstrapPipeline(clients);
    const admin = await clients.admin();
    // Something else in the engine's consumer group (a stray deployment, an old version) takes some signals
    // partitions and never sweeps them: the only real engine cannot pass the first cut-point barrier.
    const kafka = createKafka('stuck-e2e-stray');
    const stray = kafka.consumer({ groupId: GROUPS.engine, sessionTimeout: 10_000 });
    let strayPartitions: number[] = [];
    stray.on(stray.events.GROUP_JOIN, (e) => {
      strayPartitions = [...(e.payload.memberAssignment[TOPICS.signals] ?? [])].sort();
    });
    await stray.connect();
    await stray.subscribe({ topics: [TOPICS.signals] });
    await stray.run({ autoCommit: false, eachBatch: async () => undefined }); // reads on, never commits or sweeps
    await waitUntil('the stray member to join', async () => strayPartitions.length === 3, 30_000);
    const env = { CLOCK_MODE: 'replay', CUTPOINTS_EVERY_DAYS: '7', ENGINE_STUCK_LIMIT_MS: String(STUCK_LIMIT_MS) };
    const aggregator = await launch('aggregator', env);
    const engine = await launch('tier-engine', env);
    let strayLeft = false;
    try {
      await waitUntil(
        'the engine to join the group beside the stray member',
        async () => {
          alive(engine);
          return (await readiness(engine))?.status === 200 && strayPartitions.length > 0 && strayPartitions.length < 3;
        },
        60_000,
      );
      const missing = strayPartitions;
      const producer = await clients.producer();
      const workload = [...generateWorkload('tiny')];
      const options = resolveOptions('tiny');
      const endAt = endOfDay(dayOf(typeof options.end === 'number' ? options.end : Date.parse(options.end)));
      await feedEvents(producer, clients.serde, workload);
      await sendWatermarks(admin, producer, endAt);
      // The barrier wait begins when the engine's own partitions have closed the first cut-point day.
      let waitingSince = 0;
      let notReadyAfterMs = 0;
      let failing: string[] = [];
      await waitUntil(
        'the engine to report the stuck barrier',
        async () => {
          alive(engine);
          const text = await (await fetch(`http://127.0.0.1:${engine.port}/metrics`)).text();
          const waiting = [...samples(text, 'tierstream_cutpoint_barrier_waiting', 'partition').values()];
          if (waitingSince === 0 && waiting.some((v) => v === 1)) waitingSince = Date.now();
          const r = await readiness(engine);
          if (r?.status !== 503) return false;
          failing = r.failing;
          notReadyAfterMs = Date.now() - waitingSince;
          return true;
        },
        180_000,
      );
      console.log('engine not ready after', notReadyAfterMs, 'ms of barrier wait:', JSON.stringify(failing));
      expect(waitingSince, 'the barrier wait was visible in the metrics first').toBeGreaterThan(0);
      // Not ready once the limit has passed, not before; and promptly (the probes poll every 250 ms).
      expect(notReadyAfterMs).toBeGreaterThan(STUCK_LIMIT_MS - 1_500);
      expect(notReadyAfterMs).toBeLessThan(STUCK_LIMIT_MS + 5_000);
      const stuck = failing.filter((f) => f.startsWith('tier-engine: partition '));
      expect(stuck.length, failing.join('\n')).toBeGreaterThan(0);
      const which = missing.length === 1 ? 'partition' : 'partitions';
      for (const f of stuck) {
        expect(f).toMatch(
          /has not closed \d{4}-\d{2}-\d{2} for \d+ s \(limit 8 s\): the cut-point barrier of \d{4}-\d{2}-\d{2}/,
        );
        expect(f).toContain(`waits for ${which} ${missing.join(', ')} `);
      }
      const text = await (await fetch(`http://127.0.0.1:${engine.port}/metrics`)).text();
      const missingGauge = samples(text, 'tierstream_cutpoint_barrier_missing', 'partition');
      for (let p = 0; p < 3; p++)
        expect(missingGauge.get(String(p)), `partition ${p}`).toBe(missing.includes(p) ? 1 : 0);
      const closed = samples(text, 'tierstream_last_closed_day_seconds', 'partition');
      for (let p = 0; p < 3; p++) expect(closed.has(String(p)), `partition ${p}`).toBe(!missing.includes(p));
      const stuckSeconds = samples(text, 'tierstream_engine_stuck_seconds', 'partition');
      expect(Math.max(...stuckSeconds.values())).toBeGreaterThan(STUCK_LIMIT_MS / 1000 - 1.5);
      // The stray member leaves: the engine gets every partition, they catch up, the barrier opens: ready again.
      await stray.disconnect();
      strayLeft = true;
      await waitUntil(
        'the engine to be ready again',
        async () => {
          alive(engine);
          return (await readiness(engine))?.status === 200;
        },
        120_000,
      );
      expect(await stopService(engine.svc, 30_000)).toBe(0);
      expect(await stopService(aggregator.svc, 30_000)).toBe(0);
    } finally {
      if (!strayLeft) await stray.disconnect();
    }
  });
});
