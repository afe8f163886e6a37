import { UndecodableMessageError } from '@tierstream/contracts';
import { type ConsumedRecord, DLQ_HEADERS } from '@tierstream/kafka';
import { describe, expect, it } from 'vitest';
import { identityRows } from '../src/identity-rows';

const merge = {
  event_id: 'm1',
  type: 'MERGE',
  customer_id: 'B',
  anonymous_id: null,
  merged_customer_id: 'A',
  source: null,
  occurred_at: Date.UTC(2026, 2, 1),
};
const rec = (value: string | null, headers: Record<string, string> = {}): ConsumedRecord =>
  ({
    topic: 't',
    partition: 0,
    offset: '1',
    key: null,
    value: value === null ? null : Buffer.from(value),
    headers,
    timestamp: '0',
  }) as unknown as ConsumedRecord;

/** A serde whose "bytes" are JSON with the schema name beside the value; `bad` is undecodable, `down` an outage. */
const serde = {
  decode: async (buf: Buffer) => {
    const text = buf.toString();
    if (text === 'bad') throw new UndecodableMessageError('not Avro');
    if (text === 'down') throw new Error('registry unreachable');
    const { schemaName, value } = JSON.parse(text) as { schemaName: string; value: unknown };
    return { schemaId: 1, schemaName, value };
  },
};
const identity = (v: unknown) => JSON.stringify({ schemaName: 'io.tierstream.IdentityEvent', value: v });

describe('identityRows', () => {
  it('writes received events, refused ones with the dead letter reason, and skips what is not an identity event', async () => {
    const received = await identityRows([rec(identity(merge)), rec('bad'), rec(null)], serde as never, {
      rejected: false,
      now: 5,
    });
    expect(received.skipped).toBe(2);
    expect(received.rows).toEqual([
      {
        table: 'identity_events',
        row: expect.objectContaining({ event_id: 'm1', status: 'RECEIVED', status_rank: 0 }),
      },
    ]);
    const other = JSON.stringify({ schemaName: 'io.tierstream.OrderEvent', value: {} });
    const dead = await identityRows(
      [
        rec(identity(merge), { [DLQ_HEADERS.reason]: 'MERGE_CYCLE' }),
        rec(other),
        rec(identity({ ...merge, event_id: '' })),
      ],
      serde as never,
      { rejected: true, now: 6 },
    );
    expect(dead.skipped).toBe(2);
    expect(dead.rows[0]!.row).toMatchObject({
      status: 'REJECTED',
      reason: 'MERGE_CYCLE',
      status_rank: 1,
      written_at: 6,
    });
  });

  it('rethrows a registry outage (the batch is retried, not skipped)', async () => {
    await expect(identityRows([rec('down')], serde as never, { rejected: false, now: 1 })).rejects.toThrow(
      /unreachable/,
    );
  });
});
