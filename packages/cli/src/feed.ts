import {
  type AvroSerde,
  configuredTopicOf,
  customerIdOf,
  DEFAULT_INPUT_TOPIC_NAMES,
  INPUT_TOPICS,
  type InputEvent,
  type InputTopicNames,
} from '@tierstream/contracts';
import { CONTROL_HEADER, type RecordProducer } from '@tierstream/kafka';
import type { Admin } from 'kafkajs';

export interface FeedProgress {
  sent: number;
  byTopic: Record<string, number>;
}

/**
 * Produces input events to their topics in the given order, keyed by customer id (anonymous web events by their
 * anonymous id), in batches. `ratePerSec` limits the rate (undefined: as fast as possible). `topics`: the configured
 * input topic names (ORDERS_TOPIC, ...; default the contract names).
 */
export async function feedEvents(
  producer: RecordProducer,
  serde: AvroSerde,
  events: Iterable<InputEvent>,
  opts: {
    batchSize?: number;
    ratePerSec?: number;
    onProgress?: (p: FeedProgress) => void;
    topics?: InputTopicNames;
  } = {},
): Promise<FeedProgress> {
  const batchSize = opts.batchSize ?? 2_000;
  const topics = opts.topics ?? DEFAULT_INPUT_TOPIC_NAMES;
  const progress: FeedProgress = { sent: 0, byTopic: {} };
  let pending: Array<{ topic: string; key: string; event: InputEvent['event'] }> = [];
  const started = Date.now();
  const flush = async () => {
    if (pending.length === 0) return;
    const byTopic = new Map<string, Array<{ key: string; value: Buffer }>>();
    for (const p of pending) {
      const list = byTopic.get(p.topic) ?? [];
      list.push({ key: p.key, value: await serde.encode(p.topic, p.event) });
      byTopic.set(p.topic, list);
    }
    await producer.sendMany([...byTopic].map(([topic, records]) => ({ topic, records })));
    for (const [topic, records] of byTopic) progress.byTopic[topic] = (progress.byTopic[topic] ?? 0) + records.length;
    progress.sent += pending.length;
    pending = [];
    opts.onProgress?.(progress);
    if (opts.ratePerSec) {
      const ahead = (progress.sent / opts.ratePerSec) * 1000 - (Date.now() - started);
      if (ahead > 0) await new Promise((r) => setTimeout(r, ahead));
    }
  };
  for (const input of events) {
    const key =
      customerIdOf(input) ??
      (input.kind === 'web' ? (input.event.anonymous_id ?? input.event.event_id) : input.event.event_id);
    pending.push({ topic: configuredTopicOf(topics, input), key, event: input.event });
    if (pending.length >= batchSize) await flush();
  }
  await flush();
  return progress;
}

/**
 * Closes a replay: a control record carrying `at` goes to every partition of every input topic, after the data.
 * The aggregator moves each partition's watermark to `at`, so the replay clock (the minimum over partitions) reaches
 * it and the tier engine closes the last days: their time-driven transitions and snapshots happen.
 */
export async function sendWatermarks(
  admin: Admin,
  producer: RecordProducer,
  at: number,
  topics: readonly string[] = INPUT_TOPICS,
): Promise<number> {
  const meta = await admin.fetchTopicMetadata({ topics: [...topics] });
  let sent = 0;
  for (const t of meta.topics) {
    await producer.sendMany([
      {
        topic: t.name,
        records: t.partitions.map((p) => ({
          key: null,
          value: Buffer.from(String(at)),
          headers: { [CONTROL_HEADER]: 'watermark' },
          partition: p.partitionId,
        })),
      },
    ]);
    sent += t.partitions.length;
  }
  return sent;
}
