import {
  AggregateStore,
  appliedBeforeMerge,
  foldAlias,
  foldMerge,
  IdentityStore,
  loadAggregateConfig,
} from '@tierstream/aggregates';
import {
  createRedisFrom,
  pingRedis,
  redisHealth,
  warnOnRedisRequirements,
  warnWhileRedisUnreachable,
} from '@tierstream/config';
import { createAvroSerde, inputTopicNames } from '@tierstream/contracts';
import { ConsumerRunner, createKafka, createProducer, kafkaSecurity, topicPartitions } from '@tierstream/kafka';
import {
  consumerHealthChecks,
  createMetrics,
  DependencyWaits,
  exitOnStartFailure,
  type Logger,
  runServiceMain,
  startHealthServer,
  waitForDependency,
} from '@tierstream/observability';
import { suppressedAmong, TierStateStore } from '@tierstream/tierstate';
import {
  type AggregatorConfig,
  aggregatorConfigSchema,
  identityRouting,
  startTopics,
  subscribedTopics,
} from './config';
import { createAggregatorHandler } from './handler';
import { createIdentityHandler } from './identity-handler';

const SERVICE = 'aggregator';

export async function runAggregator(
  config: AggregatorConfig,
  logger: Logger,
): Promise<{ stop: () => Promise<void>; port: number }> {
  const metrics = createMetrics(SERVICE);
  const aggregateConfig = loadAggregateConfig(config.AGGREGATES_CONFIG_FILE);
  const redis = createRedisFrom(config);
  warnWhileRedisUnreachable(redis, logger);
  // Redis requirements (maxmemory-policy noeviction, AOF): one warning line per unmet setting and the gauge
  // tierstream_redis_requirement_met; in the background, so a Redis that is still away does not delay the start.
  void warnOnRedisRequirements(redis, logger, metrics.registry);
  // Health first: while Redis, Kafka or the schema registry is unreachable at start, the process waits for it (with
  // backoff) and says so on /health/ready (503: `redis: …`, `waiting for kafka: …`) instead of exiting.
  let runner: ConsumerRunner | undefined;
  const waits = new DependencyWaits();
  const health = await startHealthServer({
    host: config.HTTP_HOST,
    port: config.HTTP_PORT,
    registry: metrics.registry,
    checks: consumerHealthChecks(() => runner, [() => redisHealth(redis)], waits),
  });
  const serde = createAvroSerde(config);
  const kafka = createKafka({
    brokers: config.KAFKA_BROKERS,
    clientId: `tierstream-${SERVICE}`,
    logger,
    ...kafkaSecurity(config),
  });
  // Kafka and the registry are waited for alongside Redis (aggregates.init waits for Redis).
  const kafkaUp = waitForDependency(waits, 'kafka', () => topicPartitions(kafka, startTopics(config)), { logger });
  const registryUp = waitForDependency(waits, 'schema registry', () => serde.ping(), { logger });
  // Refused credentials end the start even while it still waits for Redis (docs/security.md "Failures").
  for (const wait of [kafkaUp, registryUp]) void wait.catch((err: unknown) => exitOnStartFailure(SERVICE, logger, err));
  const aggregates = new AggregateStore(redis, {
    prefix: config.REDIS_PREFIX,
    dedupeHorizonMs: config.DEDUPE_HORIZON_HOURS * 3_600_000,
    config: aggregateConfig,
  });
  // Redis first (refused credentials end the start: docs/security.md "Failures"), then its scripts.
  await waitForDependency(waits, 'redis', () => pingRedis(redis), { logger });
  await aggregates.init();
  const tierState = new TierStateStore(redis, config.REDIS_PREFIX);
  const anonRetentionMs = config.ANON_RETENTION_DAYS * 86_400_000;
  const identity = new IdentityStore(redis, { prefix: config.REDIS_PREFIX, anonRetentionMs });
  const [meta] = await Promise.all([kafkaUp, registryUp]);
  const signalPartitions = meta.find((t) => t.name === config.SIGNALS_TOPIC)?.partitions.length ?? 0;
  if (signalPartitions === 0)
    throw new Error(`topic ${config.SIGNALS_TOPIC} has no partitions: run \`tierctl topics apply\``);
  const producer = await waitForDependency(waits, 'kafka', () => createProducer(kafka), { logger });
  const inputHandler = createAggregatorHandler({
    serde,
    aggregates,
    tierState,
    producer,
    signalsTopic: config.SIGNALS_TOPIC,
    inputTopics: inputTopicNames(config),
    signalPartitions,
    validation: { maxFutureSkewMs: config.MAX_FUTURE_SKEW_MS, maxMessageBytes: config.MAX_MESSAGE_BYTES },
    logger,
    metrics,
    // Scheduling, attributes, signals and the watermark of a batch overlap the apply of the partition's next batch;
    // the runner commits after them (docs/design-decisions.md §23).
    pipelined: true,
    // Erased customers (docs/security.md "Erasure"): one EXISTS per batch while nobody is suppressed.
    suppressed: (ids) => suppressedAmong(redis, config.REDIS_PREFIX, ids),
    // Identity (docs/design-decisions.md §22): events count for their customer's root, anonymous ones via aliases.
    // IDENTITY_ROUTING=off: none (anonymous web events skipped, customer ids taken as they are).
    identity: identityRouting(config)
      ? {
          identity,
          anonRetentionMs,
          appliedBeforeMerge: (records) => appliedBeforeMerge(redis, aggregates, records),
          watermarkKey: `${config.IDENTITIES_TOPIC}:0`,
        }
      : undefined,
  });
  // identities.v1 (one partition): the graph, then the folds it asks for, in topic order.
  const identityHandler = createIdentityHandler({
    serde,
    identity,
    folds: {
      alias: async (customerId, anonymousId, held, source) => {
        await foldAlias(aggregates, customerId, anonymousId, held, source);
      },
      merge: async (merged, survivor, mergeEventId, source) => {
        await foldMerge({ redis, aggregates }, merged, survivor, mergeEventId, source);
      },
    },
    tierState,
    producer,
    signalsTopic: config.SIGNALS_TOPIC,
    signalPartitions,
    validation: { maxFutureSkewMs: config.MAX_FUTURE_SKEW_MS },
    logger,
  });
  runner = new ConsumerRunner({
    kafka,
    groupId: config.AGGREGATOR_GROUP_ID,
    topics: subscribedTopics(config),
    producer,
    logger,
    metrics,
    service: SERVICE,
    maxBytesPerPartition: config.MAX_BYTES_PER_PARTITION,
    maxWaitTimeMs: config.FETCH_MAX_WAIT_MS,
    // Redis round trips of one partition overlap with another's decoding; each partition stays strictly in order.
    partitionsConsumedConcurrently: config.PARTITIONS_CONCURRENCY,
    handler: (batch, ctx) =>
      batch.topic === config.IDENTITIES_TOPIC ? identityHandler(batch, ctx) : inputHandler(batch, ctx),
  });
  const consumer = runner;
  await waitForDependency(waits, 'kafka', () => consumer.start(), { logger });
  logger.info(
    { topics: subscribedTopics(config), identityRouting: config.IDENTITY_ROUTING, signalPartitions, port: health.port },
    `aggregator started (identity routing ${config.IDENTITY_ROUTING})`,
  );
  return {
    port: health.port,
    stop: async () => {
      await runner?.stop();
      await producer.disconnect();
      await health.close();
      redis.disconnect();
    },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) runServiceMain(SERVICE, aggregatorConfigSchema, runAggregator);
