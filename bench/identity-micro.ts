/**
 * Micro-benchmark of the aggregator's input handler with and without identity (issue 20), without Kafka:
 * `npx tsx bench/identity-micro.ts [customers] [batch]` against the stack's Redis and schema registry (prefixes
 * `idbench-off` and `idbench-on`, deleted afterwards). A generated workload (seed 20260630, 120 days) where 30 % of the
 * web events are anonymous (customer id removed, the customer's anonymous id kept) and 1 % of the customers have an
 * alias (applied to the graph before the run), encoded as Avro records, cut into batches of `batch` records per
 * topic-partition (3 per topic) and given to two handlers (createAggregatorHandler) in the SAME run, batch by batch
 * alternately (which one goes first alternating too): one without identity (anonymous events skipped, as before issue 20), one with routeByIdentity. Prints
 * events/s of each and the ratio, the Redis bytes per alias (MEMORY USAGE of the alias hash and of the customer's
 * identity hash), the aliases' rate through the identities handler (one batch of the aliases' records), Redis's main-thread and this process's CPU seconds of each handler's batches, and the hold alone (IdentityStore.hold on
 * each web batch's anonymous events, prefix `idbench-hold`): the server's EVALSHA µs per anonymous id and batch and
 * per event, the Redis bytes of the held events per anonymous id, and then another 1 % of the customers aliased (their
 * held events folded) through the identities handler: aliases/s.
 */
import {
  AggregateStore,
  appliedBeforeMerge,
  DEFAULT_AGGREGATE_CONFIG,
  foldAlias,
  type HeldEvent,
  IdentityStore,
} from '@tierstream/aggregates';
import { Clients, loadCliConfig } from '@tierstream/cli';
import { type InputEvent, TOPICS } from '@tierstream/contracts';
import { generateWorkload } from '@tierstream/generator';
import type { ConsumedRecord, PartitionBatch } from '@tierstream/kafka';
import { TierStateStore } from '@tierstream/tierstate';
import pino from 'pino';
import { createAggregatorHandler } from '../services/aggregator/src/handler';
import { createIdentityHandler } from '../services/aggregator/src/identity-handler';
import { aliasEvents, aliasedCustomers, benchHash, identityShape } from './lib/identity';

const customers = Number(process.argv[2] ?? 2000);
const batchSize = Number(process.argv[3] ?? 2000);
const clients = new Clients(loadCliConfig(process.env));
const redis = clients.redis;
const serde = clients.serde;
const logger = pino({ level: 'warn' });
const topicOf = (e: InputEvent) =>
  e.kind === 'order' ? TOPICS.orders : e.kind === 'web' ? TOPICS.web : TOPICS.tickets;

// The workload: 30 % of the web events anonymous; 1 % of the customers aliased.
const events: InputEvent[] = [];
const ids = new Set<string>();
for (const e of generateWorkload({ customers, days: 120, seed: 20260630 })) {
  const shaped = identityShape(e);
  if (shaped) events.push(shaped);
  if (e.event.customer_id) ids.add(e.event.customer_id);
}
const aliased = aliasedCustomers(ids);
const anonymous = events.filter((e) => e.event.customer_id === null).length;

// Records per topic-partition (key: the customer, or the anonymous id), in produce order, then batches round-robin.
const queues = new Map<string, ConsumedRecord[]>();
/** The decoded event of each record (the hold-only pass below). */
const eventOf = new Map<ConsumedRecord, InputEvent>();
for (const e of events) {
  const topic = topicOf(e);
  const key = e.event.customer_id ?? (e.event as { anonymous_id: string }).anonymous_id;
  const partition = benchHash(key) % 3;
  const q = queues.get(`${topic}:${partition}`) ?? [];
  const record: ConsumedRecord = {
    topic,
    partition,
    offset: String(q.length),
    key: Buffer.from(key),
    value: await serde.encode(topic, e.event),
    headers: {},
    timestamp: 0,
  };
  eventOf.set(record, e);
  q.push(record);
  queues.set(`${topic}:${partition}`, q);
}
const batches: PartitionBatch[] = [];
for (let p = 0, more = true; more; p += batchSize) {
  more = false;
  for (const [k, q] of queues) {
    if (p >= q.length) continue;
    more = true;
    const [topic, partition] = k.split(':') as [string, string];
    batches.push({ topic, partition: Number(partition), records: q.slice(p, p + batchSize), highWatermark: '0' });
  }
}

