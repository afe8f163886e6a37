/**
 * The apply micro-benchmarks' workload (bench/apply-micro.ts, bench/apply-ab.ts): the `standard` profile's shape
 * (seed 20260630, 365 days) for `customers`, split like the topics (3 partitions per input topic, by customer) into
 * batches of `batchSize` records per topic-partition, in produce order across the topic-partitions (round-robin over
 * them). Anonymous web events (no customer id) are left out.
 */
import { customerIdOf, type InputEvent } from '@tierstream/contracts';
import { generateWorkload } from '@tierstream/generator';

export interface ApplyBenchBatch {
  topic: string;
  partition: number;
  records: Array<{ event: InputEvent; offset: number }>;
}

export function applyBenchBatches(customers: number, batchSize: number): { batches: ApplyBenchBatch[]; total: number } {
  const topicOf = (e: InputEvent) =>
    e.kind === 'order' ? 'orders.v1' : e.kind === 'web' ? 'web-behavior.v1' : 'tickets.v1';
  const hash = (s: string) => {
    let h = 0;
    for (let i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) | 0;
    return Math.abs(h);
  };
  const queues = new Map<string, Array<{ event: InputEvent; offset: number }>>();
  let total = 0;
  for (const e of generateWorkload({ customers, days: 365, seed: 20260630 })) {
    const id = customerIdOf(e);
    if (id === null) continue;
    const key = `${topicOf(e)}:${hash(id) % 3}`;
    let q = queues.get(key);
    if (!q) {
      q = [];
      queues.set(key, q);
    }
    q.push({ event: e, offset: q.length });
    total++;
  }
  const batches: ApplyBenchBatch[] = [];
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
  return { batches, total };
}

/** A batch grouped per customer like the aggregator's handler: AggregateStore.applyBatch's items, in first-seen order. */
export function applyItemsOf(b: ApplyBenchBatch): Array<{
  customerId: string;
  events: Array<{ event: InputEvent; topic: string; partition: number; offset: string }>;
}> {
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
  return [...byCustomer].map(([customerId, events]) => ({ customerId, events }));
}
