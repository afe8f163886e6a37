/**
 * The writer's step for identity events (migration 0006, docs/design-decisions.md §22): identities.v1 records become
 * identity_events rows as received, their dead letters (identities.v1.dlq, written by the aggregator when the
 * identity graph refuses an event) the same rows as refused, with the dead letter's reason. A record that does not
 * decode as an IdentityEvent is skipped, never dead-lettered here: the aggregator reads the same topic and
 * dead-letters it, and the dead-letter topic's own bad records have nowhere further to go.
 */
import {
  type AvroSerde,
  type IdentityEvent,
  UndecodableMessageError,
  UnknownSchemaIdError,
} from '@tierstream/contracts';
import { type ConsumedRecord, DLQ_HEADERS } from '@tierstream/kafka';
import { type RoutedRow, routeIdentityRecord, WarehouseError } from '@tierstream/warehouse';

/** Rows of one batch of identities.v1 (`rejected` false) or identities.v1.dlq (`rejected` true), and what was skipped. */
export async function identityRows(
  records: readonly ConsumedRecord[],
  serde: Pick<AvroSerde, 'decode'>,
  opts: { rejected: boolean; now: number },
): Promise<{ rows: RoutedRow[]; skipped: number }> {
  const rows: RoutedRow[] = [];
  let skipped = 0;
  for (const record of records) {
    if (record.value === null) {
      skipped++;
      continue;
    }
    let decoded: { schemaName: string; value: unknown };
    try {
      decoded = await serde.decode(record.value);
    } catch (err) {
      // A registry outage is retried (rethrown); bytes that are not a known schema are skipped.
      if (!(err instanceof UndecodableMessageError || err instanceof UnknownSchemaIdError)) throw err;
      skipped++;
      continue;
    }
    if (decoded.schemaName !== 'io.tierstream.IdentityEvent') {
      skipped++;
      continue;
    }
    const reason = opts.rejected ? { reason: String(record.headers[DLQ_HEADERS.reason] ?? 'UNKNOWN') } : null;
    try {
      rows.push(routeIdentityRecord(decoded.value as IdentityEvent, reason, opts.now));
    } catch (err) {
      if (!(err instanceof WarehouseError)) throw err;
      skipped++;
    }
  }
  return { rows, skipped };
}