const producer = { send: async () => undefined, sendMany: async () => undefined, disconnect: async () => undefined };
const ctx = { deadLetter: () => undefined, heartbeat: async () => undefined, isStale: () => false };
function handlerFor(prefix: string, withIdentity: boolean) {
  const aggregates = new AggregateStore(redis, { prefix, config: DEFAULT_AGGREGATE_CONFIG });
  const identity = new IdentityStore(redis, { prefix });
  const handler = createAggregatorHandler({
    serde,
    aggregates,
    tierState: new TierStateStore(redis, prefix),
    producer,
    signalsTopic: TOPICS.signals,
    signalPartitions: 3,
    validation: { maxFutureSkewMs: 3_600_000, maxMessageBytes: 1_048_576 },
    logger,
    identity: withIdentity
      ? {
          identity,
          anonRetentionMs: identity.anonRetentionMs,
          appliedBeforeMerge: (records) => appliedBeforeMerge(redis, aggregates, records),
          watermarkKey: `${TOPICS.identities}:0`,
        }
      : undefined,
  });
  return { handler, identity, aggregates, prefix, seconds: 0, redisCpu: 0, nodeCpu: 0 };
}
/** CPU seconds of Redis's main thread (user + sys; INFO cpu): the scripts' and commands' time. */
async function redisMainCpu(): Promise<number> {
  const info = await redis.info('cpu');
  return (
    Number(/used_cpu_user_main_thread:([\d.]+)/.exec(info)?.[1] ?? 0) +
    Number(/used_cpu_sys_main_thread:([\d.]+)/.exec(info)?.[1] ?? 0)
  );
}
/** EVALSHA calls and server µs so far (INFO commandstats). */
async function evalStats(): Promise<{ calls: number; usec: number }> {
  const m = /cmdstat_evalsha:calls=(\d+),usec=(\d+)/.exec(await redis.info('commandstats'));
  return { calls: Number(m?.[1] ?? 0), usec: Number(m?.[2] ?? 0) };
}
const runs = [handlerFor('idbench-off', false), handlerFor('idbench-on', true)];
const cleanup = async () => {
  for (const r of runs) {
    const keys = await redis.keys(`${r.prefix}:*`);
    for (let i = 0; i < keys.length; i += 1000) await redis.del(...keys.slice(i, i + 1000));
  }
};
await cleanup();
let first = Number.POSITIVE_INFINITY;
for (const e of events) first = Math.min(first, e.event.occurred_at);
// The aliases through the identities handler (one batch of identities.v1 records, as the service gets them), timed.
const aliasRecords: ConsumedRecord[] = [];
for (const alias of aliasEvents(aliased, first))
  aliasRecords.push({
    topic: TOPICS.identities,
    partition: 0,
    offset: String(aliasRecords.length),
    key: Buffer.from(alias.customer_id),
    value: await serde.encode(TOPICS.identities, alias),
    headers: {},
    timestamp: 0,
  });
