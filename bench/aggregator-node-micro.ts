/**
 * Micro-benchmark of the aggregator's Node side without Redis or Kafka:
 * `npx tsx bench/aggregator-node-micro.ts [customers] [batch] [rounds]` (default 10000 3000 3).
 * The `standard` profile's shape (seed 20260630) for `customers`, Avro-encoded with the repository's schemas, split like
 * the topics (3 partitions per input topic, by customer) into batches of `batch` records per topic-partition in produce
 * order, each run through createAggregatorHandler (not pipelined): decode + validate, group, the apply's argument
 * encoding (AggregateStore.applyBatch against a stand-in Redis whose pipeline answers "applied" at once), schedule and
 * attributes (stand-in), signals (Avro encode, coalescingSender, then kafkajs' own per-partition grouping with the
 * producer's partitioner and its produce-request encoding; nothing is sent). The first round warms up; the others are
 * measured: CPU µs per event (process.cpuUsage), wall µs per event, GC pauses (count, ms, share of the wall time).
 *
 * A/B without stashing: `BENCH_ROOT=<checkout>` measures the code of another checkout (a `git worktree` whose
 * node_modules links @tierstream/* to its own packages and the rest to this one's); default this one. Alternate the two
 * back to back. kafkajs' grouping: see groupMessagesPerPartition below.
 * Prints figures only (no pass/fail).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const customers = Number(process.argv[2] ?? 10000);
const batchSize = Number(process.argv[3] ?? 3000);
const rounds = Math.max(2, Number(process.argv[4] ?? 3));
const root = path.resolve(process.env.BENCH_ROOT ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '..'));
const load = (p: string) => import(path.join(root, p));

const contracts = await load('packages/contracts/src/index.ts');
const { generateWorkload } = await load('packages/generator/src/index.ts');
const { AggregateStore, DEFAULT_AGGREGATE_CONFIG } = await load('packages/aggregates/src/index.ts');
const kafka = await load('packages/kafka/src/index.ts');
const { createAggregatorHandler } = await load('services/aggregator/src/handler.ts');
const requireKafkajs = createRequire(path.join(root, 'packages/kafka/src/client.ts'));
const kafkajs = requireKafkajs('kafkajs');
// kafkajs' grouping as installed (made linear by scripts/patch-kafkajs.mjs); a checkout without that script is measured
// with kafkajs 2.2.4's own function (copied here), as it ran then.
// biome-ignore lint/suspicious/noExplicitAny: kafkajs internals are untyped
type Grouping = (args: any) => Record<string, unknown[]>;
const groupMessagesPerPartition: Grouping = existsSync(path.join(root, 'scripts/patch-kafkajs.mjs'))
  ? requireKafkajs('kafkajs/src/producer/groupMessagesPerPartition')
  : ({ topic, partitionMetadata, messages, partitioner }) => {
      if (partitionMetadata.length === 0) return {};
      return messages.reduce((result: Record<string, unknown[]>, message: unknown) => {
        const partition = partitioner({ topic, partitionMetadata, message });
        const current = result[partition] || [];
        return Object.assign(result, { [partition]: [...current, message] });
      }, {});
    };
const createTopicData = requireKafkajs('kafkajs/src/producer/createTopicData');
const produceRequest = requireKafkajs('kafkajs/src/protocol/requests/produce/v3/request');

const { TOPICS } = contracts;
const schemas = contracts.loadSchemas();
// Schema ids: one per topic, in the order of the schemas.
const idOf = new Map<string, number>();
const typeById = new Map<number, { toBuffer(v: unknown): Buffer; fromBuffer(b: Buffer): unknown }>();
for (const [i, s] of (Object.values(schemas) as Array<{ topic: string; type: never }>).entries()) {
  idOf.set(s.topic, i + 1);
  typeById.set(i + 1, s.type);
}
const frame = (id: number, body: Buffer) => {
  const out = Buffer.alloc(5 + body.length);
  out.writeInt32BE(id, 1);
  body.copy(out, 5);
  return out;
};
const registry = {
  getSchema: async (id: number) => typeById.get(id),
  getLatestSchemaId: async (subject: string) => idOf.get(subject.replace(/-value$/, '')),
  encode: async (id: number, value: unknown) => frame(id, typeById.get(id)!.toBuffer(value)),
};
const serde = new contracts.AvroSerde(registry, { registryUrl: 'http://127.0.0.1:1' });

// The workload, as consumed records per topic-partition.
const topicOf = (kind: string) =>
  kind === 'order' ? TOPICS.orders : kind === 'web' ? TOPICS.web : (TOPICS.tickets as string);
const hash = (s: string) => {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) | 0;
  return Math.abs(h);
};
interface Rec {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer;
  headers: Record<string, string>;
  timestamp: number;
}
const queues = new Map<string, Rec[]>();
const noHeaders = {};
let total = 0;
let latest = 0;
for (const e of generateWorkload({ customers, days: 365, seed: 20260630 })) {
  const topic = topicOf(e.kind);
  const id: string = e.event.customer_id ?? e.event.anonymous_id;
  const partition = hash(id) % 3;
  const key = `${topic}:${partition}`;
  let q = queues.get(key);
  if (!q) {
    q = [];
    queues.set(key, q);
  }
  const value = frame(idOf.get(topic)!, typeById.get(idOf.get(topic)!)!.toBuffer(e.event));
  q.push({
    topic,
    partition,
    offset: String(q.length),
    key: Buffer.from(id),
    value,
    headers: noHeaders,
    timestamp: e.event.occurred_at,
  });
  if (e.event.occurred_at > latest) latest = e.event.occurred_at;
  total++;
}
// Batches in produce order across topic-partitions: round-robin over the queues, `batchSize` records each.
const batches: Array<{ topic: string; partition: number; records: Rec[] }> = [];
const positions = [...queues].map(([k, q]) => ({ k, q, at: 0 }));
for (let more = true; more; ) {
  more = false;
  for (const p of positions) {
    if (p.at >= p.q.length) continue;
    more = true;
    const [topic, partition] = p.k.split(':') as [string, string];
    batches.push({ topic, partition: Number(partition), records: p.q.slice(p.at, p.at + batchSize) });
    p.at += batchSize;
  }
}
// Prime the serde's caches (the service's first batch does this through the registry).
for (const q of queues.values()) await serde.decode(q[0]!.value);
await serde.encode(TOPICS.signals, {
  customer_id: 'c',
  first_event_at: 0,
  last_event_at: 0,
  applied: 0,
  sources: [],
  emitted_at: 0,
});

// Redis stand-in: the pipeline answers every customer of a call "1 applied" at once (3 keys per customer).
let evalCalls = 0;
let evalArgs = 0;
const redis = {
  script: async () => 'sha',
  pipeline() {
    const answers: Array<[null, number[]]> = [];
    return {
      evalsha(_sha: string, numKeys: number, ...args: string[]) {
        evalCalls++;
        evalArgs += args.length;
        const n = numKeys / 3;
        const reply: number[] = [];
        for (let i = 0; i < n; i++) reply.push(1, 0, 0, 0, 0);
        answers.push([null, reply]);
      },
      exec: async () => answers,
    };
  },
};
const aggregates = new AggregateStore(redis, { prefix: 'bench', config: DEFAULT_AGGREGATE_CONFIG });
// Stage timings: the apply (its argument encoding; the stand-in answers at once) and the signals' Avro encoding.
let applyNs = 0n;
let signalEncodeNs = 0n;
const applyBatch = aggregates.applyBatch.bind(aggregates);
aggregates.applyBatch = async (...args: unknown[]) => {
  const t0 = process.hrtime.bigint();
  const out = await applyBatch(...args);
  applyNs += process.hrtime.bigint() - t0;
  return out;
};
const encodeIfCached = serde.encodeIfCached.bind(serde);
serde.encodeIfCached = (topic: string, value: unknown) => {
  const t0 = process.hrtime.bigint();
  const out = encodeIfCached(topic, value);
  signalEncodeNs += process.hrtime.bigint() - t0;
  return out;
};
const tierState = {
  schedule: async () => undefined,
  setAttributes: async () => undefined,
  advanceWatermarks: async () => undefined,
  getPartitionMeta: async () => ({}),
  readWatermarks: async () => new Map(),
};
// The producer: coalescingSender, then what kafkajs does with a sendBatch before the socket: per-partition grouping
// with the producer's partitioner (keyPartitioner where this checkout has it) and the produce request's encoding.
const partitioner = (kafka.keyPartitioner ?? kafkajs.Partitioners.DefaultPartitioner)();
const partitionMetadata = [0, 1, 2].map((i) => ({ partitionErrorCode: 0, partitionId: i, leader: 0, replicas: [0] }));
let requests = 0;
let signals = 0;
let produceNs = 0n;
let groupNs = 0n;
const send = kafka.coalescingSender(async (topicMessages: Array<{ topic: string; messages: unknown[] }>) => {
  const t0 = process.hrtime.bigint();
  requests++;
  const topicData = createTopicData(
    topicMessages.map(({ topic, messages }) => {
      signals += messages.length;
      const g0 = process.hrtime.bigint();
      const messagesPerPartition = groupMessagesPerPartition({ topic, partitionMetadata, messages, partitioner });
      groupNs += process.hrtime.bigint() - g0;
      return { topic, partitions: Object.keys(messagesPerPartition), messagesPerPartition };
    }),
  );
  for (const t of topicData) for (const p of t.partitions) p.firstSequence = 0;
  const request = produceRequest({ acks: -1, timeout: 30_000, compression: 0, topicData, producerId: 1 });
  await request.encode();
  produceNs += process.hrtime.bigint() - t0;
});
const producer = {
  send: (topic: string, records: unknown[]) => send([{ topic, records }]),
  sendMany: (b: unknown) => send(b),
  disconnect: async () => undefined,
};
const silent = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };
const handler = createAggregatorHandler({
  serde,
  aggregates,
  tierState,
  producer,
  signalsTopic: TOPICS.signals,
  signalPartitions: 3,
  validation: { maxFutureSkewMs: 3_600_000, maxMessageBytes: 1_000_000 },
  logger: silent,
  now: () => latest,
});
let dead = 0;
const ctx = { deadLetter: () => dead++, heartbeat: async () => undefined, isStale: () => false };

let gcCount = 0;
let gcMs = 0;
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    gcCount++;
    gcMs += e.duration;
  }
}).observe({ entryTypes: ['gc'] });

console.log(
  `root ${root}: ${customers} customers, ${total} records in ${batches.length} batches of ≤ ${batchSize} (node ${process.version})`,
);
for (let round = 0; round < rounds; round++) {
  if (round === 1) {
    gcCount = 0;
    gcMs = 0;
    requests = 0;
    signals = 0;
    produceNs = 0n;
    groupNs = 0n;
    applyNs = 0n;
    signalEncodeNs = 0n;
    evalCalls = 0;
    evalArgs = 0;
  }
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (const b of batches) await handler(b, ctx);
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  // GC entries arrive asynchronously: let them in before reading.
  await new Promise((r) => setTimeout(r, 20));
  const label = round === 0 ? 'warm-up' : `round ${round}`;
  console.log(
    `${label}: cpu ${(((cpu.user + cpu.system) / total) * 1).toFixed(2)} µs/event, wall ${((wall * 1000) / total).toFixed(2)} µs/event`,
  );
}
const measured = rounds - 1;
const perEvent = (ns: bigint) => (Number(ns) / 1000 / (measured * total)).toFixed(2);
console.log(
  `measured ${measured} rounds: GC ${gcCount} pauses, ${(gcMs / measured).toFixed(0)} ms per round (${((gcMs * 1000) / (measured * total)).toFixed(2)} µs/event); ` +
    `applyBatch ${perEvent(applyNs)} µs/event, signals' Avro ${perEvent(signalEncodeNs)}, kafkajs group + encode ${perEvent(produceNs)} (group ${perEvent(groupNs)}) over ${requests / measured} requests, ` +
    `${signals / measured} signals per round; ${evalCalls / measured} script calls, ${(evalArgs / measured / total).toFixed(2)} arguments per event; ${dead} dead letters`,
);
