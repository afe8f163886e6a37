import { aggregatesConfigFileSetting } from '@tierstream/aggregates';
import { env, httpServiceSettings, kafkaServiceSettings, redisServiceSettings } from '@tierstream/config';
import {
  checkInputTopicSettings,
  configuredInputTopics,
  inputTopicNames,
  inputTopicSettings,
  TOPICS,
} from '@tierstream/contracts';
import { type ClvSettings, DEFAULT_CLV_SETTINGS, DEFAULT_CUTPOINT_SCHEDULE } from '@tierstream/tiering';
import { z } from 'zod';

/** A number between 0 and 1 (a share or a rate), with its default. */
const fraction = (def: number) =>
  z.coerce
    .number({ error: 'expected a number between 0 and 1' })
    .min(0, { error: 'expected a number between 0 and 1' })
    .max(1, { error: 'expected a number between 0 and 1' })
    .default(def);

const engineSettings = z.object({
  ...kafkaServiceSettings,
  ...redisServiceSettings,
  ENGINE_GROUP_ID: z.string().min(1).default('tierstream-tier-engine'),
  SIGNALS_TOPIC: z.string().min(1).default(TOPICS.signals),
  TRANSITIONS_TOPIC: z.string().min(1).default(TOPICS.transitions),
  CHANGES_TOPIC: z.string().min(1).default(TOPICS.changes),
  SNAPSHOTS_TOPIC: z.string().min(1).default(TOPICS.snapshots),
  /** Where each cut-point version is published for the warehouse (cutpoint_history, aggregate_configs). */
  CUTPOINTS_TOPIC: z.string().min(1).default(TOPICS.cutpoints),
  /** YAML with the aggregate settings (engagement weights, fx rates, reporting currency); as the aggregator's. */
  AGGREGATES_CONFIG_FILE: aggregatesConfigFileSetting,
  /** The rules file used until `tierctl rules apply` stores another version in Redis. */
  RULES_FILE: z.string().min(1).default('rules/default.yaml'),
  /**
   * live: the clock is wall time and a signal is evaluated at once (latency matters).
   * replay: the clock is the event-time watermark (min over the input partitions), customers are evaluated at the
   * close of each day they had events or could change, so a replay gives the same transitions as the oracle.
   */
  CLOCK_MODE: z.enum(['live', 'replay'], { error: 'expected live or replay' }).default('live'),
  ...inputTopicSettings,
  /** Input topics whose watermarks make the replay clock (default, also when empty: the three configured ones). */
  INPUT_TOPICS: env.list(''),
  /**
   * Sweeper tick (ms): how often an idle sweeper looks for due customers and, at a cut-point day, whether the other
   * partitions reached the barrier. Default 200 live, 20 in replay (several instances meet at every cut-point day).
   */
  SWEEP_INTERVAL_MS: z.coerce
    .number({ error: 'expected an integer' })
    .int({ error: 'expected an integer' })
    .min(10, { error: 'expected an integer >= 10' })
    .max(60_000, { error: 'expected an integer <= 60000' })
    .optional(),
  SWEEP_BATCH: env.int(500, 1, 100_000),
  /**
   * The optional periodic full snapshot of every customer (ClickHouse tier_snapshots): off, day (every day close) or
   * month (the close of each month's last day). Default: month live, off in replay. History does not need it:
   * tier_history and metric_history answer every day exactly from the changes.
   */
  SNAPSHOT_PERIOD: z.enum(['off', 'day', 'month'], { error: 'expected off, day or month' }).optional(),
  /** Recompute population cut points (shares, RFM quintiles) at the close of every N-th day; 0 = never. */
  CUTPOINTS_EVERY_DAYS: env.int(DEFAULT_CUTPOINT_SCHEDULE.everyDays, 0, 3650),
  /**
   * Recompute the cut points at every day close while the last recompute measured fewer customers than this
   * (a young population); 0 = off. Same schedule as the oracle: tiering's schedule.ts.
   */
  CUTPOINTS_YOUNG_BELOW: env.int(DEFAULT_CUTPOINT_SCHEDULE.youngBelow, 0),
  /**
   * Recompute the cut points at every day close while the population size changed by more than this fraction per
   * CUTPOINTS_EVERY_DAYS days between the last two recomputes; 0 = off.
   */
  CUTPOINTS_EARLY_CHANGE: z.coerce
    .number({ error: 'expected a number between 0 and 10' })
    .min(0, { error: 'expected a number between 0 and 10' })
    .max(10, { error: 'expected a number between 0 and 10' })
    .default(DEFAULT_CUTPOINT_SCHEDULE.earlyChange),
  /**
   * Refit the population CLV model (BG/NBD + Gamma-Gamma, issue 15) at the first cut-point day close at least N days
   * after the last fit; 0 = off (no model: p_alive, expected_* and clv_365d are null). docs/operations.md §12.
   */
  CLV_FIT_EVERY_DAYS: env.int(DEFAULT_CLV_SETTINGS.fitEveryDays, 0, 3650),
  /** Time unit of the CLV model's statistics and of its α: weeks (the papers') or days. */
  CLV_TIME_UNIT: z.enum(['weeks', 'days'], { error: 'expected weeks or days' }).default(DEFAULT_CLV_SETTINGS.timeUnit),
  /** Share of the spend that is margin in clv_365d, between 0 and 1 (1: clv_365d is revenue). */
  CLV_MARGIN: fraction(DEFAULT_CLV_SETTINGS.margin),
  /** Monthly discount rate of clv_365d (0.01 = 1 % a month), between 0 and 1; 0 = undiscounted. */
  CLV_MONTHLY_DISCOUNT: fraction(DEFAULT_CLV_SETTINGS.monthlyDiscount),
  /** A CLV fit needs at least this many customers with a purchase day, else the model in force stays. */
  CLV_MIN_CUSTOMERS: env.int(DEFAULT_CLV_SETTINGS.minCustomers ?? 0, 0),
  /** A CLV fit needs at least this many repeat buyers with a positive mean spend, else the model in force stays. */
  CLV_MIN_REPEAT_BUYERS: env.int(DEFAULT_CLV_SETTINGS.minRepeatBuyers ?? 0, 0),
  /** Customers re-evaluated per second after `tierctl rules apply`. */
  RULES_REEVALUATION_RATE: env.int(2_000, 1),
  RULES_POLL_MS: env.int(2_000, 100),
  /** Max wait of an idle fetch (ms): lower means lower live latency and more fetch requests. */
  FETCH_MAX_WAIT_MS: env.int(20, 1, 10_000),
  /**
   * Signals partitions evaluated at the same time (each stays in order, under its partition's lock). Live, one at a
   * time made every partition's signals queue behind the other partitions' Redis and Kafka round trips.
   */
  PARTITIONS_CONCURRENCY: env.int(3, 1, 64),
  /**
   * Live: customers of a signals batch evaluated, stored and emitted together. A backlog's batch is evaluated in
   * chunks of this many, each emitted before the next starts, so its first customers do not wait for its last.
   */
  LIVE_EVALUATION_CHUNK: env.int(64, 1, 100_000),
  /**
   * How long (ms) an owned signals partition may have a day due that it cannot close (e.g. the cut-point barrier
   * waits for a partition no running instance sweeps) before /health/ready turns 503 naming it. Default 10 min.
   */
  ENGINE_STUCK_LIMIT_MS: env.int(600_000, 1_000),
  ...httpServiceSettings(9402),
});

