import { readFileSync } from 'node:fs';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { AggregateStore, DEFAULT_AGGREGATE_CONFIG, parseAggregateConfig } from '@tierstream/aggregates';
import { createRedis, exitOnConfigError, loadConfig } from '@tierstream/config';
import { AvroSerde } from '@tierstream/contracts';
import { ConsumerRunner, createKafka, createProducer } from '@tierstream/kafka';
import {
  createLogger,
  createMetrics,
  installShutdown,
  type Logger,
  startHealthServer,
} from '@tierstream/observability';
import { TierStateStore } from '@tierstream/tierstate';
import { parse as parseYaml } from 'yaml';
import { type AggregatorConfig, aggregatorConfigSchema } from './config';
import { createAggregatorHandler } from './handler';

const SERVICE = 'aggregator';

export async function runAggregator(
  config: AggregatorConfig,
  logger: Logger,
): Promise<{ stop: () => Promise<void>; port: number }> {
  const metrics = createMetrics(SERVICE);
  const aggregateConfig = config.AGGREGATES_CONFIG_FILE
    ? parseAggregateConfig(parseYaml(readFileSync(config.AGGREGATES_CONFIG_FILE, 'utf8')))
    : DEFAULT_AGGREGATE_CONFIG;
  const redis = createRedis(config.REDIS_URL);
  const aggregates = new AggregateStore(redis, {
    prefix: config.REDIS_PREFIX,
    dedupeHorizonMs: config.DEDUPE_HORIZON_HOURS * 3_600_000,
    config: aggregateConfig,
  });
  await aggregates.init();
  const tierState = new TierStateStore(redis, config.REDIS_PREFIX);
  const serde = new AvroSerde(new SchemaRegistry({ host: config.SCHEMA_REGISTRY_URL }), {
    registryUrl: config.SCHEMA_REGISTRY_URL,
  });
  const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: `tierstream-${SERVICE}`, logger });
  const admin = kafka.admin();
  await admin.connect();
  const meta = await admin.fetchTopicMetadata({ topics: [config.SIGNALS_TOPIC] });
  await admin.disconnect();
  const signalPartitions = meta.topics[0]?.partitions.length ?? 0;
  if (signalPartitions === 0)
    throw new Error(`topic ${config.SIGNALS_TOPIC} has no partitions: run \`tierctl topics apply\``);
  const producer = await createProducer(kafka);
  const runner = new ConsumerRunner({
    kafka,
    groupId: config.AGGREGATOR_GROUP_ID,
    topics: config.AGGREGATOR_TOPICS,
    producer,
    logger,
    metrics,
    service: SERVICE,
    maxBytesPerPartition: config.MAX_BYTES_PER_PARTITION,
    handler: createAggregatorHandler({
      serde,
      aggregates,
      tierState,
      producer,
      signalsTopic: config.SIGNALS_TOPIC,
      signalPartitions,
      validation: { maxFutureSkewMs: config.MAX_FUTURE_SKEW_MS, maxMessageBytes: config.MAX_MESSAGE_BYTES },
      logger,
      metrics,
    }),
  });
  const health = await startHealthServer({
    port: config.HTTP_PORT,
    registry: metrics.registry,
    checks: {
      live: () => runner.isLive(),
      ready: async () => {
        const failing: string[] = [];
        if (!runner.isReady()) failing.push('kafka: not a member of the consumer group');
        try {
          await redis.ping();
        } catch (err) {
          failing.push(`redis: ${(err as Error).message}`);
        }
        return failing;
      },
    },
  });
  await runner.start();
  logger.info({ topics: config.AGGREGATOR_TOPICS, signalPartitions, port: health.port }, 'aggregator started');
  return {
    port: health.port,
    stop: async () => {
      await runner.stop();
      await producer.disconnect();
      await health.close();
      redis.disconnect();
    },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  let config: AggregatorConfig;
  try {
    config = loadConfig(aggregatorConfigSchema);
  } catch (err) {
    exitOnConfigError(SERVICE, err);
  }
  const logger = createLogger(SERVICE);
  runAggregator(config, logger)
    .then((svc) => installShutdown(logger, () => svc.stop()))
    .catch((err: unknown) => {
      logger.fatal({ err }, 'aggregator failed to start');
      process.exit(1);
    });
}