const identityHandler = createIdentityHandler({
  serde,
  identity: runs[1]!.identity,
  folds: {
    alias: async (customerId, anonymousId, held, source) => {
      await foldAlias(runs[1]!.aggregates, customerId, anonymousId, held, source);
    },
    merge: async () => {
      throw new Error('identity-micro: no merges');
    },
  },
  tierState: new TierStateStore(redis, 'idbench-on'),
  producer,
  signalsTopic: TOPICS.signals,
  signalPartitions: 3,
  validation: { maxFutureSkewMs: 3_600_000 },
  logger,
});
const aliasStarted = process.hrtime.bigint();
await identityHandler({ topic: TOPICS.identities, partition: 0, records: aliasRecords, highWatermark: '0' }, ctx);
const aliasSeconds = Number(process.hrtime.bigint() - aliasStarted) / 1e9;
// Warm-up (schemas cached, scripts loaded) on the first batch, not measured; then alternate, batch by batch, the
// first of each pair alternating too (the second handler of a pair ran faster on the same batch, by ~5 %).
for (const r of runs) await r.handler(batches[0]!, ctx);
for (const [i, b] of batches.slice(1).entries()) {
  for (const r of i % 2 === 0 ? runs : [...runs].reverse()) {
    const cpu = await redisMainCpu();
    const t = process.hrtime.bigint();
    const node = process.cpuUsage();
    await r.handler(b, ctx);
    r.seconds += Number(process.hrtime.bigint() - t) / 1e9;
    const used = process.cpuUsage(node);
    r.nodeCpu += (used.user + used.system) / 1e6;
    r.redisCpu += (await redisMainCpu()) - cpu;
  }
}
const measured = batches.slice(1).reduce((n, b) => n + b.records.length, 0);
const aliasBytes: number[] = [];
for (const c of aliased.slice(0, 20)) {
  const k = runs[1]!.identity.keys;
  aliasBytes.push(
    Number((await redis.memory('USAGE', k.alias(`anon-${c}`))) ?? 0) +
      Number((await redis.memory('USAGE', k.customer(c))) ?? 0),
  );
}
const rate = (r: (typeof runs)[number]) => Math.round(measured / r.seconds);