/** The service's settings (keys are environment variable names); loaded with loadConfig. */
export const engineConfigSchema = engineSettings.superRefine((config, ctx) => {
  checkInputTopicSettings(config, ctx, 'INPUT_TOPICS');
  // The CLV model is fitted only at a cut-point day close: without cut-point days it would never be fitted, and the
  // due index would wake every customer whose rules read a prediction every day, waiting for that fit.
  if (config.CLV_FIT_EVERY_DAYS > 0 && config.CUTPOINTS_EVERY_DAYS === 0) {
    ctx.addIssue({
      code: 'custom',
      path: ['CLV_FIT_EVERY_DAYS'],
      message: 'needs cut-point days (CUTPOINTS_EVERY_DAYS > 0): the CLV model is fitted at a cut-point day close',
    });
  }
});

export type EngineConfig = z.infer<typeof engineConfigSchema>;

/** The input topics whose watermarks make the replay clock: INPUT_TOPICS, or (empty) the three configured ones. */
export function replayClockTopics(config: EngineConfig): string[] {
  return config.INPUT_TOPICS.length > 0 ? config.INPUT_TOPICS : configuredInputTopics(inputTopicNames(config));
}

/**
 * The topics the engine needs before it starts (waited for, named on /health/ready while missing): the signals topic
 * and its dead-letter topic, the replay clock's input topics and the four output topics.
 */
export function startTopics(config: EngineConfig): string[] {
  return [
    config.SIGNALS_TOPIC,
    `${config.SIGNALS_TOPIC}.dlq`,
    ...replayClockTopics(config),
    config.TRANSITIONS_TOPIC,
    config.CHANGES_TOPIC,
    config.SNAPSHOTS_TOPIC,
    config.CUTPOINTS_TOPIC,
  ];
}

/** The CLV model settings of the engine (tiering's ClvSettings) from its config. */
export function clvSettings(config: EngineConfig): ClvSettings {
  return {
    fitEveryDays: config.CLV_FIT_EVERY_DAYS,
    timeUnit: config.CLV_TIME_UNIT,
    margin: config.CLV_MARGIN,
    monthlyDiscount: config.CLV_MONTHLY_DISCOUNT,
    minCustomers: config.CLV_MIN_CUSTOMERS,
    minRepeatBuyers: config.CLV_MIN_REPEAT_BUYERS,
  };
}
