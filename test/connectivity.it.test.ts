import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SchemaType } from '@kafkajs/confluent-schema-registry';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import {
  createKafka,
  createSchemaRegistry,
  createTestClickHouse,
  createTestRedis,
  createTopics,
  type TestClickHouse,
  type TestRedis,
  testEndpoints,
  uniqueName,
} from './support/stack';

/**
 * The stack is there and wired the way the project needs it: Avro through the registry and Kafka, Lua on Redis,
 * JSONEachRow into ClickHouse. Each test uses names of its own.
 */

const here = path.dirname(fileURLToPath(import.meta.url));

describe('kafka + schema registry', () => {
  const recordSchema = (extraField?: object) =>
    JSON.stringify({
      type: 'record',
      name: 'Ping',
      namespace: 'io.tierstream.test',
      fields: [
        { name: 'id', type: 'string' },
        { name: 'amount_cents', type: 'long' },
        { name: 'tags', type: { type: 'array', items: 'string' } },
        { name: 'note', type: ['null', 'string'], default: null },
        ...(extraField ? [extraField] : []),
      ],
    });

  it('produces and consumes an Avro record registered under a new subject', async () => {
    const topic = uniqueName('connectivity');
    const subject = `${topic}-value`;
    const registry = createSchemaRegistry();
    const { id: schemaId } = await registry.register({ type: SchemaType.AVRO, schema: recordSchema() }, { subject });
    expect(schemaId).toBeGreaterThan(0);

    const kafka = createKafka();
    const admin = kafka.admin();
    const producer = kafka.producer();
    const consumer = kafka.consumer({ groupId: uniqueName('connectivity_group') });
    try {
      await admin.connect();
      await createTopics(admin, [topic], 1);

      const sent = { id: 'customer-42', amount_cents: 1_234_567_890_123, tags: ['a', 'ü'], note: 'héllo' };
      const encoded = await registry.encode(schemaId, sent);
      // Confluent wire format: magic byte 0, then the schema id big-endian.
      expect(encoded[0]).toBe(0);
      expect(encoded.readInt32BE(1)).toBe(schemaId);

      await producer.connect();
      await producer.send({ topic, messages: [{ key: sent.id, value: encoded }] });

      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      const received = await new Promise<{ key: string | undefined; value: unknown }>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no record consumed within 30 s')), 30_000);
        consumer
          .run({
            eachMessage: async ({ message }) => {
              clearTimeout(timer);
              if (!message.value) return reject(new Error('record without value'));
              resolve({ key: message.key?.toString(), value: await registry.decode(message.value) });
            },
          })
          .catch(reject);
      });
      expect(received.key).toBe(sent.id);
      expect(received.value).toEqual(sent);
    } finally {
      await consumer.disconnect();
      await producer.disconnect();
      await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
      await admin.disconnect();
    }
  });

  it('refuses a schema version that breaks BACKWARD compatibility', async () => {
    const subject = `${uniqueName('compat')}-value`;
    const registry = createSchemaRegistry();
    await registry.register({ type: SchemaType.AVRO, schema: recordSchema() }, { subject });
    // A new required field without default: old records could not be read with it.
    await expect(
      registry.register(
        { type: SchemaType.AVRO, schema: recordSchema({ name: 'region', type: 'string' }) },
        { subject },
      ),
    ).rejects.toThrow(/incompatible/i);
    // The same field with a default is a compatible evolution.
    const evolved = await registry.register(
      { type: SchemaType.AVRO, schema: recordSchema({ name: 'region', type: 'string', default: 'EU' }) },
      { subject },
    );
    expect(evolved.id).toBeGreaterThan(0);
  });
});

describe('redis', () => {
  let testRedis: TestRedis | undefined;
  afterAll(async () => testRedis?.cleanup());

  it('runs a Lua script from a .lua file with SCRIPT LOAD + EVALSHA on a prefixed key', async () => {
    testRedis = createTestRedis('connectivity');
    const { redis, keyPrefix } = testRedis;
    const source = readFileSync(path.join(here, 'support/echo.lua'), 'utf8');
    const sha = (await redis.script('LOAD', source)) as string;
    expect(sha).toBe(createHash('sha1').update(source).digest('hex'));

    expect(await redis.evalsha(sha, 1, 'totals', 'orders', 5)).toEqual(['orders', 5, 1]);
    expect(await redis.evalsha(sha, 1, 'totals', 'orders', 7)).toEqual(['orders', 12, 1]);
    expect(await redis.evalsha(sha, 1, 'totals', 'refunds', -3)).toEqual(['refunds', -3, 2]);

    // The script wrote the key under the test's prefix, nowhere else.
    expect(await redis.hgetall('totals')).toEqual({ orders: '12', refunds: '-3' });
    const raw = new Redis(testEndpoints().redisUrl);
    try {
      expect(await raw.exists(`${keyPrefix}totals`)).toBe(1);
      expect(await raw.exists('totals')).toBe(0);
    } finally {
      raw.disconnect();
    }
  });
});

describe('clickhouse', () => {
  let ch: TestClickHouse | undefined;
  afterAll(async () => ch?.cleanup());

  it('creates a table in a fresh database, inserts JSONEachRow and reads it back', async () => {
    ch = await createTestClickHouse('connectivity');
    const { client, database } = ch;
    await client.command({
      query: `CREATE TABLE ${database}.orders (customer_id String, order_id UInt64, amount_cents Int64, at DateTime)
              ENGINE = MergeTree ORDER BY (customer_id, order_id)`,
    });
    const rows = [
      { customer_id: 'c-2', order_id: 3, amount_cents: 700, at: '2024-03-01 10:00:00' },
      { customer_id: 'c-1', order_id: 1, amount_cents: 1500, at: '2024-03-01 09:00:00' },
      { customer_id: 'c-1', order_id: 2, amount_cents: -200, at: '2024-03-02 09:30:00' },
    ];
    await client.insert({ table: `${database}.orders`, values: rows, format: 'JSONEachRow' });

    const result = await client.query({
      query: `SELECT customer_id, count() AS orders, sum(amount_cents) AS total_cents, toString(max(at)) AS last_at
              FROM ${database}.orders GROUP BY customer_id ORDER BY customer_id`,
      format: 'JSONEachRow',
    });
    const got = (await result.json()) as Array<Record<string, unknown>>;
    // 64-bit integers come back as strings in JSON formats (output_format_json_quote_64bit_integers).
    expect(got).toEqual([
      { customer_id: 'c-1', orders: '2', total_cents: '1300', last_at: '2024-03-02 09:30:00' },
      { customer_id: 'c-2', orders: '1', total_cents: '700', last_at: '2024-03-01 10:00:00' },
    ]);
  });
});
