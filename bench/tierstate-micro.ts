/**
 * Redis bytes per customer of what packages/tierstate keeps: `npx tsx bench/tierstate-micro.ts [customers]` against
 * REDIS_URL (prefix `tsmicro`, deleted afterwards). The `standard` profile's shape (seed 20260630) for `customers`:
 * every customer is scheduled like the aggregator does (one call per signal partition and batch of its events' days,
 * attributes set for businesses), then evaluated by the pure engine on each of its event days and on the last day
 * (default rules, fallback cut points; pending demotions as they arise) and committed like the tier engine does.
 * Prints MEMORY USAGE per customer of the due index, touch counters, customer sets, attributes, tier states and the
 * population cache (the last evaluation's entry: its day and each event's anniversary in the next 30 days), after
 * the aggregator's side (touch counters present) and after the engine's (touch counters consumed).
 */
import { readFileSync } from 'node:fs';
import { DEFAULT_AGGREGATE_CONFIG, oracleMetrics } from '@tierstream/aggregates';
import { customerIdOf, type InputEvent } from '@tierstream/contracts';
import { generateWorkload } from '@tierstream/generator';
import {
  cutMetricNames,
  evaluateTiers,
  initialCutPoints,
  parseRules,
  populationEntry,
  type TierState,
} from '@tierstream/tiering';
import { type CommitItem, dayOf, endOfDay, signalPartitionOf, TierStateStore } from '@tierstream/tierstate';
import { Redis } from 'ioredis';

const customers = Number(process.argv[2] ?? 2000);
const partitions = 3;
const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:16379');
const prefix = 'tsmicro';
const store = new TierStateStore(redis, prefix);
const rules = parseRules(readFileSync(new URL('../rules/default.yaml', import.meta.url), 'utf8'), 'rules/default.yaml');
const cutPoints = initialCutPoints(rules);
const names = cutMetricNames(rules);

const byCustomer = new Map<string, InputEvent[]>();
for (const e of generateWorkload({ customers, days: 365, seed: 20260630 })) {
  const id = customerIdOf(e);
  if (id === null) continue;
  const list = byCustomer.get(id);
  if (list) list.push(e);
  else byCustomer.set(id, [e]);
}
let lastDay = 0;
for (const list of byCustomer.values()) for (const e of list) lastDay = Math.max(lastDay, dayOf(e.event.occurred_at));

const usage = async (pattern: string) => {
  let total = 0;
  let keys = 0;
  for (const k of await redis.keys(`${prefix}:${pattern}`)) {
    total += Number(await redis.memory('USAGE', k, 'SAMPLES', 0));
    keys++;
  }
  return { keys, bytesPerCustomer: Math.round(total / byCustomer.size) };
};
const report = async (phase: string) => ({
  phase,
  due: await usage('due:*'),
  touch: await usage('touch:*'),
  customers: await usage('customers:*'),
  attributes: await usage('{*}:attrs'),
  tierState: await usage('{*}:tier'),
  populationCache: await usage('popcache:*'),
  codes: await usage('tiercodes'),
});

const wipe = async () => {
  const keys = await redis.keys(`${prefix}:*`);
  for (let i = 0; i < keys.length; i += 1000) await redis.unlink(...keys.slice(i, i + 1000));
};
await wipe();
try {
  // Aggregator side: one schedule per customer and 30-day batch of its events (touch counters > 1 as in a replay).
  const scheduled: Array<{ customerId: string; partition: number; dueAt: number }> = [];
  const attributes: Array<{ customerId: string; attributes: Record<string, string | number> }> = [];
  for (const [id, events] of byCustomer) {
    const partition = signalPartitionOf(id, partitions);
    for (const b of new Set(events.map((e) => Math.floor(dayOf(e.event.occurred_at) / 30))))
      scheduled.push({ customerId: id, partition, dueAt: endOfDay(b * 30) });
    for (const e of events) {
      if (e.kind !== 'order' || !e.event.attributes) continue;
      const a = Object.fromEntries(Object.entries(e.event.attributes).filter(([, v]) => v !== null && v !== undefined));
      attributes.push({ customerId: id, attributes: a as Record<string, string | number> });
      break;
    }
  }
  await store.schedule(scheduled);
  await store.setAttributes(attributes);
  const afterAggregator = await report('after the aggregator');

  // Engine side: evaluate on every event day and the last day, commit with the next due day (the last day + 30).
  const byPartition = new Map<number, CommitItem[]>();
  const due = new Map<string, { dueAt: number; touch: string }>();
  for (let p = 0; p < partitions; p++) {
    for (const d of await store.due(p, Number.MAX_SAFE_INTEGER, 10 * customers)) due.set(d.customerId, d);
  }
  for (const [id, events] of byCustomer) {
    let state: TierState | null = null;
    const days = [...new Set(events.map((e) => dayOf(e.event.occurred_at))), lastDay].sort((a, b) => a - b);
    for (const day of days) {
      const metrics = oracleMetrics(events, endOfDay(day), DEFAULT_AGGREGATE_CONFIG, 48 * 3_600_000);
      state = evaluateTiers({
        rules,
        cutPoints,
        customerId: id,
        metrics,
        attributes: null,
        previous: state,
        day,
        at: endOfDay(day),
      }).state;
    }
    const partition = signalPartitionOf(id, partitions);
    const list = byPartition.get(partition) ?? [];
    byPartition.set(partition, list);
    const d = due.get(id)!;
    // The population cache entry of the last evaluation (one step per event anniversary within the next 30 days).
    const steps = events.map((e) => dayOf(e.event.occurred_at) + 365).filter((x) => x > lastDay && x < lastDay + 30);
    const population = JSON.stringify(
      populationEntry({
        names,
        day: lastDay,
        cutPointsVersion: state!.cutpoints_version,
        dueDay: lastDay + 30,
        until: null,
        pathDays: [lastDay, ...new Set(steps.sort((a, b) => a - b))],
        metricsAtDay: (day) => oracleMetrics(events, endOfDay(day), DEFAULT_AGGREGATE_CONFIG, 48 * 3_600_000),
      }),
    );
    list.push({
      customerId: id,
      state,
      processedDueAt: d.dueAt,
      touch: d.touch,
      nextDueAt: endOfDay(lastDay + 30),
      population,
    });
  }
  for (const [p, items] of byPartition) await store.commit(p, items);
  const afterEngine = await report('after the engine');
  const sample = (await store.readStates([...byCustomer.keys()].slice(0, 1))).values().next().value;
  const raw = await redis.get(store.keys.state([...byCustomer.keys()][0]!));
  console.log(JSON.stringify({ customers: byCustomer.size, afterAggregator, afterEngine, sample, raw }, null, 1));
} finally {
  await wipe();
  redis.disconnect();
}
