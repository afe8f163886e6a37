/**
 * The executor of erasure-requests.v1 (docs/security.md "Erasure"), run by the warehouse writer, which has the
 * warehouse, Kafka and (for the suppression check) Redis at hand. Its own consumer group (ERASURE_GROUP_ID), one
 * partition at a time; each request is executed once by request id (executeErasure), so a redelivery is skipped. It
 * starts once the topic exists (created by `tierctl topics apply`), without holding back the writer's readiness.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import type { RedisClient } from '@tierstream/config';
import { type AvroSerde, type ErasureRequest, loadTopicsSpec, TOPICS } from '@tierstream/contracts';
import { ConsumerRunner, dlqTopicOf, type RecordProducer, topicPartitions } from '@tierstream/kafka';
import { DependencyWaits, type Logger, type ServiceMetrics, waitForDependency } from '@tierstream/observability';
import {
  compactedTopics,
  type ErasureOptions,
  erasurePortsOf,
  erasureRequestProblems,
  executeErasure,
} from '@tierstream/tierstate';
import type { Kafka } from 'kafkajs';
import type { WriterConfig } from './config';

export interface ErasureConsumerDeps {
  kafka: Kafka;
  producer: RecordProducer;
  serde: AvroSerde;
  redis: RedisClient;
  clickhouse: ClickHouseClient;
  config: WriterConfig;
  logger: Logger;
  metrics: ServiceMetrics;
  executor: Pick<ErasureOptions, 'executedBy'>;
}

/** Starts the consumer in the background (once the topic exists); `stop` ends it. */
export function startErasureConsumer(deps: ErasureConsumerDeps): { stop: () => Promise<void> } {
  const { config, logger } = deps;
  const topic = config.ERASURE_REQUESTS_TOPIC;
  let stopped = false;
  let runner: ConsumerRunner | undefined;
  const ports = erasurePortsOf({
    redis: deps.redis,
    prefix: config.REDIS_PREFIX,
    clickhouse: deps.clickhouse,
    database: config.CLICKHOUSE_DATABASE,
    producer: async () => deps.producer,
    compacted: compactedTopics(loadTopicsSpec(), { [TOPICS.changes]: config.CHANGES_TOPIC }),
  });
  const options: ErasureOptions = {
    suppressDays: config.ERASURE_SUPPRESS_DAYS,
    settleMs: config.ERASURE_SETTLE_MS,
    digestSecret: config.ERASURE_DIGEST_SECRET,
    executedBy: deps.executor.executedBy,
    source: topic,
  };
  const started = (async () => {
    await waitForDependency(
      new DependencyWaits(),
      `topic ${topic}`,
      () => topicPartitions(deps.kafka, [topic, dlqTopicOf(topic)]),
      {
        logger,
        maxDelayMs: 30_000,
      },
    );
    if (stopped) return;
    runner = new ConsumerRunner({
      kafka: deps.kafka,
      groupId: config.ERASURE_GROUP_ID,
      topics: [topic],
      producer: deps.producer,
      logger,
      metrics: deps.metrics,
      service: 'warehouse-writer',
      fromBeginning: true,
      partitionsConsumedConcurrently: 1,
      handler: async (batch, ctx) => {
        for (const record of batch.records) {
          if (record.value === null) continue;
          let request: ErasureRequest;
          try {
            request = (await deps.serde.decode(record.value)).value as ErasureRequest;
          } catch (err) {
            ctx.deadLetter(record, 'UNDECODABLE', (err as Error).message);
            continue;
          }
          const problems = erasureRequestProblems(request);
          if (problems.length > 0) {
            ctx.deadLetter(record, 'INVALID_VALUE', problems.join('; '));
            continue;
          }
          const outcome = await executeErasure(ports, request, options);
          // No customer id in the log: the request id and the digest say which erasure it was.
          if (outcome.status === 'done')
            logger.info(
              {
                request: request.request_id,
                digest: outcome.log.customer_digest,
                late: outcome.log.late_redis + outcome.log.late_rows,
              },
              'erasure executed',
            );
          else logger.info({ request: request.request_id }, outcome.reason);
        }
      },
    });
    await runner.start();
    logger.info({ topic, group: config.ERASURE_GROUP_ID }, 'erasure requests consumed');
  })().catch((err: unknown) => logger.error({ err: (err as Error).message }, 'erasure consumer failed to start'));
  return {
    stop: async () => {
      stopped = true;
      await started;
      await runner?.stop();
    },
  };
}
