/**
 * Fakes shared by the handler's unit tests: records carry their event as JSON, and the fake serde "decodes" them as
 * the contract named (no registry).
 */
import type { ApplyResult } from '@tierstream/aggregates';
import type { AvroSerde } from '@tierstream/contracts';
import type { BatchContext, ConsumedRecord } from '@tierstream/kafka';
import pino from 'pino';

/** The tests' clock: 2026-06-01 12:00 UTC (ms). */
export const NOW = Date.UTC(2026, 5, 1, 12);

/** A consumed record of `topic`/`partition` at `offset` whose value is `event` as JSON. */
export function jsonRecord(topic: string, partition: number, offset: string, event: object): ConsumedRecord {
  return { topic, partition, offset, key: null, value: Buffer.from(JSON.stringify(event)), headers: {}, timestamp: 0 };
}

/** A serde that reads the records' JSON as the schema `schemaName` and writes JSON. */
export function jsonSerde(schemaName: string): AvroSerde {
  return {
    decodeIfCached: (b: Buffer) => ({ value: JSON.parse(b.toString()), schemaId: 1, schemaName }),
    encodeIfCached: (_t: string, v: unknown) => Buffer.from(JSON.stringify(v)),
  } as unknown as AvroSerde;
}

/** A batch context that drops dead letters and is never stale. */
export const ctx: BatchContext = {
  deadLetter: () => undefined,
  heartbeat: async () => undefined,
  isStale: () => false,
};

/** The apply result of a customer the script applied nothing to. */
export const none: ApplyResult = { applied: 0, firstEventAt: 0, lastEventAt: 0, refundExcess: 0, expiredReversals: 0 };

/** The handler settings every unit test uses: the signals topic (2 partitions), validation bounds, silence, NOW. */
export const handlerSettings = {
  signalsTopic: 'customer-signals.v1',
  signalPartitions: 2,
  validation: { maxFutureSkewMs: 3_600_000, maxMessageBytes: 100_000 },
  logger: pino({ level: 'silent' }),
  now: () => NOW,
};
