import { randomBytes } from 'node:crypto';
import type { ClickHouseClient } from '@clickhouse/client';
import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { type CliConfig, loadCliConfig } from '@tierstream/cli';
import { redisSecurity, type StackEndpoints, stackEndpoints } from '@tierstream/config';
import { createAvroSerde } from '@tierstream/contracts';
import { kafkaSecurity } from '@tierstream/kafka';
import { createClickHouseFrom } from '@tierstream/warehouse';
import { Redis } from 'ioredis';
import { type Admin, Kafka, logLevel } from 'kafkajs';

/**
 * Helpers for integration and e2e tests over the running stack (see test/support/global-setup.ts).
 * Every test works in names of its own (topics, subjects, Redis key prefix, ClickHouse database), so tests never see
 * each other's data and need no reset of the shared stack.
 */

/** Where the stack is, as seen by this test process (env, else the defaults of @tierstream/config). */
export function testEndpoints(): StackEndpoints {
  return stackEndpoints(process.env);
}

/**
 * The connection settings of this test process, validated as tierctl's (credentials and TLS of the secured stack when
 * its client settings are in the environment: docs/security.md).
 */
export function testConnection(): CliConfig {
  return loadCliConfig(process.env);
}

/**
 * A name no other test run uses: `<prefix>_<time>_<random>`, lower case, only [a-z0-9_], so it is valid as a Kafka
 * topic, a registry subject, a Redis key prefix and a ClickHouse database or table name without quoting.
 */
export function uniqueName(prefix: string): string {
  const clean = prefix.toLowerCase().replace(/[^a-z0-9_]/g, '_');
  return `${clean}_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
}

export function createKafka(clientId: string = uniqueName('test')): Kafka {
  return new Kafka({
    clientId,
    brokers: testEndpoints().kafkaBrokers,
    logLevel: logLevel.ERROR,
    ...kafkaSecurity(testConnection()),
  });
}

/** Creates topics (auto-creation is off on the stack) and waits until they have leaders. */
export async function createTopics(admin: Admin, topics: string[], numPartitions = 3): Promise<void> {
  await admin.createTopics({
    waitForLeaders: true,
    topics: topics.map((topic) => ({ topic, numPartitions, replicationFactor: 1 })),
  });
}

export function createSchemaRegistry(): SchemaRegistry {
  return createAvroSerde(testConnection()).registry;
}

export interface TestRedis {
  /** Every key this client touches (commands and the KEYS of EVAL/EVALSHA) gets `keyPrefix` in front. */
  redis: Redis;
  keyPrefix: string;
  /** Deletes every key under the prefix and closes the connection. */
  cleanup(): Promise<void>;
}

export function createTestRedis(prefix = 'test'): TestRedis {
  const keyPrefix = `${uniqueName(prefix)}:`;
  const url = testEndpoints().redisUrl;
  const security = redisSecurity(testConnection());
  const redis = new Redis(url, { keyPrefix, lazyConnect: false, maxRetriesPerRequest: 3, ...security });
  return {
    redis,
    keyPrefix,
    async cleanup() {
      // SCAN's MATCH is not prefixed by ioredis, and DEL would prefix again: use a plain connection.
      const raw = new Redis(url, { maxRetriesPerRequest: 3, ...security });
      try {
        let cursor = '0';
        do {
          const [next, keys] = await raw.scan(cursor, 'MATCH', `${keyPrefix}*`, 'COUNT', 1000);
          cursor = next;
          if (keys.length > 0) await raw.del(...keys);
        } while (cursor !== '0');
      } finally {
        raw.disconnect();
        redis.disconnect();
      }
    },
  };
}

export interface TestClickHouse {
  /** A client whose default database is `database`. */
  client: ClickHouseClient;
  database: string;
  /** Drops the database and closes the client. */
  cleanup(): Promise<void>;
}

/** Creates a fresh database of its own on the stack's ClickHouse (works on 18.16 and current servers). */
export async function createTestClickHouse(prefix = 'test'): Promise<TestClickHouse> {
  const connection = testConnection();
  const database = uniqueName(prefix);
  const admin = createClickHouseFrom(connection);
  try {
    await admin.command({ query: `CREATE DATABASE ${database}` });
  } finally {
    await admin.close();
  }
  const client = createClickHouseFrom(connection, { database });
  return {
    client,
    database,
    async cleanup() {
      try {
        await client.command({ query: `DROP DATABASE IF EXISTS ${database}` });
      } finally {
        await client.close();
      }
    },
  };
}
