import type { ServiceMetrics } from '@tierstream/observability';
import type { Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import {
  type BatchFinish,
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
  /**
   * Bytes fetched per partition per request: kafkajs sizes batches in bytes only. A fetch request holds up to this
   * times the partitions processed concurrently (at least kafkajs' 10 MiB), so that many partitions get a full batch.
   */
  maxBytesPerPartition?: number;
  sessionTimeoutMs?: number;
  /** Partitions processed concurrently; 1 keeps one partition's batches strictly in order. */
  partitionsConsumedConcurrently?: number;
  /** Longest a fetch waits for data when a partition is idle: the floor of per-hop latency in live mode. */
  maxWaitTimeMs?: number;
  /** Called with this member's partitions after every group join, and with {} when a rebalance starts. */
  onAssignment?: (partitionsByTopic: Record<string, number[]>) => void;
}

/** Per partition: the batches of a pipelined handler whose finish is pending. */
interface PartitionChain {
  /** Bumped when the partition is sought back after a failed finish: the finishes queued before do nothing. */
  epoch: number;
  /** Settles when the last queued batch is finished: true when it and every earlier one of its epoch succeeded. */
  last: Promise<boolean>;
  /** Settles when the last queued batch's `apply` is done: true when it and every earlier one of its epoch succeeded. */
  applied: Promise<boolean>;
  /** Failed finishes since the last commit (the backoff before the next attempt). */
  failures: number;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Dead-letter values and keys above these sizes are cut (header `tierstream-dlq-truncated` gives the sizes). */
const DLQ_MAX_VALUE_BYTES = 768 * 1024;
const DLQ_MAX_KEY_BYTES = 16 * 1024;

/**
 * Runs a consumer group with commit-after-effect:
 *   fetch a partition batch → handler applies the effect (and queues dead letters) → dead letters are produced →
 *   the batch's offsets are committed with the current group generation.
 * If the partition was revoked meanwhile, the commit is refused by the coordinator (stale generation) or skipped
 * (isStale), and the new owner re-processes the batch: effects are idempotent, so that is safe.
 *
 * Pipelining: a handler that returns a BatchFinish has returned once the batch's ordered part is done; the runner
 * then lets kafkajs fetch the partition's next batch and runs `finish`, the dead letters and the commit behind it
 * (chained per partition, one batch ahead at most: a batch's handler returns only after the previous batch is
 * finished). A failed `finish` commits nothing from that batch on and seeks the partition back to its first offset
 * (after a backoff), so every later batch is delivered again too. Commits are skipped for batches fetched before a
 * rebalance or a consumer restart (the partition is fetched again from the committed offset).
 */
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
  /** `topic:partition` of the partitions assigned at the last group join. */
  private assigned = new Set<string>();
  /** Per `topic:partition`: the batches whose finish is pending (pipelined handlers). */
  private readonly chains = new Map<string, PartitionChain>();
  /** Bumped at every rebalance, join and crash: batches fetched before are not committed by this member. */
  private generation = 0;
  private stopping = false;

  constructor(private readonly opts: ConsumerRunnerOptions) {
    this.consumer = opts.kafka.consumer({
      groupId: opts.groupId,
      sessionTimeout: opts.sessionTimeoutMs ?? 30_000,
      heartbeatInterval: 3_000,
      maxBytesPerPartition: opts.maxBytesPerPartition ?? 1_048_576,
      maxBytes: Math.max(
        10_485_760,
        (opts.maxBytesPerPartition ?? 1_048_576) * (opts.partitionsConsumedConcurrently ?? 1),
      ),
      maxWaitTimeInMs: opts.maxWaitTimeMs ?? 100,
      allowAutoTopicCreation: false,
      retry: { retries: 10 },
    });
    const { GROUP_JOIN, CRASH, STOP, REBALANCING } = this.consumer.events;
    this.consumer.on(REBALANCING, () => {
      this.joined = false;
      this.generation++;
      opts.onAssignment?.({});
    });
    this.consumer.on(GROUP_JOIN, (e) => {
      this.joined = true;
      this.generation++;
      this.assigned = new Set(
        Object.entries(e.payload.memberAssignment).flatMap(([t, ps]) => ps.map((p) => `${t}:${p}`)),
      );
      this.forgetRevoked(e.payload.memberAssignment);
      opts.onAssignment?.(e.payload.memberAssignment);
      opts.logger.info({ groupId: opts.groupId, assignment: e.payload.memberAssignment }, 'joined consumer group');
    });
    this.consumer.on(CRASH, (e) => {
      opts.metrics?.consumerCrashes.inc({ group: opts.groupId });
      this.crashed = e.payload.error;
      this.joined = false;
      this.generation++;
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
    if (batch.messages.length === 0 || !isRunning() || isStale() || this.stopping) return;
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
    const chain = this.chainOf(key);
    try {
      // After a failed finish the partition was sought back: this is the retry, after a backoff.
      if (chain.failures > 0) await sleep(Math.min(5_000, 200 * 2 ** (chain.failures - 1)));
      const epoch = chain.epoch;
      const generation = this.generation;
      const records: ConsumedRecord[] = new Array(batch.messages.length);
      for (let i = 0; i < batch.messages.length; i++) {
        const msg = batch.messages[i]!;
        records[i] = {
          topic: batch.topic,
          partition: batch.partition,
          offset: msg.offset,
          key: msg.key ?? null,
          value: msg.value ?? null,
          headers: headersToStrings(msg.headers),
          timestamp: Number(msg.timestamp),
        };
      }
      const partitionBatch: PartitionBatch = {
        topic: batch.topic,
        partition: batch.partition,
        records,
        highWatermark: batch.highWatermark,
      };
      const dead: DeadLetter[] = [];
      const result = await this.opts.handler(partitionBatch, {
        deadLetter: (record, reason, message) => dead.push({ record, reason, message }),
        heartbeat,
        isStale,
      });
      const last = batch.lastOffset();
      const commit = async () => {
        // A revoked partition's offsets are not ours to commit: its new owner re-processes (idempotently).
        if (isStale() || this.generation !== generation || chain.epoch !== epoch) return;
        await commitOffsetsIfNecessary({
          topics: [
            {
              topic: batch.topic,
              partitions: [{ partition: batch.partition, offset: (BigInt(last) + 1n).toString() }],
            },
          ],
        });
        this.lastBatchAt = Date.now();
        chain.failures = 0;
        if (this.failing.delete(key)) m?.partitionRetrying.set({ ...labels, partition: partitionLabels.partition }, 0);
        if (m) {
          m.recordsIn.inc({ topic: batch.topic }, records.length);
          m.consumerLag.set(partitionLabels, Math.max(0, Number(BigInt(batch.highWatermark) - BigInt(last) - 1n)));
          m.batchDuration.observe({ topic: batch.topic }, Number(process.hrtime.bigint() - started) / 1e9);
        }
      };
      if (!result) {
        // Not pipelined: the previous batch's finish (if any) first, then dead letters and commit, errors thrown.
        await chain.last;
        if (dead.length > 0) await this.produceDeadLetters(dead);
        if (isStale()) return;
        resolveOffset(last);
        await commit();
        return;
      }
      if (isStale() || chain.epoch !== epoch) return;
      // The next fetch of this partition starts after this batch; its apply follows the previous one's apply, its
      // finish and commit follow its apply and the previous one's finish.
      resolveOffset(last);
      const previous = chain.last;
      const firstOffset = batch.messages[0]!.offset;
      let applied = chain.applied;
      if (result.apply) {
        const apply = result.apply.bind(result);
        applied = chain.applied = this.applyAfter(chain.applied, chain, epoch, generation, apply).catch(
          async (err: unknown) => {
            // The previous batch's finish first: if it fails too, it rewinds to its own first offset (this rewind,
            // of the same epoch, then does nothing), so that no earlier batch is skipped.
            await previous;
            this.rewind(chain, epoch, generation, batch.topic, batch.partition, firstOffset, err);
            return false;
          },
        );
      }
      chain.last = this.finishAfter(previous, applied, chain, epoch, generation, result, async () => {
        if (dead.length > 0) await this.produceDeadLetters(dead);
        await commit();
      }).catch((err: unknown) => {
        this.rewind(chain, epoch, generation, batch.topic, batch.partition, firstOffset, err);
        return false;
      });
      // One batch ahead at most: this handler returns (and the next batch is handed out) once the previous one is
      // finished.
      await previous;
    } catch (err) {
      // kafkajs fetches the batch again from the last resolved offset and retries (then crashes and restarts).
      this.failing.add(key);
      m?.batchFailures.inc(labels);
      m?.partitionRetrying.set({ ...labels, partition: partitionLabels.partition }, 1);
      throw err;
    } finally {
      this.inFlight--;
    }
  }

  /**
   * `apply()` once `previous` (the previous batch's apply) settled true in the same epoch; resolves false without
   * running it when an earlier batch failed; rejects with its error.
   */
  private async applyAfter(
    previous: Promise<boolean>,
    chain: PartitionChain,
    epoch: number,
    generation: number,
    apply: () => Promise<void>,
  ): Promise<boolean> {
    if (!(await previous) || chain.epoch !== epoch) return false;
    // Fetched before a rebalance or restart: the partition's owner now fetches it again from the committed offset.
    if (this.generation !== generation) return true;
    await apply();
    return true;
  }

  /**
   * `result.finish()` then `then()`, once `previous` (the previous batch's finish) and `applied` (this batch's apply)
   * settled true in the same epoch; resolves false without running them when an earlier batch or this one's apply
   * failed (this one is then delivered again); rejects with their error.
   */
  private async finishAfter(
    previous: Promise<boolean>,
    applied: Promise<boolean>,
    chain: PartitionChain,
    epoch: number,
    generation: number,
    result: BatchFinish,
    then: () => Promise<void>,
  ): Promise<boolean> {
    if (!(await previous) || !(await applied) || chain.epoch !== epoch) return false;
    // Fetched before a rebalance or restart: not finished here (a late write, e.g. attributes, would land over the
    // new owner's); the partition's owner now fetches it again from the committed offset and finishes it.
    if (this.generation !== generation) return true;
    await result.finish();
    await then();
    return true;
  }

  /**
   * A pipelined batch failed to apply or finish: nothing of it or after it is committed; the partition is sought back
   * to its first offset (a new epoch: the applies and finishes queued behind it do nothing) and its next batch waits
   * a backoff.
   */
  private rewind(
    chain: PartitionChain,
    epoch: number,
    generation: number,
    topic: string,
    partition: number,
    offset: string,
    err: unknown,
  ): void {
    if (chain.epoch !== epoch) return;
    chain.epoch++;
    chain.failures++;
    chain.last = Promise.resolve(true);
    chain.applied = Promise.resolve(true);
    const key = `${topic}:${partition}`;
    this.failing.add(key);
    this.opts.metrics?.batchFailures.inc({ group: this.opts.groupId, topic });
    this.opts.metrics?.partitionRetrying.set({ group: this.opts.groupId, topic, partition: String(partition) }, 1);
    this.opts.logger.error(
      { err, topic, partition, offset },
      'applying or finishing a batch failed: the partition is fetched again from that batch',
    );
    // A batch fetched before a rebalance or restart: the partition is fetched again from the committed offset anyway
    // (a seek would jump over the batches before it, which this member did not finish).
    if (this.running && this.assigned.has(key) && this.generation === generation)
      this.consumer.seek({ topic, partition, offset });
  }

  private chainOf(key: string): PartitionChain {
    let chain = this.chains.get(key);
    if (!chain) {
      chain = { epoch: 0, last: Promise.resolve(true), applied: Promise.resolve(true), failures: 0 };
      this.chains.set(key, chain);
    }
    return chain;
  }

  private async produceDeadLetters(dead: DeadLetter[]): Promise<void> {
    const now = new Date().toISOString();
    // The broker refuses a record batch above its max message size (1 MiB by default), and such a refusal is not
    // retriable (it also throws the idempotent producer's sequence numbers out of step): input records that were
    // accepted one by one must not be combined into one too-large request, and a record near the limit must not
    // grow past it with our headers. So values and keys are capped (headers say so); the producer bounds requests.
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
    // One send: the producer cuts it into requests within the broker's bounds (createProducer), in order.
    const byTopic = new Map<string, OutgoingRecord[]>();
    for (const r of records) {
      const list = byTopic.get(r.topic);
      if (list) list.push(r.record);
      else byTopic.set(r.topic, [r.record]);
    }
    await this.opts.producer.sendMany([...byTopic].map(([topic, list]) => ({ topic, records: list })));
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

  /**
   * Graceful stop: no new batch is started; the batches in flight and the pending finishes complete (and commit)
   * before the consumer leaves the group.
   */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.stopping = true;
    this.consumer.pause(this.opts.topics.map((topic) => ({ topic })));
    while (this.inFlight > 0) await sleep(10);
    await Promise.all([...this.chains.values()].map((c) => c.last));
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

/** One shared empty object for the (usual) records without headers: nothing allocated per record. */
const NO_HEADERS: Record<string, string> = Object.freeze({}) as Record<string, string>;

function headersToStrings(headers: EachBatchPayload['batch']['messages'][number]['headers']): Record<string, string> {
  let out: Record<string, string> | undefined;
  if (!headers) return NO_HEADERS;
  for (const k in headers) {
    const v = headers[k];
    if (v === undefined) continue;
    out ??= {};
    out[k] = Array.isArray(v) ? v.map(String).join(',') : String(v);
  }
  return out ?? NO_HEADERS;
}
