/**
 * The project's own consumer/producer interface. Services depend on these shapes, not on kafkajs, so that a
 * maintained client (@platformatic/kafka, @confluentinc/kafka-javascript) can replace kafkajs in this package alone.
 */
export interface ConsumedRecord {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
  /** Broker timestamp (ms) of the record. */
  timestamp: number;
}

export interface PartitionBatch {
  topic: string;
  partition: number;
  records: ConsumedRecord[];
  highWatermark: string;
}

export interface OutgoingRecord {
  key: string | Buffer | null;
  value: Buffer;
  headers?: Record<string, string>;
  /** Explicit partition (control records); otherwise the default partitioner hashes the key. */
  partition?: number;
}

/**
 * Header that marks a control record on an input topic (not an event). `watermark` carries an instant (epoch ms,
 * UTF-8 digits) in the value: every event of this partition up to that instant has been produced.
 */
export const CONTROL_HEADER = 'tierstream-control';

export interface DeadLetter {
  record: ConsumedRecord;
  reason: string;
  message: string;
}

export interface BatchContext {
  /** Queue a record for `<topic>.dlq`; the runner produces the dead letters before it commits the batch. */
  deadLetter(record: ConsumedRecord, reason: string, message: string): void;
  /** Keep the group membership alive during long work. */
  heartbeat(): Promise<void>;
  /** True once this partition was revoked or seeked: stop work, the new owner will redo it. */
  isStale(): boolean;
}

/**
 * What a handler returns when part of a batch's effects may run after it returned (pipelining, §23 of
 * docs/design-decisions.md). Per partition, in batch order:
 * - `apply` (optional): the batch's ordered effect. The runner calls it once the partition's previous batch's `apply`
 *   resolved (not its `finish`), so it overlaps kafkajs' next fetch and the handler's work on the next batch. With
 *   `apply`, what the handler does before it returns must not depend on earlier batches' effects (decoding only).
 * - `finish`: called once this batch's `apply` and the previous batch's `finish` resolved; one batch's `finish`
 *   overlaps the next batch's `apply`. The batch's offsets are committed only after it (and its dead letters).
 * The handler gets the partition's next batch once the previous batch is finished (one batch ahead at most). If
 * `apply` or `finish` rejects, neither this batch nor any later one of the partition is committed, and the partition
 * is fetched again from this batch's first offset.
 */
export interface BatchFinish {
  apply?(): Promise<void>;
  finish(): Promise<void>;
}

export type BatchHandler = (
  batch: PartitionBatch,
  ctx: BatchContext,
) => Promise<void> | Promise<BatchFinish | undefined>;

/**
 * Produces records, keeping their order per topic. createProducer's sends are cut into requests within the broker's
 * bounds (client.ts COALESCE_MAX_BYTES, COALESCE_MAX_RECORDS), so a caller may send any number of records at once.
 */
export interface RecordProducer {
  send(topic: string, records: OutgoingRecord[]): Promise<void>;
  sendMany(batches: Array<{ topic: string; records: OutgoingRecord[] }>): Promise<void>;
  disconnect(): Promise<void>;
}

/** DLQ header names (documented in docs/operations.md). */
export const DLQ_HEADERS = {
  reason: 'tierstream-dlq-reason',
  error: 'tierstream-dlq-error',
  sourceTopic: 'tierstream-dlq-source-topic',
  sourcePartition: 'tierstream-dlq-source-partition',
  sourceOffset: 'tierstream-dlq-source-offset',
  firstSeenAt: 'tierstream-dlq-first-seen-at',
  service: 'tierstream-dlq-service',
  /** Set when the key or value was cut to the DLQ size caps: the original sizes. */
  truncated: 'tierstream-dlq-truncated',
} as const;

export const dlqTopicOf = (topic: string) => `${topic}.dlq`;
