/**
 * Destinations delivery bench (issue 16): `npx tsx bench/destinations.ts [--transitions 20000] [--customers 2000]
 * [--latency-seconds 20] [--concurrency 32] [--receiver-ms 5]`. Runs the destinations service as a process on the
 * local stack against a loopback webhook receiver answering 200 after `--receiver-ms`:
 *   1. throughput: `--transitions` transitions already on a topic of its own; deliveries/s from the first to the last
 *      first-time delivery (every transition delivered once at least);
 *   2. latency: transitions produced at half that rate for `--latency-seconds`; p50/p99 of produced → delivered
 *      (the receiver's clock minus the producer's send time, one host).
 * Targets: ≥ 2,000 deliveries/s and p99 ≤ 250 ms. Uses its own topics and group (deleted after); prints one JSON object.
 * Takes the stack lock in scripts (`flock /tmp/tierstream-stack.lock`); not part of `npm run bench`.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadCliConfig, type ServiceProcess, startService, stopService } from '@tierstream/cli';
import { stackEndpoints } from '@tierstream/config';
import { createAvroSerde, loadSchemas, type TierTransition, TOPICS } from '@tierstream/contracts';
import { destinationDlqTopic } from '@tierstream/destinations';
import { kafkaSecurity } from '@tierstream/kafka';
import { Kafka, logLevel } from 'kafkajs';
import { startReceiver } from '../test/support/webhook-receiver';

const { values } = parseArgs({
  options: {
    transitions: { type: 'string', default: '20000' },
    customers: { type: 'string', default: '2000' },
    'latency-seconds': { type: 'string', default: '20' },
    concurrency: { type: 'string', default: '32' },
    'receiver-ms': { type: 'string', default: '5' },
  },
});
const N = Number(values.transitions);
const CUSTOMERS = Number(values.customers);
const LATENCY_SECONDS = Number(values['latency-seconds']);
const RECEIVER_MS = Number(values['receiver-ms']);

const run = Date.now().toString(36);
const name = `bench-${run}`;
const topic = `bench_dest_transitions_${run}`;
const changes = `bench_dest_changes_${run}`;
const endpoints = stackEndpoints();
// The connection settings as the services read them (credentials and TLS: docs/security.md).
const connection = loadCliConfig();
const kafka = new Kafka({
  clientId: 'bench-destinations',
  brokers: endpoints.kafkaBrokers,
  logLevel: logLevel.ERROR,
  ...kafkaSecurity(connection),
});
const admin = kafka.admin();
const serde = createAvroSerde(connection);

let seq = 0;
function transition(customer: number, at: number): TierTransition {
  seq++;
  return {
    transition_id: `${run}-${seq}`,
    customer_id: `b${customer}`,
    dimension: 'value',
    from_tier: 'GOLD',
    to_tier: 'PLATINUM',
    direction: 'UP',
    reason: 'METRIC_CROSSED',
    rule_id: 'value.platinum',
    rules_version: 'r1',
    cutpoints_version: 'cp1',
    metrics: { revenue_365d: seq },
    occurred_at: at,
    evaluated_at: at,
  };
}

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;

async function main(): Promise<void> {
  await admin.connect();
  await admin.createTopics({
    waitForLeaders: true,
    topics: [topic, changes].map((t) => ({ topic: t, numPartitions: 3, replicationFactor: 1 })),
  });
  const schemas = loadSchemas();
  await serde.register(topic, schemas[TOPICS.transitions].text);
  await serde.register(changes, schemas[TOPICS.changes].text);
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const receiver = await startReceiver(() => ({ status: 200, delayMs: RECEIVER_MS }));
  const sentAt = new Map<string, number>();
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-destinations-'));
  writeFileSync(
    path.join(dir, `${name}.yaml`),
    `kind: webhook\nurl: ${receiver.url}\nsecret: { env: BENCH_HOOK_SECRET }\ndelivery: { concurrency: ${values.concurrency} }\n`,
  );
  let svc: ServiceProcess | undefined;
  try {
    // 1. Throughput: the backlog first, then the service.
    const batch: Array<{ key: string; value: Buffer }> = [];
    for (let i = 0; i < N; i++) {
      const t = transition(i % CUSTOMERS, Date.now());
      batch.push({ key: t.customer_id, value: await serde.encode(topic, t) });
      if (batch.length === 2_000 || i === N - 1) {
        await producer.send({ topic, messages: batch.splice(0) });
      }
    }
    const firstDelivered = new Map<string, number>();
    const track = () => {
      for (let i = trackedUpTo; i < receiver.received.length; i++) {
        const r = receiver.received[i]!;
        if (!firstDelivered.has(r.idempotencyKey)) firstDelivered.set(r.idempotencyKey, r.at);
      }
      trackedUpTo = receiver.received.length;
    };
    let trackedUpTo = 0;
    svc = startService(
      'destinations',
      {
        DESTINATIONS_DIR: dir,
        DESTINATIONS_GROUP_PREFIX: `bench-dest-${run}`,
        TRANSITIONS_TOPIC: topic,
        CHANGES_TOPIC: changes,
        BENCH_HOOK_SECRET: 'bench',
        HTTP_PORT: '0',
        LOG_LEVEL: 'warn',
      },
      (_n, line) => process.stderr.write(`destinations | ${line}\n`),
    );
    const deadline = Date.now() + 300_000;
    while (firstDelivered.size < N && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      track();
    }
    const times = [...firstDelivered.values()].sort((a, b) => a - b);
    const throughputSeconds = (times[times.length - 1]! - times[0]!) / 1000;
    const deliveriesPerSecond = Math.round((firstDelivered.size - 1) / throughputSeconds);

    // 2. Latency at half that rate: steady production in 20 ms ticks.
    const rate = Math.max(1, Math.floor(deliveriesPerSecond / 2));
    const latencyStart = Date.now();
    const latencyKeys: string[] = [];
    let produced = 0;
    while (Date.now() - latencyStart < LATENCY_SECONDS * 1000) {
      const due = Math.floor(((Date.now() - latencyStart) / 1000) * rate);
      const messages: Array<{ key: string; value: Buffer }> = [];
      const ids: string[] = [];
      for (; produced < due; produced++) {
        const t = transition(produced % CUSTOMERS, Date.now());
        messages.push({ key: t.customer_id, value: await serde.encode(topic, t) });
        ids.push(t.transition_id);
      }
      if (messages.length > 0) {
        await producer.send({ topic, messages });
        const now = Date.now();
        for (const id of ids) sentAt.set(id, now);
        latencyKeys.push(...ids);
      }
      await new Promise((r) => setTimeout(r, 20));
      track();
    }
    const end = Date.now() + 30_000;
    while (latencyKeys.some((k) => !firstDelivered.has(k)) && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 100));
      track();
    }
    const latencies = latencyKeys
      .filter((k) => firstDelivered.has(k))
      .map((k) => firstDelivered.get(k)! - sentAt.get(k)!)
      .sort((a, b) => a - b);
    const result = {
      receiverMs: RECEIVER_MS,
      concurrency: Number(values.concurrency),
      throughput: {
        transitions: N,
        delivered: firstDelivered.size - latencyKeys.length,
        seconds: throughputSeconds,
        deliveriesPerSecond,
      },
      latency: {
        ratePerSecond: rate,
        seconds: LATENCY_SECONDS,
        produced: latencyKeys.length,
        delivered: latencies.length,
        p50Ms: quantile(latencies, 0.5),
        p99Ms: quantile(latencies, 0.99),
        maxMs: latencies[latencies.length - 1],
      },
      duplicates: receiver.received.length - firstDelivered.size,
      targets: { deliveriesPerSecond: 2_000, p99Ms: 250 },
      withinTargets: deliveriesPerSecond >= 2_000 && quantile(latencies, 0.99) <= 250,
    };
    console.log(JSON.stringify(result, null, 2));
  } finally {
    if (svc) await stopService(svc);
    await receiver.close();
    await producer.disconnect();
    await admin.deleteTopics({ topics: [topic, changes, destinationDlqTopic(name)] }).catch(() => undefined);
    await admin.disconnect();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
