import { aggregatesConfigFileSetting } from '@tierstream/aggregates';
import { env, httpServiceSettings, kafkaServiceSettings, redisServiceSettings } from '@tierstream/config';
import {
  checkInputTopicSettings,
  configuredInputTopics,
  inputTopicNames,
  inputTopicSettings,
  TOPICS,
} from '@tierstream/contracts';
import { z } from 'zod';

const aggregatorSettings = z.object({
  ...kafkaServiceSettings,
  ...redisServiceSettings,
  ...inputTopicSettings,
  /**
   * Which input topics this deployment consumes (a subset of ORDERS_TOPIC, WEB_BEHAVIOR_TOPIC, TICKETS_TOPIC): all
   * three in one deployment (the default, also when empty), or one per deployment.
   */
  AGGREGATOR_TOPICS: env.list(''),
  AGGREGATOR_GROUP_ID: z.string().min(1).default('tierstream-aggregator'),
  SIGNALS_TOPIC: z.string().min(1).default(TOPICS.signals),
  /**
   * Identity events (docs/design-decisions.md §22): consumed by the deployment that consumes the web behaviour topic
   * (one partition, one consumer); every deployment routes its events through the identity graph.
   */
  IDENTITIES_TOPIC: env.topic(TOPICS.identities),
  /**
   * `on` (default): events are routed through the identity graph (§22). `off`: no identity — anonymous web events are
   * skipped, customer ids taken as they are, the identities topic not subscribed (deployments without anonymous traffic).
   */
  IDENTITY_ROUTING: z.enum(['on', 'off'], { error: 'expected on or off' }).default('on'),
  /** How far before its alias an anonymous web event still counts for the customer (days). */
  ANON_RETENTION_DAYS: env.int(30, 1, 400),
  DEDUPE_HORIZON_HOURS: env.int(48, 1, 24 * 365),
  MAX_FUTURE_SKEW_MS: env.int(3_600_000, 0),
  MAX_MESSAGE_BYTES: env.int(1_048_576, 1_024),
  /** Optional YAML file with the aggregate settings (reporting currency, fx rates, engagement weights). */
  AGGREGATES_CONFIG_FILE: aggregatesConfigFileSetting,
  /** Max wait of an idle fetch (ms): lower means lower live latency and more fetch requests. */
  FETCH_MAX_WAIT_MS: env.int(20, 1, 10_000),
  /** Partitions whose batches are processed at the same time (each partition stays in order). */
  PARTITIONS_CONCURRENCY: env.int(3, 1, 64),
  ...httpServiceSettings(9401),
  /**
   * Fetch size per partition (bytes): a replay's batches hold more events per customer, so the apply's per-customer
   * cost is paid less often (8 MiB: ≈ 100k web events a batch; docs/design-decisions.md §23).
   */
  MAX_BYTES_PER_PARTITION: env.int(8_388_608, 1_024),
});

/** The service's settings (keys are environment variable names); loaded with loadConfig. */
export const aggregatorConfigSchema = aggregatorSettings.superRefine((config, ctx) =>
  checkInputTopicSettings(config, ctx, 'AGGREGATOR_TOPICS'),
);

export type AggregatorConfig = z.infer<typeof aggregatorConfigSchema>;

/** The topics a deployment consumes: AGGREGATOR_TOPICS, or (empty) all three configured input topics. */
export function consumedTopics(config: AggregatorConfig): string[] {
  return config.AGGREGATOR_TOPICS.length > 0
    ? config.AGGREGATOR_TOPICS
    : configuredInputTopics(inputTopicNames(config));
}

/** Whether events are routed through the identity graph: IDENTITY_ROUTING=on (the default). */
export function identityRouting(config: AggregatorConfig): boolean {
  return config.IDENTITY_ROUTING === 'on';
}

/**
 * Whether this deployment consumes the identities topic: the one that consumes the web behaviour topic, with
 * identity routing on.
 */
export function consumesIdentities(config: AggregatorConfig): boolean {
  return identityRouting(config) && consumedTopics(config).includes(config.WEB_BEHAVIOR_TOPIC);
}

/**
 * The topics the aggregator subscribes to: the consumed input topics, and the identities topic when it consumes it.
 */
export function subscribedTopics(config: AggregatorConfig): string[] {
  const consumed = consumedTopics(config);
  return consumesIdentities(config) ? [...consumed, config.IDENTITIES_TOPIC] : consumed;
}

/**
 * The topics the aggregator waits for at start: the signals topic it produces to, the topics it consumes and their
 * dead-letter topics (`<topic>.dlq`). A missing one would otherwise surface only later — a missing `.dlq` at the
 * first bad record, whose produce the idempotent producer retries forever — instead of on /health/ready.
 */
export function startTopics(config: AggregatorConfig): string[] {
  const consumed = subscribedTopics(config);
  return [config.SIGNALS_TOPIC, ...consumed, ...consumed.map((t) => `${t}.dlq`)];
}
