import { type ClickHouseClient, ClickHouseLogLevel } from '@clickhouse/client';
import { type AggregateConfig, loadAggregateConfig } from '@tierstream/aggregates';
import {
  createRedisFrom,
  credentialFailure,
  type RedisClient,
  redisRefusal,
  type StackEndpoints,
} from '@tierstream/config';
import {
  type AvroSerde,
  applyTopics,
  configuredInputTopics,
  createAvroSerde,
  type InputTopicNames,
  inputTopicNames,
  loadSchemas,
  loadTopicsSpec,
} from '@tierstream/contracts';
import {
  createKafka,
  createProducer,
  kafkaSecurity,
  probeKafka,
  type RecordProducer,
  withKafkaHint,
} from '@tierstream/kafka';
import { createClickHouseFrom, MIGRATIONS_DIR, migrate } from '@tierstream/warehouse';
import type { Admin, Kafka } from 'kafkajs';
import { type CliConfig, endpointsOf, loadCliConfig } from './config';

/**
 * Connections to the stack, created on first use and closed together. Every CLI command and the e2e tests go
 * through this, so endpoints, credentials, group ids and topic names come from one validated configuration
 * (cliConfigSchema: environment over CONFIG_FILE over the documented defaults).
 */
export class Clients {
  private readonly configSource: CliConfig | (() => CliConfig);
  private _config?: CliConfig;
  private _aggregateConfig?: AggregateConfig;
  private _kafka?: Kafka;
  private _admin?: Promise<Admin>;
  private _producer?: Promise<RecordProducer>;
  private _serde?: AvroSerde;
  private _redis?: RedisClient;
  private _clickhouse?: ClickHouseClient;

  /**
   * `config`: the settings, or a function giving them, called once on first use (default: loadCliConfig() from
   * this process's environment). Lazy so that commands which touch nothing (`--help`, `rules validate`) run even
   * where the configuration is invalid; the first use throws ConfigError then.
   */
  constructor(config: CliConfig | (() => CliConfig) = () => loadCliConfig()) {
    this.configSource = config;
  }

  /** The validated settings (loaded on first use; throws ConfigError when invalid). */
  get config(): CliConfig {
    this._config ??= typeof this.configSource === 'function' ? this.configSource() : this.configSource;
    return this._config;
  }

  get endpoints(): StackEndpoints {
    return endpointsOf(this.config);
  }

  get redisPrefix(): string {
    return this.config.REDIS_PREFIX;
  }

  /** How metrics are computed (AGGREGATES_CONFIG_FILE, else the defaults), as in the aggregator and the engine. */
  get aggregateConfig(): AggregateConfig {
    this._aggregateConfig ??= loadAggregateConfig(this.config.AGGREGATES_CONFIG_FILE);
    return this._aggregateConfig;
  }

  /** The services' consumer group ids (AGGREGATOR_GROUP_ID, ENGINE_GROUP_ID, WRITER_GROUP_ID). */
  get groups(): { aggregator: string; engine: string; writer: string } {
    const c = this.config;
    return { aggregator: c.AGGREGATOR_GROUP_ID, engine: c.ENGINE_GROUP_ID, writer: c.WRITER_GROUP_ID };
  }

  /** The signals topic (SIGNALS_TOPIC): the aggregator's output, the tier engine's input. */
  get signalsTopic(): string {
    return this.config.SIGNALS_TOPIC;
  }

  /** The configured name of each contract input topic (ORDERS_TOPIC, WEB_BEHAVIOR_TOPIC, TICKETS_TOPIC). */
  get inputTopicNames(): InputTopicNames {
    return inputTopicNames(this.config);
  }

  /** The input topics (the aggregator's), as configured. */
  get inputTopics(): string[] {
    return configuredInputTopics(this.inputTopicNames);
  }

  /** Every topic a service can dead-letter from, as its dead-letter topic (`<topic>.dlq`). */
  get dlqTopics(): string[] {
    const c = this.config;
    return [
      ...this.inputTopics,
      this.signalsTopic,
      ...this.outputTopics,
      c.IDENTITIES_TOPIC,
      c.ERASURE_REQUESTS_TOPIC,
    ].map((t) => `${t}.dlq`);
  }

