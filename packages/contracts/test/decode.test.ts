import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { describe, expect, it } from 'vitest';
import {
  AvroSerde,
  type DecodedMessage,
  decodeAndValidate,
  loadSchemas,
  TOPICS,
  UndecodableMessageError,
  UnknownSchemaIdError,
} from '../src/index';

const NOW = Date.UTC(2026, 5, 30);
const opts = { now: NOW };
const schemas = loadSchemas();
const order = {
  event_id: 'e',
  customer_id: 'C1',
  order_id: 'o',
  type: 'PLACED',
  amount_minor: 1,
  currency: 'USD',
  margin_minor: null,
  channel: null,
  items: null,
  occurred_at: NOW,
  original_placed_at: null,
  refund_id: null,
  attributes: null,
};

/** A registry stand-in that knows schema id 7 = OrderEvent and fails other ids as told. */
function fakeRegistry(getSchemaError?: unknown): SchemaRegistry {
  const type = schemas[TOPICS.orders].type;
  return {
    getSchema: async (id: number) => {
      if (getSchemaError) throw getSchemaError;
      if (id !== 7) throw Object.assign(new Error('Schema not found'), { status: 404 });
      return type;
    },
    decode: async (buf: Buffer) => type.fromBuffer(buf.subarray(5)),
  } as unknown as SchemaRegistry;
}
const frame = (id: number, body: Buffer) => {
  const h = Buffer.alloc(5);
  h.writeInt32BE(id, 1);
  return Buffer.concat([h, body]);
};

describe('AvroSerde.decode classification', () => {
  const serde = new AvroSerde(fakeRegistry(), { registryUrl: 'http://127.0.0.1:1' });
  const body = schemas[TOPICS.orders].type.toBuffer(order);

  it('decodes a framed message and reports the writer schema', async () => {
    const d = await serde.decode(frame(7, body));
    expect(d.schemaId).toBe(7);
    expect(d.schemaName).toBe('io.tierstream.OrderEvent');
    expect(JSON.parse(JSON.stringify(d.value))).toEqual(order);
  });

  it('bad framing and bad bodies are undecodable; unknown ids are unknown', async () => {
    await expect(serde.decode(Buffer.from([1, 0, 0, 0, 7]))).rejects.toBeInstanceOf(UndecodableMessageError);
    await expect(serde.decode(Buffer.from([0, 0]))).rejects.toBeInstanceOf(UndecodableMessageError);
    await expect(serde.decode(frame(7, body.subarray(0, 4)))).rejects.toBeInstanceOf(UndecodableMessageError);
    await expect(serde.decode(frame(8, body))).rejects.toBeInstanceOf(UnknownSchemaIdError);
  });

  it('a registry outage is rethrown, not classified (it is transient)', async () => {
    const down = new AvroSerde(fakeRegistry(Object.assign(new Error('Bad gateway'), { status: 502 })), {
      registryUrl: 'http://127.0.0.1:1',
    });
    await expect(down.decode(frame(7, body))).rejects.toThrow('Bad gateway');
    await expect(decodeAndValidate(down, TOPICS.orders, frame(7, body), opts)).rejects.toThrow('Bad gateway');
  });
});

describe('decodeAndValidate', () => {
  const fixed = (d: Partial<DecodedMessage> | Error) => ({
    decode: async (): Promise<DecodedMessage> => {
      if (d instanceof Error) throw d;
      return { value: order, schemaId: 1, schemaName: 'io.tierstream.OrderEvent', ...d };
    },
  });
  const reason = async (serde: ReturnType<typeof fixed>, topic: string, buf: Buffer | null, max?: number) => {
    const r = await decodeAndValidate(serde, topic, buf, { ...opts, maxMessageBytes: max });
    return r.ok ? 'OK' : r.reason;
  };
  const buf = Buffer.alloc(10);

  it('maps each failure to its DLQ reason', async () => {
    expect(await reason(fixed({}), TOPICS.orders, buf)).toBe('OK');
    expect(await reason(fixed({}), TOPICS.orders, buf, 9)).toBe('OVERSIZED');
    expect(await reason(fixed({}), TOPICS.orders, null)).toBe('UNDECODABLE');
    expect(await reason(fixed(new UndecodableMessageError('x')), TOPICS.orders, buf)).toBe('UNDECODABLE');
    expect(await reason(fixed(new UnknownSchemaIdError(5)), TOPICS.orders, buf)).toBe('UNKNOWN_SCHEMA_ID');
    expect(await reason(fixed({ schemaName: 'io.tierstream.TicketEvent' }), TOPICS.orders, buf)).toBe('WRONG_SCHEMA');
    expect(await reason(fixed({ schemaName: 'com.other.OrderEvent' }), TOPICS.orders, buf)).toBe('WRONG_SCHEMA');
    expect(await reason(fixed({ value: { ...order, amount_minor: -1 } }), TOPICS.orders, buf)).toBe('NEGATIVE_AMOUNT');
  });
});
