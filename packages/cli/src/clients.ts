import { type ClickHouseClient, createClient } from '@clickhouse/client';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { createRedis, type RedisClient, type StackEndpoints, stackEndpoints } from '@tierstream/config';
import { AvroSerde, applyTopics, loadTopicsSpec } from '@tierstream/contracts';
import { createKafka, createProducer, type RecordProducer } from '@tierstream/kafka';
import { MIGRATIONS_DIR, migrate } from '@tierstream/warehouse';
import type { Admin, Kafka } from 'kafkajs';

/**
 * Connections to the stack, created on first use and closed together. Every CLI command and the e2e tests go
 * through this, so endpoints come from one place (env vars over the documented defaults).
 */
export class Clients {
  readonly endpoints: StackEndpoints;
  readonly redisPrefix: string;
  private _kafka?: Kafka;
  private _admin?: Promise<Admin>;
  private _producer?: Promise<RecordProducer>;
  private _serde?: AvroSerde;
  private _redis?: RedisClient;
  private _clickhouse?: ClickHouseClient;

  constructor(endpoints: StackEndpoints = stackEndpoints(), opts: { redisPrefix?: string } = {}) {
    this.endpoints = endpoints;
    this.redisPrefix = opts.redisPrefix ?? process.env.REDIS_PREFIX ?? 'ts';
  }

  get kafka(): Kafka {
    this._kafka ??= createKafka({ brokers: this.endpoints.kafkaBrokers, clientId: 'tierctl' });
    return this._kafka;
  }

  admin(): Promise<Admin> {
    this._admin ??= (async () => {
      const admin = this.kafka.admin();
      await admin.connect();
      return admin;
    })();
    return this._admin;
  }

  producer(): Promise<RecordProducer> {
    this._producer ??= createProducer(this.kafka);
    return this._producer;
  }

  /**
   * Drops the cached producer. After topics are deleted and created again, an idempotent producer's sequence numbers
   * no longer match the new partitions and its sends would retry forever.
   */
  async resetProducer(): Promise<void> {
    const producer = this._producer;
    this._producer = undefined;
    if (producer) await (await producer).disconnect();
  }

  get serde(): AvroSerde {
    this._serde ??= new AvroSerde(new SchemaRegistry({ host: this.endpoints.schemaRegistryUrl }), {
      registryUrl: this.endpoints.schemaRegistryUrl,
    });
    return this._serde;
  }

  get redis(): RedisClient {
    this._redis ??= createRedis(this.endpoints.redisUrl, { maxRetriesPerRequest: 3 });
    return this._redis;
  }

  get clickhouse(): ClickHouseClient {
    this._clickhouse ??= createClient({ url: this.endpoints.clickhouseUrl });
    return this._clickhouse;
  }

  async close(): Promise<void> {
    if (this._producer) await (await this._producer).disconnect();
    if (this._admin) await (await this._admin).disconnect();
    this._redis?.disconnect();
    if (this._clickhouse) await this._clickhouse.close();
  }
}

/** Schemas registered, topics applied, warehouse migrated: what every pipeline run needs first. Idempotent. */
export async function bootstrapPipeline(clients: Clients): Promise<{
  schemas: Record<string, number>;
  topics: { created: string[]; unchanged: string[]; updated: string[] };
  migrations: { applied: string[]; skipped: string[] };
}> {
  const schemas = await clients.serde.registerAll();
  const topics = await applyTopics(await clients.admin(), loadTopicsSpec());
  const migrations = await migrate(clients.clickhouse, {
    database: clients.endpoints.clickhouseDatabase,
    dir: MIGRATIONS_DIR,
  });
  return { schemas, topics, migrations };
}
