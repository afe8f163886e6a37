import type { DeadLetterReason } from '@tierstream/destinations';
import { type ConsumedRecord, DLQ_HEADERS, type OutgoingRecord } from '@tierstream/kafka';

/** Why an item reached a destination's dead-letter topic: a delivery outcome, or an input that cannot be read. */
export type DestinationDlqReason = DeadLetterReason | 'UNDECODABLE';

/** Extra DLQ headers of destination dead letters (beside DLQ_HEADERS). */
export const DESTINATION_DLQ_HEADERS = {
  destination: 'tierstream-dlq-destination',
  status: 'tierstream-dlq-status',
  attempts: 'tierstream-dlq-attempts',
} as const;

/**
 * The JSON value of a destination dead letter (docs/destinations.md, "Dead letters"): what was to be delivered
 * (`payload`: the webhook body or the CRM record), why it failed, the last HTTP status (null: network error or
 * timeout), the first 512 characters of the last response body, and how many attempts were made.
 */
export interface DestinationDeadLetter {
  destination: string;
  reason: DestinationDlqReason;
  message: string;
  status: number | null;
  body_excerpt: string;
  attempts: number;
  customer_id: string | null;
  /** The transition id (webhook) or null (crm-upsert). */
  idempotency_key: string | null;
  payload: unknown;
  dead_lettered_at: string;
}

/** The record produced to the destination's DLQ topic for `letter`, keyed by customer, headers naming the source. */
export function deadLetterRecord(
  letter: Omit<DestinationDeadLetter, 'dead_lettered_at'>,
  source: ConsumedRecord,
  service: string,
): OutgoingRecord {
  const now = new Date().toISOString();
  const value: DestinationDeadLetter = { ...letter, dead_lettered_at: now };
  return {
    key: letter.customer_id ?? source.key,
    value: Buffer.from(JSON.stringify(value)),
    headers: {
      [DLQ_HEADERS.reason]: letter.reason,
      [DLQ_HEADERS.error]: letter.message.slice(0, 2_000),
      [DLQ_HEADERS.sourceTopic]: source.topic,
      [DLQ_HEADERS.sourcePartition]: String(source.partition),
      [DLQ_HEADERS.sourceOffset]: source.offset,
      [DLQ_HEADERS.firstSeenAt]: now,
      [DLQ_HEADERS.service]: service,
      [DESTINATION_DLQ_HEADERS.destination]: letter.destination,
      [DESTINATION_DLQ_HEADERS.status]: letter.status === null ? '' : String(letter.status),
      [DESTINATION_DLQ_HEADERS.attempts]: String(letter.attempts),
    },
  };
}
