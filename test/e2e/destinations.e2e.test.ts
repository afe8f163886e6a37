/**
 * The destinations service as a process on the real stack (Kafka, schema registry), delivering to a webhook
 * receiver this test runs on 127.0.0.1 with injected faults: 500s, 429 with Retry-After, answers slower than the
 * timeout, connection refused (the receiver is down at first), a poison item answered 410 and one answered 500
 * forever, and a kill -9 of the service in the middle of delivery. Transitions are produced (Avro, keyed by customer)
 * to a topic of this test, so the test needs no pipeline and sees no other test's data.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  bootstrapPipeline,
  Clients,
  groupLag,
  killService,
  resetPipelineData,
  type ServiceProcess,
  startService,
  stopService,
  waitForPipeline,
} from '@tierstream/cli';
import { isLocalStackEndpoint, stackEndpoints } from '@tierstream/config';
import { AvroSerde, loadSchemas, type TierTransition, TOPICS } from '@tierstream/contracts';
import { destinationDlqTopic, verifySignature } from '@tierstream/destinations';
import type { DestinationDeadLetter } from '@tierstream/service-destinations';
import { TierStateStore } from '@tierstream/tierstate';
import type { Admin, Kafka, Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startZohoServer } from '../support/crm-server';
import { freePort } from '../support/free-port';
import { readTopic, startPipeline, tierctl } from '../support/journeys';
import { createKafka, createSchemaRegistry, createTopics, testEndpoints, uniqueName } from '../support/stack';
import { type Fault, type Received, startReceiver } from '../support/webhook-receiver';

const SECRET = 'e2e-webhook-secret';
const RUN = randomBytes(3).toString('hex');
const NAME = `e2e-hook-${RUN}`;
const CUSTOMERS = 24;
const PER_CUSTOMER = 5;

let kafka: Kafka;
let admin: Admin;
let producer: Producer;
let serde: AvroSerde;
const transitionsTopic = uniqueName('e2e_dest_transitions');
const changesTopic = uniqueName('e2e_dest_changes');

beforeAll(async () => {
  kafka = createKafka();
  admin = kafka.admin();
  await admin.connect();
  await createTopics(admin, [transitionsTopic, changesTopic]);
  serde = new AvroSerde(createSchemaRegistry(), { registryUrl: testEndpoints().schemaRegistryUrl });
  const schemas = loadSchemas();
  await serde.register(transitionsTopic, schemas[TOPICS.transitions].text);
  await serde.register(changesTopic, schemas[TOPICS.changes].text);
  producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
});

afterAll(async () => {
  await producer?.disconnect();
  const existing = new Set((await admin?.listTopics()) ?? []);
  const ours = [transitionsTopic, changesTopic, destinationDlqTopic(NAME)].filter((t) => existing.has(t));
  if (ours.length > 0) await admin?.deleteTopics({ topics: ours }).catch(() => undefined);
  await admin?.disconnect();
});

function transition(customer: string, n: number, reason = 'METRIC_CROSSED'): TierTransition {
  const tiers = ['BRONZE', 'SILVER', 'GOLD', 'PLATINUM'];
  return {
    transition_id: `${RUN}-${customer}-${n}`,
    customer_id: customer,
    dimension: 'value',
    from_tier: n === 0 ? null : tiers[(n - 1) % 4]!,
    to_tier: tiers[n % 4]!,
    direction: n === 0 ? 'ENTER' : 'UP',
    reason,
    rule_id: 'value.share',
    rules_version: 'r1',
    cutpoints_version: 'cp1',
    metrics: { revenue_365d: 100 * n },
    occurred_at: 1_780_000_000_000 + n * 60_000,
    evaluated_at: 1_780_000_000_000 + n * 60_000,
  };
}

/** Per customer, the sequence numbers of the transitions in the order the receiver first saw each. */
function firstSeenOrder(received: Received[]): Map<string, number[]> {
  const seen = new Set<string>();
  const order = new Map<string, number[]>();
  for (const r of received) {
    if (seen.has(r.idempotencyKey)) continue;
    seen.add(r.idempotencyKey);
    const [, customer, n] = r.idempotencyKey.split('-');
    order.set(customer!, [...(order.get(customer!) ?? []), Number(n)]);
  }
  return order;
}

