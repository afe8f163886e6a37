import type { ServiceMetrics } from '@tierstream/observability';
import type { Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import {
  type BatchHandler,
  type ConsumedRecord,
  type DeadLetter,
  DLQ_HEADERS,
  dlqTopicOf,
  type OutgoingRecord,
  type PartitionBatch,
  type RecordProducer,
} from './types';

export interface ConsumerRunnerOptions {
  kafka: Kafka;
  groupId: string;
  topics: string[];
  handler: BatchHandler;
  /** Produces dead letters (and usually the handler's own outputs). */
  producer: RecordProducer;
  logger: Logger;
  metrics?: ServiceMetrics;
  service: string;
  fromBeginning?: boolean;
  /** Bytes fetched per partition per request: kafkajs sizes batches in bytes only. */
  maxBytesPerPartition?: number;
  sessionTimeoutMs?: number;
  /** Partitions processed concurrently; 1 keeps one partition's batches strictly in order. */
  partitionsConsumedConcurrently?: number;
  /** Longest a fetch waits for data when a partition is idle: the floor of per-hop latency in live mode. */
  maxWaitTimeMs?: number;
  /** Called with this member's partitions after every group join, and with {} when a rebalance starts. */
  onAssignment?: (partitionsByTopic: Record<string, number[]>) => void;
}

/**
 * Runs a consumer group with commit-after-effect:
 *   fetch a partition batch → handler applies the effect (and queues dead letters) → dead letters are produced →
 *   the batch's offsets are committed with the current group generation.
 * If the partition was revoked meanwhile, the commit is refused by the coordinator (stale generation) or skipped
 * (isStale), and the new owner re-processes the batch: effects are idempotent, so that is safe.
 */
/** Dead-letter values and keys above these sizes are cut (header `tierstream-dlq-truncated` gives the sizes). */
const DLQ_MAX_VALUE_BYTES = 768 * 1024;
const DLQ_MAX_KEY_BYTES = 16 * 1024;
/** Upper bound of one dead-letter produce request (below the broker's default max message size of 1 MiB). */
const DLQ_MAX_REQUEST_BYTES = 896 * 1024;

export class ConsumerRunner {
  private consumer: Consumer;
  private running = false;
  private crashed: Error | null = null;
  private joined = false;
  private inFlight = 0;
  private lastBatchAt = Date.now();
  /** `topic:partition` of the partitions whose last batch attempt failed (the next attempt is a retry). */
  private readonly failing = new Set<string>();
  /** `topic:partition` of the partitions this member has set per-partition gauges for. */
  private readonly reported = new Set<string>();

  constructor(private readonly opts: ConsumerRunnerOptions) {
    this.consumer = opts.kafka.consumer({
      groupId: opts.groupId,
      sessionTimeout: opts.sessionTimeoutMs ?? 30_000,
      heartbeatInterval: 3_000,
      maxBytesPerPartition: opts.maxBytesPerPartition ?? 1_048_576,
      maxWaitTimeInMs: opts.maxWaitTimeMs ?? 100,
      allowAutoTopicCreation: false,
      retry: { retries: 10 },
    });
    const { GROUP_JOIN, CRASH, STOP, REBALANCING } = this.consumer.events;
    this.consumer.on(REBALANCING, () => {
      this.joined = false;
      opts.onAssignment?.({});
    });
    this.consumer.on(GROUP_JOIN, (e) => {
      this.joined = true;
      this.forgetRevoked(e.payload.memberAssignment);
      opts.onAssignment?.(e.payload.memberAssignment);
      opts.logger.info({ groupId: opts.groupId, assignment: e.payload.memberAssignment }, 'joined consumer group');
    });
    this.consumer.on(CRASH, (e) => {
      opts.metrics?.consumerCrashes.inc({ group: opts.groupId });
      this.crashed = e.payload.error;
      this.joined = false;
      opts.logger.error({ err: e.payload.error, restart: e.payload.restart }, 'consumer crashed');
      if (e.payload.restart) this.crashed = null;
    });
    this.consumer.on(STOP, () => {
      this.joined = false;
    });
  }

  /**
   * Connects, subscribes and starts the consumer loop. Throws when the broker cannot be reached; the consumer is then
   * disconnected again, so the call can be retried (waitForDependency).
   */
  async start(): Promise<void> {
    try {
      await this.consumer.connect();
      await this.consumer.subscribe({ topics: this.opts.topics, fromBeginning: this.opts.fromBeginning ?? true });
      this.running = true;
      await this.consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: this.opts.partitionsConsumedConcurrently ?? 1,
        eachBatch: (payload) => this.processBatch(payload),
      });
    } catch (err) {
      this.running = false;
      await this.consumer.disconnect().catch(() => undefined);
      throw err;
    }
  }

  private async processBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, isRunning, isStale, heartbeat, resolveOffset, commitOffsetsIfNecessary } = payload;
    if (batch.messages.length === 0 || !isRunning() || isStale()) return;
    this.inFlight++;
    const started = process.hrtime.bigint();
    const m = this.opts.metrics;
    const key = `${batch.topic}:${batch.partition}`;
    const labels = { group: this.opts.groupId, topic: batch.topic };
    const partitionLabels = { topic: batch.topic, partition: String(batch.partition) };
    this.reported.add(key);
    // Lag as of this attempt (every attempt, failed ones too: a partition stuck retrying shows its lag growing).
    m?.consumerLag.set(
      partitionLabels,
      Math.max(0, Number(BigInt(batch.highWatermark) - BigInt(batch.messages[0]!.offset))),
    );
    if (this.failing.has(key)) m?.batchRetries.inc(labels);
    try {
      const records: ConsumedRecord[] = batch.messages.map((m) => ({
        topic: batch.topic,
        partition: batch.partition,
        offset: m.offset,
        key: m.key ?? null,
        value: m.value ?? null,
        headers: headersToStrings(m.headers),
        timestamp: Number(m.timestamp),
      }));
      const partitionBatch: PartitionBatch = {
        topic: batch.topic,
        partition: batch.partition,
        records,
        highWatermark: batch.highWatermark,
      };
      const dead: DeadLetter[] = [];
      await this.opts.handler(partitionBatch, {
        deadLetter: (record, reason, message) => dead.push({ record, reason, message }),
        heartbeat,
        isStale,
      });
      if (dead.length > 0) await this.produceDeadLetters(dead);
      // A revoked partition's offsets are not ours to commit: its new owner re-processes (idempotently).
      if (isStale()) return;
      const last = batch.lastOffset();
      resolveOffset(last);
      await commitOffsetsIfNecessary({
        topics: [
          { topic: batch.topic, partitions: [{ partition: batch.partition, offset: (BigInt(last) + 1n).toString() }] },
        ],
      });
      this.lastBatchAt = Date.now();
      if (this.failing.delete(key)) m?.partitionRetrying.set({ ...labels, partition: partitionLabels.partition }, 0);
      if (m) {
        m.recordsIn.inc({ topic: batch.topic }, records.length);
        m.consumerLag.set(partitionLabels, Math.max(0, Number(BigInt(batch.highWatermark) - BigInt(last) - 1n)));
        m.batchDuration.observe({ topic: batch.topic }, Number(process.hrtime.bigint() - started) / 1e9);
      }
    } catch (err) {
      // kafkajs fetches the batch again from the last committed offset and retries (then crashes and restarts).
      this.failing.add(key);
      m?.batchFailures.inc(labels);
      m?.partitionRetrying.set({ ...labels, partition: partitionLabels.partition }, 1);
      throw err;
    } finally {
      this.inFlight--;
    }
  }

  private async produceDeadLetters(dead: DeadLetter[]): Promise<void> {
    const now = new Date().toISOString();
    // The broker refuses a record batch above its max message size (1 MiB by default), and such a refusal is not
    // retriable (it also throws the idempotent producer's sequence numbers out of step): input records that were
    // accepted one by one must not be combined into one too-large request, and a record near the limit must not
    // grow past it with our headers. So values and keys are capped (headers say so) and requests are bounded.
    const records = dead.map((d) => {
      const value = d.record.value ?? Buffer.alloc(0);
      const key = d.record.key;
      const truncated = value.length > DLQ_MAX_VALUE_BYTES || (key !== null && key.length > DLQ_MAX_KEY_BYTES);
      return {
        topic: dlqTopicOf(d.record.topic),
        record: {
          key: key !== null && key.length > DLQ_MAX_KEY_BYTES ? key.subarray(0, DLQ_MAX_KEY_BYTES) : key,
          value: value.length > DLQ_MAX_VALUE_BYTES ? value.subarray(0, DLQ_MAX_VALUE_BYTES) : value,
          headers: {
            ...d.record.headers,
            [DLQ_HEADERS.reason]: d.reason,
            [DLQ_HEADERS.error]: d.message.slice(0, 2_000),
            [DLQ_HEADERS.sourceTopic]: d.record.topic,
            [DLQ_HEADERS.sourcePartition]: String(d.record.partition),
            [DLQ_HEADERS.sourceOffset]: d.record.offset,
            [DLQ_HEADERS.firstSeenAt]: d.record.headers[DLQ_HEADERS.firstSeenAt] ?? now,
            [DLQ_HEADERS.service]: this.opts.service,
            ...(truncated
              ? { [DLQ_HEADERS.truncated]: `value ${value.length} bytes, key ${key?.length ?? 0} bytes` }
              : {}),
          },
        },
      };
    });
    let chunk: typeof records = [];
    let chunkBytes = 0;
    const flush = async () => {
      if (chunk.length === 0) return;
      const byTopic = new Map<string, OutgoingRecord[]>();
      for (const r of chunk) byTopic.set(r.topic, [...(byTopic.get(r.topic) ?? []), r.record]);
      await this.opts.producer.sendMany([...byTopic].map(([topic, list]) => ({ topic, records: list })));
      chunk = [];
      chunkBytes = 0;
    };
    for (const r of records) {
      const bytes = r.record.value.length + (r.record.key?.length ?? 0) + 4_096;
      if (chunkBytes + bytes > DLQ_MAX_REQUEST_BYTES) await flush();
      chunk.push(r);
      chunkBytes += bytes;
    }
    await flush();
    for (const d of dead) this.opts.metrics?.dlq.inc({ topic: d.record.topic, reason: d.reason });
    this.opts.logger.warn(
      { count: dead.length, reasons: [...new Set(dead.map((d) => d.reason))], topic: dead[0]?.record.topic },
      'sent records to the dead-letter topic',
    );
  }

  /**
   * After a group join: the per-partition gauges of partitions this member no longer owns are removed (their new
   * owner reports them; a stale lag, retrying flag or watermark here would count twice in sums, mins and alerts).
   */
  private forgetRevoked(assignment: Record<string, number[]>): void {
    const owned = new Set(Object.entries(assignment).flatMap(([t, ps]) => ps.map((p) => `${t}:${p}`)));
    for (const key of [...this.reported]) {
      if (owned.has(key)) continue;
      this.reported.delete(key);
      this.failing.delete(key);
      const [topic, partition] = [key.slice(0, key.lastIndexOf(':')), key.slice(key.lastIndexOf(':') + 1)];
      this.opts.metrics?.consumerLag.remove({ topic, partition });
      this.opts.metrics?.watermark.remove({ topic, partition }); // the aggregator's input watermark, same labels
      this.opts.metrics?.partitionRetrying.remove({ group: this.opts.groupId, topic, partition });
    }
  }

  /** Liveness: the loop has not crashed for good. */
  isLive(): boolean {
    return this.crashed === null;
  }

  /** Readiness: running and a member of the group. */
  isReady(): boolean {
    return this.running && this.joined && this.crashed === null;
  }

  /** Millis since the last committed batch (for health details and tests). */
  idleMs(): number {
    return Date.now() - this.lastBatchAt;
  }

  /** Graceful stop: kafkajs lets the batch in flight finish (and commit) before it leaves the group. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    await this.consumer.stop();
    await this.consumer.disconnect();
  }

  /** Batches being processed right now (0 after stop). */
  busy(): number {
    return this.inFlight;
  }

  pause(): void {
    this.consumer.pause(this.opts.topics.map((topic) => ({ topic })));
  }

  resume(): void {
    this.consumer.resume(this.opts.topics.map((topic) => ({ topic })));
  }
}

function headersToStrings(headers: EachBatchPayload['batch']['messages'][number]['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  if (!headers) return out;
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined) continue;
    out[k] = Array.isArray(v) ? v.map(String).join(',') : String(v);
  }
  return out;
}
