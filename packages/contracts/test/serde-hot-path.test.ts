import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { describe, expect, it } from 'vitest';
import { AvroSerde, loadSchemas, TOPICS, UndecodableMessageError } from '../src/index';

const schemas = loadSchemas();
const type = schemas[TOPICS.orders].type;
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
  occurred_at: Date.UTC(2026, 5, 30),
  original_placed_at: null,
  refund_id: null,
  attributes: null,
};
/** Confluent framing as the registry library writes it: magic 0, the id, the body. */
const frame = (id: number, body: Buffer) => {
  const h = Buffer.alloc(5);
  h.writeInt32BE(id, 1);
  return Buffer.concat([h, body]);
};

/** A registry stand-in: schema id 7 = OrderEvent, the latest of every subject. */
function registry(): SchemaRegistry {
  return {
    getSchema: async (id: number) => {
      if (id !== 7) throw Object.assign(new Error('Schema not found'), { status: 404 });
      return type;
    },
    getLatestSchemaId: async () => 7,
    encode: async (id: number, value: unknown) => frame(id, type.toBuffer(value)),
  } as unknown as SchemaRegistry;
}

describe('AvroSerde hot paths (encodeIfCached, decodeIfCached)', () => {
  it('encodeIfCached writes the bytes the registry library writes, for messages below and above its scratch buffer', async () => {
    const serde = new AvroSerde(registry(), { registryUrl: 'http://127.0.0.1:1' });
    expect(serde.encodeIfCached(TOPICS.orders, order)).toBeUndefined();
    await serde.encode(TOPICS.orders, order);
    for (const size of [0, 10, 4_000, 4_200, 70_000, 3]) {
      const value = { ...order, channel: 'c'.repeat(size), order_id: `o${size}` };
      const bytes = serde.encodeIfCached(TOPICS.orders, value);
      expect(bytes, `channel of ${size}`).toEqual(frame(7, type.toBuffer(value)));
      // Each message its own bytes: the next encode (through the same scratch buffer) leaves them as they are.
      const copy = Buffer.from(bytes!);
      serde.encodeIfCached(TOPICS.orders, { ...order, channel: 'x'.repeat(size + 1) });
      expect(bytes).toEqual(copy);
      expect(type.fromBuffer(bytes!.subarray(5))).toMatchObject({ channel: 'c'.repeat(size) });
    }
    // A value the schema refuses: undefined (encode then gives the library's error).
    expect(serde.encodeIfCached(TOPICS.orders, { ...order, amount_minor: 'x' })).toBeUndefined();
  });

  it('decodeIfCached decodes in place, and says truncated or trailing bytes as before', async () => {
    const serde = new AvroSerde(registry(), { registryUrl: 'http://127.0.0.1:1' });
    const good = frame(7, type.toBuffer(order));
    expect((await serde.decode(good)).value).toMatchObject(order);
    expect(serde.decodeIfCached(good)).toMatchObject({
      value: order,
      schemaId: 7,
      schemaName: 'io.tierstream.OrderEvent',
    });
    const cases: Array<[Buffer, string]> = [
      [Buffer.concat([good, Buffer.from([1])]), 'cannot decode with schema id 7: trailing data'],
      [good.subarray(0, good.length - 3), 'cannot decode with schema id 7: truncated buffer'],
    ];
    for (const [buf, message] of cases) {
      expect(() => serde.decodeIfCached(buf)).toThrow(UndecodableMessageError);
      expect(() => serde.decodeIfCached(buf)).toThrow(message);
    }
  });
});
