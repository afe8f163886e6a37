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
 * What a handler returns when part of a batch's effects may finish after it returned (pipelining, §23 of
 * docs/design-decisions.md): the runner calls `finish` once the partition's previous batch is finished, committed
 * or not, and commits this batch's offsets only after it resolved (and the dead letters are produced). Meanwhile the
 * handler gets the partition's next batch: whatever a handler does before it returns runs in batch order, `finish`
 * too, but one batch's `finish` overlaps the next batch's handler. If `finish` rejects, neither this batch nor any
 * later one of the partition is committed, and the partition is fetched again from this batch's first offset.
 */
export interface BatchFinish {
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