  /**
   * The tier engine's output topics, which the warehouse writer consumes (CHANGES, TRANSITIONS, SNAPSHOTS,
   * CUTPOINTS_TOPIC).
   */
  get outputTopics(): string[] {
    const c = this.config;
    return [c.CHANGES_TOPIC, c.TRANSITIONS_TOPIC, c.SNAPSHOTS_TOPIC, c.CUTPOINTS_TOPIC];
  }

  get kafka(): Kafka {
    this._kafka ??= createKafka({
      brokers: this.endpoints.kafkaBrokers,
      clientId: 'tierctl',
      ...kafkaSecurity(this.config),
    });
    return this._kafka;
  }

  /**
   * A connected Kafka admin. Refused credentials or an untrusted broker certificate throw after one attempt (a
   * retry-less probe first: the client's own retries took about 25 s to give up on a certificate); anything else
   * (a broker restarting) gets the client's retries.
   */
  admin(): Promise<Admin> {
    this._admin ??= (async () => {
      await probeKafka(this.kafka).catch((err: unknown) => {
        if (credentialFailure('kafka', err) !== null) throw err;
      });
      const admin = this.kafka.admin();
      await admin.connect();
      return admin;
    })();
    return this._admin;
  }

  /**
   * Throws (exit 1) naming every one of `topics` the cluster does not have. Call it before producing: the idempotent
   * producer retries a missing topic forever, so `gen`, `import` or `dlq replay` to a renamed input topic nobody
   * created would hang without a word.
   */
  async requireTopics(topics: readonly string[]): Promise<void> {
    const existing = new Set(await (await this.admin()).listTopics());
    const missing = [...new Set(topics)].filter((t) => !existing.has(t));
    if (missing.length > 0)
      throw new Error(
        `topic${missing.length > 1 ? 's' : ''} ${missing.join(', ')} not found on ${this.endpoints.kafkaBrokers.join(',')}: ` +
          'run `tierctl topics apply` (a renamed input topic and its .dlq are created only when infra/kafka/topics.yaml lists them)',
      );
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
    this._serde ??= createAvroSerde(this.config);
    return this._serde;
  }

  get redis(): RedisClient {
    this._redis ??= createRedisFrom(this.config, { maxRetriesPerRequest: 3 });
    return this._redis;
  }

  /**
   * Refused credentials or TLS trust behind the Redis connection's last error (`redis authentication failed: …`), if
   * a Redis client was made; null otherwise. A command's own error does not say it (ioredis: "Reached the max
   * retries per request limit", "None of startup nodes is available").
   */
  redisRefusal(): string | null {
    return this._redis ? redisRefusal(this._redis) : null;
  }

  /**
   * A command's error as tierctl shows it: a Kafka "Closed connection" of a client without SASL or TLS gets the
   * question whether the listener needs them (withKafkaHint); anything else unchanged.
   */
  explain(err: unknown): unknown {
    return this._kafka ? withKafkaHint(this._kafka, err) : err;
  }

  get clickhouse(): ClickHouseClient {
    const c = this.config;
    this._clickhouse ??= createClickHouseFrom(c, {
      // tierctl prints each error in one line; the client's own logger would add a multi-line dump before it.
      log: { level: ClickHouseLogLevel.OFF },
    });
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
  const schemas = await registerContracts(clients);
  const topics = await applyTopics(await clients.admin(), loadTopicsSpec());
  const migrations = await migrate(clients.clickhouse, {
    database: clients.endpoints.clickhouseDatabase,
    dir: MIGRATIONS_DIR,
  });
  return { schemas, topics, migrations };
}

/**
 * Registers every contract schema under `<topic>-value` (BACKWARD), and each input contract also under its configured
 * topic name when that differs (ORDERS_TOPIC, ...): records on a renamed topic are the same contract. Returns
 * subject → schema id. Throws SchemaCompatibilityError when the registry refuses a change.
 */
export async function registerContracts(clients: Clients): Promise<Record<string, number>> {
  const ids = await clients.serde.registerAll();
  const schemas = loadSchemas();
  for (const [contract, topic] of Object.entries(clients.inputTopicNames) as Array<[keyof typeof schemas, string]>) {
    if (topic !== contract)
      ids[clients.serde.subjectOf(topic)] = await clients.serde.register(topic, schemas[contract].text);
  }
  return ids;
}
