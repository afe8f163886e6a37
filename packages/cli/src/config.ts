import { aggregatesConfigFileSetting } from '@tierstream/aggregates';
import {
  clickhouseServiceSettings,
  env,
  erasureSettings,
  kafkaServiceSettings,
  loadConfig,
  redisServiceSettings,
  type StackEndpoints,
} from '@tierstream/config';
import { checkInputTopicSettings, inputTopicSettings, TOPICS } from '@tierstream/contracts';
import { z } from 'zod';

/** The services' consumer group ids when not overridden (AGGREGATOR_GROUP_ID, ENGINE_GROUP_ID, WRITER_GROUP_ID). */
export const DEFAULT_GROUPS = {
  aggregator: 'tierstream-aggregator',
  engine: 'tierstream-tier-engine',
  writer: 'tierstream-warehouse-writer',
} as const;

/**
 * tierctl's settings: the same names, defaults and checks as the services' (services/<name>/src/config.ts), so a
 * deployment's CONFIG_FILE or environment configures tierctl too. Keys are environment variable names.
 */
const cliSettings = z.object({
  ...kafkaServiceSettings,
  ...redisServiceSettings,
  ...clickhouseServiceSettings,
  /** Consumer groups of the services (status lag, replay progress). */
  AGGREGATOR_GROUP_ID: z.string().min(1).default(DEFAULT_GROUPS.aggregator),
  ENGINE_GROUP_ID: z.string().min(1).default(DEFAULT_GROUPS.engine),
  WRITER_GROUP_ID: z.string().min(1).default(DEFAULT_GROUPS.writer),
  /**
   * The tier engine's RULES_FILE (default rules/default.yaml): `rules show` compares it with the active version and
   * `customer` reads a state's rules from it when the history does not have them. Read from CONFIG_FILE too, so the
   * deployment's file is compared, not the repository's default.
   */
  RULES_FILE: z.string().min(1).default('rules/default.yaml'),
  /** YAML with the aggregate settings (engagement weights, fx rates, reporting currency), as the services'. */
  AGGREGATES_CONFIG_FILE: aggregatesConfigFileSetting,
  /** The input topics (defaults: the contract names), as the aggregator's and the engine's. */
  ...inputTopicSettings,
  /** Topics between the services (default: the contract names). */
  SIGNALS_TOPIC: env.topic(TOPICS.signals),
  TRANSITIONS_TOPIC: env.topic(TOPICS.transitions),
  CHANGES_TOPIC: env.topic(TOPICS.changes),
  SNAPSHOTS_TOPIC: env.topic(TOPICS.snapshots),
  CUTPOINTS_TOPIC: env.topic(TOPICS.cutpoints),
  ERASURE_REQUESTS_TOPIC: env.topic(TOPICS.erasureRequests),
  /** Identity events (ALIAS, MERGE), as the warehouse writer's: its dead letters in `status`. */
  IDENTITIES_TOPIC: env.topic(TOPICS.identities),
  /** Erasure (`customer erase`) and the audit actor: ERASURE_SUPPRESS_DAYS, ERASURE_SETTLE_MS, OPERATOR_NAME… */
  ...erasureSettings,
});

/** tierctl's settings, checked across fields like the services' (distinct input topic names). */
export const cliConfigSchema = cliSettings.superRefine((config, ctx) => checkInputTopicSettings(config, ctx));

export type CliConfig = z.infer<typeof cliConfigSchema>;

/**
 * tierctl's validated settings from the environment over CONFIG_FILE (env wins). Throws ConfigError (one issue per
 * bad setting, each naming it) when a value is invalid.
 */
export function loadCliConfig(environment: NodeJS.ProcessEnv = process.env): CliConfig {
  return loadConfig(cliConfigSchema, environment);
}

/** The stack endpoints a configuration names. */
export function endpointsOf(config: CliConfig): StackEndpoints {
  return {
    kafkaBrokers: config.KAFKA_BROKERS,
    schemaRegistryUrl: config.SCHEMA_REGISTRY_URL,
    redisUrl: config.REDIS_URL,
    clickhouseUrl: config.CLICKHOUSE_URL,
    clickhouseDatabase: config.CLICKHOUSE_DATABASE,
  };
}