async function readDeadLetters(topic: string): Promise<DestinationDeadLetter[]> {
  const ends = await admin.fetchTopicOffsets(topic);
  const total = ends.reduce((n, p) => n + Number(BigInt(p.high) - BigInt(p.low)), 0);
  const out: DestinationDeadLetter[] = [];
  if (total === 0) return out;
  const consumer = kafka.consumer({ groupId: uniqueName('e2e_dlq_reader') });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out reading ${topic}`)), 60_000);
    consumer
      .run({
        eachMessage: async ({ message }) => {
          out.push(JSON.parse(message.value!.toString('utf8')) as DestinationDeadLetter);
          if (out.length >= total) {
            clearTimeout(timer);
            resolve();
          }
        },
      })
      .catch(reject);
  });
  await consumer.disconnect();
  return out;
}

describe('destinations service (webhook)', () => {
  it('delivers every passing transition through faults and a kill -9, per customer in order, signed; poison items in the DLQ', async () => {
    const customers = Array.from({ length: CUSTOMERS }, (_, i) => `c${String(i).padStart(2, '0')}`);
    const all = customers.flatMap((c) =>
      Array.from({ length: PER_CUSTOMER }, (_, n) =>
        transition(c, n, n === 3 && c < 'c06' ? 'RULES_CHANGED' : 'METRIC_CROSSED'),
      ),
    );
    const passing = all.filter((t) => t.reason !== 'RULES_CHANGED');
    const poison410 = `${RUN}-c07-1`;
    const poison500 = `${RUN}-c08-2`;
    // What the receiver answers the n-th time it sees a key (deterministic per key).
    const plan = (key: string, n: number): Fault | undefined => {
      if (key === poison410) return { status: 410, body: 'gone: unsubscribed' };
      if (key === poison500) return { status: 500, body: 'always broken' };
      const h = Number.parseInt(key.split('-')[1]!.slice(1), 10) + Number(key.split('-')[2]);
      if (n === 1 && h % 5 === 0) return { status: 500, body: 'transient' };
      if (n === 1 && h % 5 === 1) return { status: 429, headers: { 'retry-after': '1' } };
      if (n === 1 && h % 5 === 2) return { status: 200, delayMs: 1_500 }; // past the 700 ms timeout
      return { status: 200, delayMs: 5 };
    };
    const port = await freePort();
    const dir = mkdtempSync(path.join(tmpdir(), 'e2e-destinations-'));
    writeFileSync(
      path.join(dir, `${NAME}.yaml`),
      `kind: webhook
url: http://127.0.0.1:${port}/hooks/tiers
secret: { env: E2E_HOOK_SECRET }
headers: { X-Test-Run: "${RUN}" }
filter: { exclude_reasons: [RULES_CHANGED] }
delivery:
  timeout_ms: 700
  max_attempts: 6
  initial_backoff_ms: 100
  max_backoff_ms: 1500
  concurrency: 8
  breaker_failures: 8
  breaker_open_ms: 1000
`,
    );
    const env = {
      DESTINATIONS_DIR: dir,
      DESTINATIONS_GROUP_PREFIX: `e2e-dest-${RUN}`,
      TRANSITIONS_TOPIC: transitionsTopic,
      CHANGES_TOPIC: changesTopic,
      E2E_HOOK_SECRET: SECRET,
      HTTP_PORT: '0',
      LOG_LEVEL: 'warn',
      MAX_BYTES_PER_PARTITION: '4096',
    };
    const logs: string[] = [];
    const start = () =>
      startService('destinations', env, (_n, line) => {
        logs.push(line);
        if (logs.length > 200) logs.shift();
      });

    await producer.send({
      topic: transitionsTopic,
      messages: await Promise.all(
        all.map(async (t) => ({ key: t.customer_id, value: await serde.encode(transitionsTopic, t) })),
      ),
    });
    // The receiver is down at first: connection refused, retries, the breaker opens and probes.
    let svc: ServiceProcess = start();
    let second: ServiceProcess | undefined;
    await new Promise((r) => setTimeout(r, 3_000));
    expect(svc.child.exitCode, logs.join('\n')).toBeNull();
    const receiver = await startReceiver(plan, port);
    try {
      const delivered = () => new Set(receiver.received.filter((r) => r.status === 200).map((r) => r.idempotencyKey));
      // kill -9 in the middle of delivery, then start again: the uncommitted batches are delivered again.
      const deadline = Date.now() + 60_000;
      while (delivered().size < passing.length / 3 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 50));
      expect(delivered().size, logs.join('\n')).toBeGreaterThan(0);
      await killService(svc);
      const beforeRestart = receiver.received.length;
      svc = start();
      // A second instance joins while the first delivers: a consumer rebalance moves partitions mid-batch.
      await new Promise((r) => setTimeout(r, 1_500));
      second = start();
      const wanted = passing.map((t) => t.transition_id).filter((k) => k !== poison410 && k !== poison500);
      const end = Date.now() + 120_000;
      while (wanted.some((k) => !delivered().has(k)) && Date.now() < end) {
        expect(svc.child.exitCode, logs.join('\n')).toBeNull();
        expect(second.child.exitCode, logs.join('\n')).toBeNull();
        await new Promise((r) => setTimeout(r, 200));
      }
      // Both instances are members of the group: the second one's join rebalanced the partitions. (The killed one
      // stays a member until its session times out, 30 s: delivery may be done before that.)
      let members = 0;
      for (let i = 0; i < 100 && members !== 2; i++) {
        members = (await admin.describeGroups([`e2e-dest-${RUN}.${NAME}`])).groups[0]?.members.length ?? 0;
        if (members !== 2) await new Promise((r) => setTimeout(r, 500));
      }
      expect(members).toBe(2);
      const missing = wanted.filter((k) => !delivered().has(k));
      expect(missing, logs.slice(-30).join('\n')).toEqual([]);
      expect(receiver.received.length).toBeGreaterThan(beforeRestart);

      // Nothing filtered out reached the receiver; every request's body is the transition its key names.
      const filtered = new Set(all.filter((t) => t.reason === 'RULES_CHANGED').map((t) => t.transition_id));
      expect(receiver.received.filter((r) => filtered.has(r.idempotencyKey))).toEqual([]);
      for (const r of receiver.received) {
        const body = JSON.parse(r.body) as { id: string; transition: { transition_id: string } };
        expect(body.id).toBe(r.idempotencyKey);
        expect(body.transition.transition_id).toBe(r.idempotencyKey);
        expect(verifySignature(SECRET, r.signature, r.body, Date.now())).toMatchObject({ ok: true });
        expect(verifySignature(SECRET, r.signature, r.body.replace('"value"', '"VALUE"'), Date.now())).toEqual({
          ok: false,
          reason: 'mismatch',
        });
      }
      // Faults happened: duplicates (same key, later attempt) after 500s, 429s, timeouts and the kill.
      const keys = receiver.received.map((r) => r.idempotencyKey);
      expect(keys.length).toBeGreaterThan(new Set(keys).size);
      // Per customer, first deliveries in transition order (the poison items included: they were tried in turn).
      const expected = new Map<string, number[]>();
      for (const t of passing) {
        const n = Number(t.transition_id.split('-')[2]);
        expected.set(t.customer_id, [...(expected.get(t.customer_id) ?? []), n]);
      }
      expect(firstSeenOrder(receiver.received)).toEqual(expected);

      // The poison items: in the destination's dead-letter topic with their reason, status and attempts.
      // SIGTERM: both stop cleanly (exit 0) once their batches are done.
      expect(await Promise.all([stopService(svc), stopService(second)])).toEqual([0, 0]);
      const letters = await readDeadLetters(destinationDlqTopic(NAME));
      const byKey = new Map(letters.map((l) => [l.idempotency_key, l]));
      expect(byKey.get(poison410)).toMatchObject({
        reason: 'NON_RETRIABLE_STATUS',
        status: 410,
        body_excerpt: 'gone: unsubscribed',
        attempts: 1,
        customer_id: 'c07',
      });
      expect(byKey.get(poison500)).toMatchObject({ reason: 'ATTEMPTS_EXHAUSTED', status: 500, attempts: 6 });
      expect([...byKey.keys()].sort()).toEqual([poison410, poison500].sort());
      // The customer's later transitions were delivered after its dead letter (delivery continues).
      expect(delivered().has(`${RUN}-c07-2`) && delivered().has(`${RUN}-c08-3`)).toBe(true);
    } finally {
      await killService(svc);
      if (second) await killService(second);
      await receiver.close();
    }
  });
});

describe('destinations service (webhook, shutdown)', () => {
  it('SIGTERM while an item is being retried: exit 0 promptly; it stays parked and after a restart it is delivered', async () => {
    const name = `e2e-stop-${RUN}`;
    const customer = 'stop-c1';
    // Its own dimension: the filter keeps the other tests' transitions on the shared topic out.
    const t = { ...transition(customer, 1), transition_id: `${RUN}-stop-1`, dimension: 'stop' };
    let failing = true;
    const receiver = await startReceiver(() => (failing ? { status: 503, body: 'not yet' } : undefined));
    const dir = mkdtempSync(path.join(tmpdir(), 'e2e-stop-'));
    writeFileSync(
      path.join(dir, `${name}.yaml`),
      `kind: webhook
url: ${receiver.url}
secret: { env: E2E_HOOK_SECRET }
filter: { dimensions: [stop] }
delivery: { max_attempts: 100, initial_backoff_ms: 100, max_backoff_ms: 200, breaker_failures: 1000 }
`,
    );
    const env = {
      DESTINATIONS_DIR: dir,
      DESTINATIONS_GROUP_PREFIX: `e2e-stop-${RUN}`,
      TRANSITIONS_TOPIC: transitionsTopic,
      CHANGES_TOPIC: changesTopic,
      E2E_HOOK_SECRET: SECRET,
      HTTP_PORT: '0',
      LOG_LEVEL: 'warn',
    };
    await producer.send({
      topic: transitionsTopic,
      messages: [{ key: customer, value: await serde.encode(transitionsTopic, t) }],
    });
    const seen = () => receiver.received.filter((r) => r.idempotencyKey === t.transition_id);
    let svc = startService('destinations', env);
    try {
      const deadline = Date.now() + 60_000;
      while (seen().length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(seen().length).toBeGreaterThanOrEqual(3);
      const stoppedAt = Date.now();
      expect(await stopService(svc)).toBe(0);
      expect(Date.now() - stoppedAt).toBeLessThan(15_000);
      failing = false;
      const before = seen().length;
      svc = startService('destinations', env);
      const end = Date.now() + 60_000;
      while (!seen().some((r) => r.status === 200) && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
      expect(seen().length).toBeGreaterThan(before);
      expect(seen().some((r) => r.status === 200)).toBe(true);
    } finally {
      await killService(svc);
      await receiver.close();
      await admin.deleteTopics({ topics: [destinationDlqTopic(name)] }).catch(() => undefined);
    }
  });
});

describe('destinations service (webhook, parking)', () => {
  it("while customer A's receiver fails, B's later batches of the same partition are delivered promptly; A's are delivered later in order, also across a kill -9", async () => {
    const name = `e2e-park-${RUN}`;
    const group = `e2e-park-${RUN}`;
    // Customers pa and pb; their own dimension keeps the other tests' transitions on the shared topic out.
    const tx = (c: string, n: number) => ({
      ...transition(c, n),
      transition_id: `${RUN}-${c}-${n}`,
      dimension: 'park',
    });
    let failingA = true;
    const receiver = await startReceiver((key) =>
      failingA && key.includes('-pa-') ? { status: 500, body: 'A is down' } : { status: 200, delayMs: 5 },
    );
    const dir = mkdtempSync(path.join(tmpdir(), 'e2e-park-'));
    writeFileSync(
      path.join(dir, `${name}.yaml`),
      `kind: webhook
url: ${receiver.url}
secret: { env: E2E_HOOK_SECRET }
filter: { dimensions: [park] }
delivery: { timeout_ms: 700, max_attempts: 100, initial_backoff_ms: 200, max_backoff_ms: 1000, breaker_failures: 100000 }
`,
    );
    const env = {
      DESTINATIONS_DIR: dir,
      DESTINATIONS_GROUP_PREFIX: group,
      TRANSITIONS_TOPIC: transitionsTopic,
      CHANGES_TOPIC: changesTopic,
      E2E_HOOK_SECRET: SECRET,
      HTTP_PORT: '0',
      LOG_LEVEL: 'warn',
    };
    const logs: string[] = [];
    const start = () =>
      startService('destinations', env, (_n, line) => {
        logs.push(line);
        if (logs.length > 200) logs.shift();
      });
    // Every record in partition 0: A's and B's transitions share one partition, batches follow each other.
    const send = async (ts: TierTransition[]) =>
      producer.send({
        topic: transitionsTopic,
        messages: await Promise.all(
          ts.map(async (t) => ({ key: t.customer_id, partition: 0, value: await serde.encode(transitionsTopic, t) })),
        ),
      });
    const of = (key: string) => receiver.received.filter((r) => r.idempotencyKey === key);
    const delivered = (key: string) => of(key).some((r) => r.status === 200);
    const waitFor = async (what: string, ok: () => boolean | Promise<boolean>, ms: number) => {
      const deadline = Date.now() + ms;
      while (!(await ok())) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${logs.slice(-20).join('\n')}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    let svc = start();
    try {
      await send([tx('pa', 0)]);
      await waitFor('A-0 to be tried twice', () => of(`${RUN}-pa-0`).length >= 2, 60_000);
      // Later batches, each with a B transition and an A transition: B's go at once, A's are parked behind A-0.
      const latencies: number[] = [];
      for (let i = 0; i < 4; i++) {
        const sentAt = Date.now();
        await send([tx('pb', i), tx('pa', i + 1)]);
        await waitFor(`B-${i} to be delivered`, () => delivered(`${RUN}-pb-${i}`), 10_000);
        latencies.push(of(`${RUN}-pb-${i}`).find((r) => r.status === 200)!.at - sentAt);
      }
      expect(Math.max(...latencies), JSON.stringify(latencies)).toBeLessThan(3_000);
      // A's later transitions were not sent before A-0 is done; the batches were committed once parked.
      expect(receiver.received.filter((r) => /-pa-[1-9]$/.test(r.idempotencyKey))).toEqual([]);
      await waitFor(
        'the group to commit past the parked items',
        async () => (await groupLag(admin, `${group}.${name}`, [transitionsTopic]).catch(() => -1)) === 0,
        15_000,
      );

      // kill -9 while A is parked; nothing is lost: after a restart A's items are delivered, in order.
      await killService(svc);
      const triedBeforeRestart = of(`${RUN}-pa-0`).length;
      svc = start();
      await waitFor('A-0 to be tried after the restart', () => of(`${RUN}-pa-0`).length > triedBeforeRestart, 30_000);
      failingA = false;
      await waitFor(
        'A-0..A-4 to be delivered',
        () => [0, 1, 2, 3, 4].every((n) => delivered(`${RUN}-pa-${n}`)),
        60_000,
      );
      expect(firstSeenOrder(receiver.received).get('pa')).toEqual([0, 1, 2, 3, 4]);
      // Per A transition, requests stop at its 200 (then the next one goes): its last request is the 200.
      const a = receiver.received.filter((r) => r.idempotencyKey.includes('-pa-'));
      const lastA = new Map(a.map((r) => [r.idempotencyKey, r.status]));
      expect([...lastA.values()]).toEqual([200, 200, 200, 200, 200]);
      for (const r of a) {
        const body = JSON.parse(r.body) as { id: string; transition: { customer_id: string } };
        expect(body.id).toBe(r.idempotencyKey);
        expect(body.transition.customer_id).toBe('pa');
        expect(verifySignature(SECRET, r.signature, r.body, Date.now())).toMatchObject({ ok: true });
      }
      expect(await stopService(svc)).toBe(0);
    } finally {
      await killService(svc);
      await receiver.close();
      await admin.deleteTopics({ topics: [destinationDlqTopic(name)] }).catch(() => undefined);
    }
  });
});

describe('destinations service (crm-upsert, zoho-crm template)', () => {
  const TINY_END = '2026-06-30T23:59:59.999Z';
  const clients = new Clients();
  afterAll(() => clients.close());

  it("after a replay of the tiny workload, every CRM record holds the customer's current tiers from Redis", async () => {
    await resetPipelineData(clients);
    await bootstrapPipeline(clients);
    const brokers = stackEndpoints().kafkaBrokers.join(',');
    const wipe = isLocalStackEndpoint('kafka', brokers) ? [] : ['--i-know-this-wipes', brokers];
    const gen = await tierctl(['gen', '--profile', 'tiny', '--end-at', TINY_END, '--json', ...wipe]);
    expect(gen.code, gen.stderr).toBe(0);
    const pipeline = startPipeline({ SWEEP_INTERVAL_MS: '20' });
    try {
      await waitForPipeline(clients, Date.parse(TINY_END), { timeoutMs: 240_000, isAlive: pipeline.isAlive });
    } finally {
      await pipeline.stop();
    }

    // The customers and their current tiers, straight from Redis (the oracle).
    const ids = [...new Set((await readTopic(clients, TOPICS.changes)).map((r) => r.key!).filter(Boolean))].sort();
    const states = await new TierStateStore(clients.redis, clients.redisPrefix).readStates(ids);
    expect(states.size).toBe(ids.length);
    const dimensions = [...new Set([...states.values()].flatMap((s) => Object.keys(s.tiers)))].sort();
    expect(dimensions.length).toBeGreaterThan(1);
    const field = (d: string) => `${d[0]!.toUpperCase()}${d.slice(1)}_Tier`;
    const picklist: Record<string, string> = { PLATINUM: 'Platinum', GOLD: 'Gold', SILVER: 'Silver', BRONZE: 'Bronze' };
    const refused = ids[0]!;

    // A Zoho-shaped CRM: at most 10 records per call (we ask for 25), every 4th request a 429 with Retry-After,
    // one customer refused in the 200 (INVALID_DATA).
    const zoho = await startZohoServer({
      maxBatch: 10,
      rateLimitEvery: 4,
      retryAfter: true,
      rejectIds: new Set([refused]),
    });
    const name = `e2e-zoho-${RUN}`;
    const dir = mkdtempSync(path.join(tmpdir(), 'e2e-crm-'));
    writeFileSync(
      path.join(dir, `${name}.yaml`),
      `kind: crm-upsert
template: zoho-crm
base_url: http://127.0.0.1:${zoho.port}
token: { env: E2E_CRM_TOKEN }
id_field: Tierstream_Id
fields: { ${dimensions.map((d) => `${d}: ${field(d)}`).join(', ')} }
picklists: { ${dimensions[0]}: { PLATINUM: Platinum, GOLD: Gold, SILVER: Silver, BRONZE: Bronze } }
batch_size: 10
delivery: { initial_backoff_ms: 50, max_backoff_ms: 2000, max_attempts: 20 }
`,
    );
    const env = {
      DESTINATIONS_DIR: dir,
      DESTINATIONS_GROUP_PREFIX: `e2e-crm-${RUN}`,
      E2E_CRM_TOKEN: 'e2e-token',
      HTTP_PORT: '0',
      LOG_LEVEL: 'warn',
    };
    const group = `e2e-crm-${RUN}.${name}`;
    const logs: string[] = [];
    const start = () => startService('destinations', env, (_n, line) => logs.push(line));
    let svc = start();
    try {
      const waitDone = async () => {
        const deadline = Date.now() + 120_000;
        for (;;) {
          expect(svc.child.exitCode, logs.slice(-20).join('\n')).toBeNull();
          const lag = await groupLag(await clients.admin(), group, [TOPICS.changes]).catch(() => -1);
          const committed = await (await clients.admin()).fetchOffsets({ groupId: group, topics: [TOPICS.changes] });
          const started = committed[0]?.partitions.some((p) => p.offset !== '-1') ?? false;
          if (lag === 0 && started) return;
          if (Date.now() > deadline) throw new Error(`group ${group} lags ${lag}\n${logs.slice(-20).join('\n')}`);
          await new Promise((r) => setTimeout(r, 300));
        }
      };
      await waitDone();
      const check = () => {
        expect([...zoho.records.keys()].sort()).toEqual(ids.filter((id) => id !== refused));
        for (const id of ids) {
          if (id === refused) continue;
          const tiers = states.get(id)!.tiers;
          const want: Record<string, unknown> = { Tierstream_Id: id };
          for (const d of dimensions) {
            const tier = tiers[d];
            want[field(d)] = tier === undefined ? null : d === dimensions[0] ? (picklist[tier] ?? tier) : tier;
          }
          expect(zoho.records.get(id), id).toEqual(want);
        }
      };
      check();
      expect(zoho.maxBatchSeen).toBeLessThanOrEqual(10);
      expect(zoho.rateLimited).toBeGreaterThan(0);

      // Operations: status (no lag, one dead letter), the dead letter itself, and a replay from the start.
      const cliEnv = { ...env, DESTINATIONS_DIR: dir };
      const status = await tierctl(['destinations', 'status', '--json'], { env: cliEnv });
      expect(status.code, status.stderr).toBe(0);
      expect(JSON.parse(status.stdout)).toEqual([
        expect.objectContaining({ name, kind: 'crm-upsert', group, lag: 0, dead_letters: 1, members: 1 }),
      ]);
      const dlq = await tierctl(['destinations', 'dlq', name, '--json'], { env: cliEnv });
      expect(dlq.code, dlq.stderr).toBe(0);
      expect(JSON.parse(dlq.stdout)).toEqual([
        expect.objectContaining({
          reason: 'REJECTED_RECORD',
          customer_id: refused,
          message: 'INVALID_DATA: invalid data',
        }),
      ]);
      const refusedWhileRunning = await tierctl(['destinations', 'replay', name, '--from', '0'], { env: cliEnv });
      expect(refusedWhileRunning.code).not.toBe(0);
      expect(refusedWhileRunning.stderr).toMatch(/running member/);
      await stopService(svc);
      const requestsBefore = zoho.requests;
      const replay = await tierctl(['destinations', 'replay', name, '--from', '0', '--json'], { env: cliEnv });
      expect(replay.code, replay.stderr).toBe(0);
      zoho.records.clear();
      svc = start();
      await waitDone();
      expect(zoho.requests).toBeGreaterThan(requestsBefore);
      check();
    } finally {
      await killService(svc);
      await zoho.close();
      await admin.deleteTopics({ topics: [destinationDlqTopic(name)] }).catch(() => undefined);
    }
  });
});
