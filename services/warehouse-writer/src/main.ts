import {
  createRedisFrom,
  credentialFailure,
  operatorName,
  pingRedis,
  redisHealth,
  warnWhileRedisUnreachable,
} from '@tierstream/config';
import { createAvroSerde, type TierChange, type TierCutPoints, type TierTransition } from '@tierstream/contracts';
import {
  ConsumerRunner,
  createKafka,
  createProducer,
  dlqTopicOf,
  kafkaSecurity,
  topicPartitions,
} from '@tierstream/kafka';
import {
  consumerHealthChecks,
  createMetrics,
  DependencyWaits,
  type Logger,
  runServiceMain,
  startHealthServer,
  waitForDependency,
} from '@tierstream/observability';
import { suppressedAmong } from '@tierstream/tierstate';
import {
  clickhouseProblem,
  createClickHouseFrom,
  type RoutedRow,
  routeChangeRecord,
  routeCutPointsRecord,
  routeHistoryRecord,
  routeTransitionRecord,
  WarehouseError,
  WarehouseWriter,
} from '@tierstream/warehouse';
import { type WriterConfig, writerConfigSchema } from './config';
import { startErasureConsumer } from './erasure-consumer';
import { GroupCommit } from './group-commit';
import { identityRows } from './identity-rows';

const SERVICE = 'warehouse-writer';

