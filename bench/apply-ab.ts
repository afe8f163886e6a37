/**
 * Interleaved A/B of two apply_events.lua variants on the same workload:
 * `npx tsx bench/apply-ab.ts <customers> <batch> <a.lua> <b.lua>`. Each batch is applied by A (prefix applyab-a) and
 * by B (prefix applyab-b), alternately first, with INFO commandstats read around each call: the two variants see the
 * same load drift on a shared machine. Prints EVALSHA µs per event and bytes per customer (MEMORY USAGE) of each.
 */
import { readFileSync } from 'node:fs';
import { AggregateStore, DEFAULT_AGGREGATE_CONFIG } from '@tierstream/aggregates';
import { customerIdOf, type InputEvent } from '@tierstream/contracts';
import { generateWorkload } from '@tierstream/generator';
import { Redis } from 'ioredis';

const customers = Number(process.argv[2] ?? 2000);
const batchSize = Number(process.argv[3] ?? 5000);
const files = [process.argv[4]!, process.argv[5]!];
const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:16379');
const stores: AggregateStore[] = [];
for (const [i, f] of files.entries()) {
  const store = new AggregateStore(redis, { prefix: `applyab-${'ab'[i]}`, config: DEFAULT_AGGREGATE_CONFIG });
  await store.init();
  (store as unknown as { sha: string }).sha = (await redis.script('LOAD', readFileSync(f, 'utf8'))) as string;
  stores.push(store);
}
const topicOf = (e: InputEvent) =>
  e.kind === 'order' ? 'orders.v1' : e.kind === 'web' ? 'web-behavior.v1' : 'tickets.v1';
const hash = (s: string) => {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) | 0;
  return Math.abs(h);
};
const queues = new Map<string, Array<{ event: InputEvent; offset: number }>>();
const nextOffset = new Map<string, number>();
let total = 0;
for (const e of generateWorkload({ customers, days: 365, seed: 20260630 })) {
  const id = customerIdOf(e);
  if (id === null) continue;
  const key = `${topicOf(e)}:${hash(id) % 3}`;
  const off = nextOffset.get(key) ?? 0;
  nextOffset.set(key, off + 1);
  let q = queues.get(key);
  if (!q) {
    q = [];
    queues.set(key, q);
  }
  q.push({ event: e, offset: off });
  total++;
}
// Batches in produce order across topic-partitions: round-robin over the queues, `batchSize` records each.
const batches: Array<{ topic: string; partition: number; records: Array<{ event: InputEvent; offset: number }> }> = [];
const keys = [...queues.keys()];
const pos = new Map<string, number>(keys.map((k) => [k, 0]));
for (let more = true; more; ) {
  more = false;
  for (const k of keys) {
    const q = queues.get(k)!;
    const p = pos.get(k)!;
    if (p >= q.length) continue;
    more = true;
    const [topic, partition] = k.split(':') as [string, string];
    batches.push({ topic, partition: Number(partition), records: q.slice(p, p + batchSize) });
    pos.set(k, p + batchSize);
  }
}
const evalUsec = async () => {
  for (const l of (await redis.info('commandstats')).split('\n')) {
    const m = /^cmdstat_evalsha:calls=(\d+),usec=(\d+)/.exec(l);
    if (m) return Number(m[2]);
  }
  return 0;
};
const usec = [0, 0];
for (const [bi, b] of batches.entries()) {
  const byCustomer = new Map<string, Array<{ event: InputEvent; topic: string; partition: number; offset: string }>>();
  for (const r of b.records) {
    const id = customerIdOf(r.event)!;
    let list = byCustomer.get(id);
    if (!list) {
      list = [];
      byCustomer.set(id, list);
    }
    list.push({ event: r.event, topic: b.topic, partition: b.partition, offset: String(r.offset) });
  }
  const items = [...byCustomer].map(([customerId, events]) => ({ customerId, events }));
  for (const k of bi % 2 === 0 ? [0, 1] : [1, 0]) {
    const before = await evalUsec();
    await stores[k]!.applyBatch(items, { retentionDays: 1_000_000 });
    usec[k]! += (await evalUsec()) - before;
  }
}
const out: Record<string, unknown> = { customers, events: total, batches: batches.length };
for (const k of [0, 1]) {
  let usage = 0;
  const keys = await redis.keys(`applyab-${'ab'[k]}:*`);
  for (const key of keys) usage += Number(await redis.memory('USAGE', key));
  out['ab'[k]!] = {
    file: files[k],
    usPerEvent: +(usec[k]! / total).toFixed(2),
    bytesPerCustomer: Math.round(usage / customers),
  };
  for (let i = 0; i < keys.length; i += 1000) await redis.del(...keys.slice(i, i + 1000));
}
console.log(JSON.stringify(out));
redis.disconnect();