// The hold alone (prefix idbench-hold, the same aliases): each web batch's anonymous events through IdentityStore.hold
// as routeAnonymous groups them; the server's EVALSHA µs per anonymous id held (per call of hold: per id and batch)
// and per event, and the Redis bytes of the held events per anonymous id.
const holdStore = new IdentityStore(redis, { prefix: 'idbench-hold' });
for (const alias of aliasEvents(aliased, first)) await holdStore.apply(alias);
let idHolds = 0;
let heldEvents = 0;
let holdSeconds = 0;
const holdIds = new Set<string>();
const holdBefore = await evalStats();
for (const b of batches) {
  const byAnon = new Map<string, HeldEvent[]>();
  for (const record of b.records) {
    const e = eventOf.get(record)!;
    if (e.kind !== 'web' || e.event.customer_id !== null || e.event.anonymous_id === null) continue;
    const list = byAnon.get(e.event.anonymous_id) ?? [];
    list.push({ eventId: e.event.event_id, occurredAt: e.event.occurred_at, type: e.event.type });
    byAnon.set(e.event.anonymous_id, list);
  }
  if (byAnon.size === 0) continue;
  idHolds += byAnon.size;
  for (const [x, list] of byAnon) {
    heldEvents += list.length;
    holdIds.add(x);
  }
  const t = process.hrtime.bigint();
  await holdStore.hold(
    [...byAnon].map(([anonymousId, list]) => ({ anonymousId, events: list })),
    Number.MIN_SAFE_INTEGER,
  );
  holdSeconds += Number(process.hrtime.bigint() - t) / 1e9;
}
const holdAfter = await evalStats();
const holdUsec = holdAfter.usec - holdBefore.usec;
let heldBytes = 0;
for (const key of await redis.keys('idbench-hold:*')) {
  if (key.endsWith(':aid') || key.endsWith(':idn')) continue;
  heldBytes += Number((await redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0')) ?? 0);
}
// Logins after browsing: another 1 % of the customers aliased after the hold pass, at the last event's time (the held
// events of the 30 days before are folded into the customer), through the identities handler, timed.
const late = [...ids].sort().filter((_, i) => i % 100 === 50);
let last = Number.NEGATIVE_INFINITY;
for (const e of events) last = Math.max(last, e.event.occurred_at);
const holdAggregates = new AggregateStore(redis, { prefix: 'idbench-hold', config: DEFAULT_AGGREGATE_CONFIG });
const lateRecords: ConsumedRecord[] = [];
for (const [i, alias] of aliasEvents(late, last).entries())
  lateRecords.push({
    topic: TOPICS.identities,
    partition: 0,
    offset: String(i),
    key: Buffer.from(alias.customer_id),
    value: await serde.encode(TOPICS.identities, { ...alias, event_id: `late-${i}` }),
    headers: {},
    timestamp: 0,
  });
let lateFolded = 0;
const lateHandler = createIdentityHandler({
  serde,
  identity: holdStore,
  folds: {
    alias: async (customerId, anonymousId, held, source) => {
      lateFolded += held.length;
      await foldAlias(holdAggregates, customerId, anonymousId, held, source);
    },
    merge: async () => {
      throw new Error('identity-micro: no merges');
    },
  },
  tierState: new TierStateStore(redis, 'idbench-hold'),
  producer,
  signalsTopic: TOPICS.signals,
  signalPartitions: 3,
  validation: { maxFutureSkewMs: 3_600_000 },
  logger,
});
const lateStarted = process.hrtime.bigint();
await lateHandler({ topic: TOPICS.identities, partition: 0, records: lateRecords, highWatermark: '0' }, ctx);
const lateSeconds = Number(process.hrtime.bigint() - lateStarted) / 1e9;
{
  const keys = await redis.keys('idbench-hold:*');
  for (let i = 0; i < keys.length; i += 1000) await redis.del(...keys.slice(i, i + 1000));
}
console.log(
  JSON.stringify(
    {
      customers,
      batchSize,
      events: events.length,
      anonymousShare: +(anonymous / events.filter((e) => e.kind === 'web').length).toFixed(3),
      aliasedCustomers: aliased.length,
      withoutIdentityEventsPerSec: rate(runs[0]!),
      withIdentityEventsPerSec: rate(runs[1]!),
      ratio: +(rate(runs[1]!) / rate(runs[0]!)).toFixed(3),
      bytesPerAlias: Math.round(aliasBytes.reduce((a, b) => a + b, 0) / aliasBytes.length),
      /** The aliases through the identities handler, in one batch (before the input batches: nothing held yet). */
      aliasesPerSec: Math.round(aliased.length / aliasSeconds),
      /** Redis main-thread CPU seconds of each handler's batches. */
      redisCpuSecondsWithout: +runs[0]!.redisCpu.toFixed(3),
      redisCpuSecondsWith: +runs[1]!.redisCpu.toFixed(3),
      /** This process's CPU seconds (user + sys) during each handler's batches. */
      nodeCpuSecondsWithout: +runs[0]!.nodeCpu.toFixed(3),
      nodeCpuSecondsWith: +runs[1]!.nodeCpu.toFixed(3),
      secondsWithout: +runs[0]!.seconds.toFixed(3),
      secondsWith: +runs[1]!.seconds.toFixed(3),
      hold: {
        calls: holdAfter.calls - holdBefore.calls,
        idHolds,
        events: heldEvents,
        usecPerIdHold: +(holdUsec / idHolds).toFixed(2),
        usecPerEvent: +(holdUsec / heldEvents).toFixed(2),
        wallSeconds: +holdSeconds.toFixed(3),
        heldBytesPerId: Math.round(heldBytes / holdIds.size),
        /** Another 1 % aliased after the hold pass (their held events folded), through the identities handler. */
        lateAliasesPerSec: Math.round(late.length / lateSeconds),
        lateEventsFolded: lateFolded,
      },
    },
    null,
    2,
  ),
);
await cleanup();
await clients.close();