export async function runWarehouseWriter(
  config: WriterConfig,
  logger: Logger,
): Promise<{ stop: () => Promise<void>; port: number }> {
  const metrics = createMetrics(SERVICE);
  const clickhouse = createClickHouseFrom(config);
  const writer = new WarehouseWriter(clickhouse, {
    database: config.CLICKHOUSE_DATABASE,
    logger,
    retry: { attempts: config.WRITER_RETRY_ATTEMPTS },
  });
  const group = new GroupCommit(
    writer,
    { maxRows: config.WRITER_MAX_ROWS, maxAgeMs: config.WRITER_MAX_AGE_MS },
    metrics,
  );
  const serde = createAvroSerde(config);
  // Redis: which customers are erased and suppressed (their rows are dropped), and the erasures themselves.
  const redis = createRedisFrom(config);
  warnWhileRedisUnreachable(redis, logger);
  // Health first: while Kafka or the schema registry is unreachable at start, the process waits for it (with
  // backoff) and says so on /health/ready (503: `waiting for kafka: …`) instead of exiting.
  let runner: ConsumerRunner | undefined;
  const waits = new DependencyWaits();
  const health = await startHealthServer({
    host: config.HTTP_HOST,
    port: config.HTTP_PORT,
    registry: metrics.registry,
    checks: consumerHealthChecks(
      () => runner,
      [
        async () => {
          // A query as the configured user in the configured database: ping() answers without credentials.
          const problem = await clickhouseProblem(clickhouse, config.CLICKHOUSE_DATABASE);
          return problem === null ? null : `clickhouse: ${problem}`;
        },
        // Every batch asks Redis which customers are suppressed: without Redis nothing is written.
        () => redisHealth(redis),
      ],
      waits,
    ),
  });
  const kafka = createKafka({
    brokers: config.KAFKA_BROKERS,
    clientId: `tierstream-${SERVICE}`,
    logger,
    ...kafkaSecurity(config),
  });
  const topics = [config.CHANGES_TOPIC, config.TRANSITIONS_TOPIC, config.SNAPSHOTS_TOPIC, config.CUTPOINTS_TOPIC];
  // Identity events and their dead letters (written by the aggregator): read only, never dead-lettered here.
  const identityTopics = [config.IDENTITIES_TOPIC, dlqTopicOf(config.IDENTITIES_TOPIC)];
  await Promise.all([
    // Its dead-letter topics too: a missing one would hang the first bad record's produce (retried forever).
    waitForDependency(
      waits,
      'kafka',
      () => topicPartitions(kafka, [...topics, ...topics.map(dlqTopicOf), ...identityTopics]),
      { logger },
    ),
    waitForDependency(waits, 'schema registry', () => serde.ping(), { logger }),
    // Redis (suppressed customers, erasures): refused credentials end the start (docs/security.md "Failures").
    waitForDependency(waits, 'redis', () => pingRedis(redis), { logger }),
    // ClickHouse as the configured user: refused credentials end the start (docs/security.md "Failures"); any other
    // problem (down, database missing) is retried by the group commit and shown on /health/ready.
    waitForDependency(
      waits,
      'clickhouse',
      async () => {
        const problem = await clickhouseProblem(clickhouse, config.CLICKHOUSE_DATABASE);
        if (problem !== null && credentialFailure('clickhouse', new Error(problem)) !== null) throw new Error(problem);
      },
      { logger },
    ),
  ]);
  const producer = await waitForDependency(waits, 'kafka', () => createProducer(kafka), { logger });
  runner = new ConsumerRunner({
    kafka,
    groupId: config.WRITER_GROUP_ID,
    topics: [...topics, ...identityTopics],
    producer,
    logger,
    metrics,
    service: SERVICE,
    maxBytesPerPartition: config.MAX_BYTES_PER_PARTITION,
    // Every partition's batch waits on the same group commit: one INSERT carries many partitions' rows.
    partitionsConsumedConcurrently: 16,
    handler: async (batch, ctx) => {
      if (identityTopics.includes(batch.topic)) {
        const rejected = batch.topic !== config.IDENTITIES_TOPIC;
        const out = await identityRows(batch.records, serde, { rejected, now: Date.now() });
        const ids = out.rows.flatMap((r) => (r.table === 'identity_events' ? [r.row.customer_id] : []));
        const suppressed = await suppressedAmong(redis, config.REDIS_PREFIX, ids);
        await group.add(out.rows.filter((r) => r.table !== 'identity_events' || !suppressed.has(r.row.customer_id)));
        return;
      }
      const rows: RoutedRow[] = [];
      const decoded: Array<{ record: (typeof batch.records)[number]; value: unknown }> = [];
      for (const record of batch.records) {
        // A tombstone (an erased customer's key on the compacted changes topic): nothing to write.
        if (record.value === null) continue;
        try {
          decoded.push({ record, value: (await serde.decode(record.value)).value });
        } catch (err) {
          ctx.deadLetter(record, 'UNDECODABLE', (err as Error).message);
        }
      }
      // Rows of erased customers still in flight are dropped while they are suppressed (docs/security.md "Erasure").
      const suppressed =
        batch.topic === config.CUTPOINTS_TOPIC
          ? new Set<string>()
          : await suppressedAmong(
              redis,
              config.REDIS_PREFIX,
              decoded.map((d) => (d.value as { customer_id: string }).customer_id),
            );
      for (const { record, value } of decoded) {
        if (suppressed.size > 0 && suppressed.has((value as { customer_id: string }).customer_id)) continue;
        // Mapped here, before the group commit: a record that cannot be written (e.g. METRICS without basis_day) is
        // dead-lettered alone instead of failing every insert it would join.
        try {
          if (batch.topic === config.CUTPOINTS_TOPIC) {
            rows.push(...routeCutPointsRecord(value as TierCutPoints));
            continue;
          }
          writer.warnDroppedMetrics([value as TierChange | TierTransition]);
          if (batch.topic === config.TRANSITIONS_TOPIC) rows.push(routeTransitionRecord(value as TierTransition));
          else if (batch.topic === config.SNAPSHOTS_TOPIC) rows.push(routeHistoryRecord(value as TierChange));
          else rows.push(routeChangeRecord(value as TierChange));
        } catch (err) {
          if (!(err instanceof WarehouseError)) throw err;
          ctx.deadLetter(record, 'INVALID_VALUE', err.message);
        }
      }
      await group.add(rows);
    },
  });
  const consumer = runner;
  await waitForDependency(waits, 'kafka', () => consumer.start(), { logger });
  const erasures = startErasureConsumer({
    kafka,
    producer,
    serde,
    redis,
    clickhouse,
    config,
    logger,
    metrics,
    executor: { executedBy: operatorName(config.OPERATOR_NAME) },
  });
  logger.info({ topics, database: config.CLICKHOUSE_DATABASE, port: health.port }, 'warehouse writer started');
  return {
    port: health.port,
    stop: async () => {
      await erasures.stop();
      await runner?.stop();
      await group.drain();
      await producer.disconnect();
      await health.close();
      await clickhouse.close();
      redis.disconnect();
    },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) runServiceMain(SERVICE, writerConfigSchema, runWarehouseWriter);
