/**
 * Interleaved A/B of two apply_events.lua variants on the same workload:
 * `npx tsx bench/apply-ab.ts <customers> <batch> <a.lua> <b.lua>`. Each batch is applied by A (prefix applyab-a) and
 * by B (prefix applyab-b), alternately first, with INFO commandstats read around each call: the two variants see the
 * same load drift on a shared machine. Prints EVALSHA µs per event and bytes per customer (MEMORY USAGE) of each.
 */
import { readFileSync } from 'node:fs';
import { AggregateStore, DEFAULT_AGGREGATE_CONFIG } from '@tierstream/aggregates';
import { Redis } from 'ioredis';
import { applyBenchBatches, applyItemsOf } from './lib/apply-batches';

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
const { batches, total } = applyBenchBatches(customers, batchSize);
const evalUsec = async () => {
  for (const l of (await redis.info('commandstats')).split('\n')) {
    const m = /^cmdstat_evalsha:calls=(\d+),usec=(\d+)/.exec(l);
    if (m) return Number(m[2]);
  }
  return 0;
};
const usec = [0, 0];
for (const [bi, b] of batches.entries()) {
  const items = applyItemsOf(b);
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
