import { type ServiceName, type ServiceProcess, startService, stopService } from '@tierstream/cli';
import { TOPICS } from '@tierstream/contracts';
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
    };
    await createTopics(admin, Object.values(t), 1);
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
      // The least busy input topic: once ready, the aggregator consumes it under a group of its own (stopped at once).
      AGGREGATOR_TOPICS: TOPICS.tickets,
      INPUT_TOPICS: t.signals,
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
    // Longer than kafkajs' own connection retries (~20 s with this project's client settings), after which the
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
    }
  });
});
