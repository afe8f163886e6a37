/**
 * Micro-benchmark of the aggregator's apply path without Kafka: `npx tsx bench/apply-micro.ts [customers] [batch]`
 * against REDIS_URL (prefix `applybench`, deleted afterwards). The `standard` profile's shape (seed 20260630) for
 * `customers`, split like the topics (3 partitions per input topic, by customer) into batches of `batch` records per
 * topic-partition in produce order, grouped per customer like the handler, applied with AggregateStore.applyBatch.
 * Prints wall time, the server's EVALSHA time per event (INFO commandstats) and the aggregate bytes per customer
 * (used_memory before/after, and MEMORY USAGE of the hashes).
 */
import { AggregateStore, DEFAULT_AGGREGATE_CONFIG } from '@tierstream/aggregates';
import { Redis } from 'ioredis';
import { applyBenchBatches, applyItemsOf } from './lib/apply-batches';

const customers = Number(process.argv[2] ?? 2000);
const batchSize = Number(process.argv[3] ?? 5000);
const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:16379');
const prefix = 'applybench';
// APPLY_MICRO_PACK=1|0: packed order and service days on/off (default: the store's default, PACKED_LAYOUT).
const pack = process.env.APPLY_MICRO_PACK;
const store = new AggregateStore(redis, {
  prefix,
  config: DEFAULT_AGGREGATE_CONFIG,
  ...(pack === undefined ? {} : { packedLayout: pack === '1' }),
});
await store.init();
// APPLY_MICRO_LUA=<file>: measure another script with the same arguments (a variant under study) instead.
if (process.env.APPLY_MICRO_LUA) {
  const { readFileSync } = await import('node:fs');
  (store as unknown as { sha: string }).sha = (await redis.script(
    'LOAD',
    readFileSync(process.env.APPLY_MICRO_LUA, 'utf8'),
  )) as string;
}

const { batches, total } = applyBenchBatches(customers, batchSize);
const evalUsec = async () => {
  let calls = 0;
  let usec = 0;
  for (const l of (await redis.info('commandstats')).split('\n')) {
    const m = /^cmdstat_(evalsha|eval|hgetall|hmget):calls=(\d+),usec=(\d+)/.exec(l);
    if (m && m[1] === 'evalsha') {
      calls += Number(m[2]);
      usec += Number(m[3]);
    }
  }
  return { calls, usec };
};
/** CPU seconds of the Redis process (user + sys, INFO cpu): less sensitive to a loaded machine than wall time. */
const aofSize = async () => Number(/aof_current_size:(\d+)/.exec(await redis.info('persistence'))?.[1] ?? Number.NaN);
const redisCpu = async () => {
  const info = await redis.info('cpu');
  return Number(/used_cpu_user:([\d.]+)/.exec(info)![1]) + Number(/used_cpu_sys:([\d.]+)/.exec(info)![1]);
};
const mem = async () => Number(/used_memory:(\d+)/.exec(await redis.info('memory'))![1]);
const memBefore = await mem();
const before = await evalUsec();
const cpuBefore = await redisCpu();
const aofBefore = await aofSize();
const started = Date.now();
let calls = 0;
for (const b of batches) {
  const items = applyItemsOf(b);
  calls += items.length;
  await store.applyBatch(items, { retentionDays: 1_000_000 });
}
const seconds = (Date.now() - started) / 1000;
const after = await evalUsec();
const cpuAfter = await redisCpu();
const aofAfter = await aofSize();
const memAfter = await mem();
let usage = 0;
let fields = 0;
const hashKeys = await redis.keys(`${prefix}:*`);
const byKind: Record<string, { fields: number; bytes: number }> = {};
for (const k of hashKeys) {
  usage += Number(await redis.memory('USAGE', k));
  const flat = (await redis.call('HGETALL', k)) as string[];
  fields += flat.length / 2;
  for (let i = 0; i < flat.length; i += 2) {
    const f = flat[i]!;
    const kind = f.charCodeAt(1) === 58 ? f.slice(0, 2) : f;
    byKind[kind] ??= { fields: 0, bytes: 0 };
    const e = byKind[kind];
    e.fields += 1 / customers;
    e.bytes += (f.length + flat[i + 1]!.length) / customers;
  }
}
for (const e of Object.values(byKind)) {
  e.fields = +e.fields.toFixed(2);
  e.bytes = Math.round(e.bytes);
}
const usec = after.usec - before.usec;
console.log(
  JSON.stringify({
    customers,
    events: total,
    batches: batches.length,
    calls,
    eventsPerCall: +(total / calls).toFixed(2),
    seconds,
    eventsPerSec: Math.round(total / seconds),
    serverUsPerEvent: +(usec / total).toFixed(2),
    redisCpuUsPerEvent: +(((cpuAfter - cpuBefore) * 1e6) / total).toFixed(2),
    aofBytesPerEvent: Math.round((aofAfter - aofBefore) / total),
    serverUsPerCall: +(usec / (after.calls - before.calls)).toFixed(2),
    usedMemoryPerCustomer: Math.round((memAfter - memBefore) / customers),
    memoryUsagePerCustomer: Math.round(usage / customers),
    fieldsPerCustomer: +(fields / customers).toFixed(1),
    byKind,
  }),
);
for (let i = 0; i < hashKeys.length; i += 1000) await redis.del(...hashKeys.slice(i, i + 1000));
redis.disconnect();
