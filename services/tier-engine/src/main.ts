import { AggregateStore, IdentityStore, loadAggregateConfig } from '@tierstream/aggregates';
import {
  createRedisFrom,
  pingRedis,
  redisHealth,
  warnOnRedisRequirements,
  warnWhileRedisUnreachable,
} from '@tierstream/config';
import { createAvroSerde } from '@tierstream/contracts';
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
import { initialCutPoints } from '@tierstream/tiering';
import { ClvModelStore, suppressedAmong, TierStateStore } from '@tierstream/tierstate';
import { ClvModels } from './clv';
import { clvSettings, type EngineConfig, engineConfigSchema, replayClockTopics, startTopics } from './config';
import { TierEngine } from './engine';
import { evaluateLive, type LiveEvaluationDeps } from './live';
import { DayProgress } from './progress';
import { RulesSource } from './rules-source';
import { Sweeper } from './sweeper';

const SERVICE = 'tier-engine';

export async function runTierEngine(
  config: EngineConfig,
  logger: Logger,
): Promise<{ stop: () => Promise<void>; port: number }> {
  const metrics = createMetrics(SERVICE);
  const redis = createRedisFrom(config);
  warnWhileRedisUnreachable(redis, logger);
  // Redis requirements (maxmemory-policy noeviction, AOF): one warning line per unmet setting and the gauge
  // tierstream_redis_requirement_met; in the background, so a Redis that is still away does not delay the start.
  void warnOnRedisRequirements(redis, logger, metrics.registry);
  // Health first: while Redis, Kafka or the schema registry is unreachable at start, the process waits for it (with
  // backoff) and says so on /health/ready (503: `redis: …`, `waiting for kafka: …`) instead of exiting.
  let runner: ConsumerRunner | undefined;
  const waits = new DependencyWaits();
  // Day-close progress of the owned partitions: not ready when one cannot close a day for ENGINE_STUCK_LIMIT_MS.
  let progress: DayProgress | undefined;
  const health = await startHealthServer({
    host: config.HTTP_HOST,
    port: config.HTTP_PORT,
    registry: metrics.registry,
    checks: consumerHealthChecks(
      () => runner,
      [() => redisHealth(redis), async () => progress?.problems() ?? null],
      waits,
    ),
  });
  const serde = createAvroSerde(config);
  const kafka = createKafka({
    brokers: config.KAFKA_BROKERS,
    clientId: `tierstream-${SERVICE}`,
    logger,
    ...kafkaSecurity(config),
  });
  const kafkaUp = waitForDependency(waits, 'kafka', () => topicPartitions(kafka, startTopics(config)), { logger });
  const registryUp = waitForDependency(waits, 'schema registry', () => serde.ping(), { logger });
  // Refused credentials end the start even while it still waits for Redis (docs/security.md "Failures").
  for (const wait of [kafkaUp, registryUp]) void wait.catch((err: unknown) => exitOnStartFailure(SERVICE, logger, err));
  const tierState = new TierStateStore(redis, config.REDIS_PREFIX);
  const aggregateConfig = loadAggregateConfig(config.AGGREGATES_CONFIG_FILE);
  const aggregates = new AggregateStore(redis, { prefix: config.REDIS_PREFIX, config: aggregateConfig });
  // Redis first (refused credentials end the start: docs/security.md "Failures"), then its scripts.
  await waitForDependency(waits, 'redis', () => pingRedis(redis), { logger });
  await aggregates.init();
  // The active version in Redis (or RULES_FILE, recorded as the first version): one line saying which and where it
  // came from, and a warning (tierstream_rules_file_differs) when RULES_FILE on disk says otherwise.
  const rulesSource = new RulesSource(tierState.rules, config.RULES_FILE, logger, metrics.registry);
  const { rules, active } = await rulesSource.load();
  await tierState.rules.recordClockMode(config.CLOCK_MODE);
  const cutPoints = initialCutPoints(rules);
  const [meta] = await Promise.all([kafkaUp, registryUp]);
  const numPartitions = meta.find((t) => t.name === config.SIGNALS_TOPIC)?.partitions.length ?? 0;
  const clockTopics = new Set(replayClockTopics(config));
  const inputPartitions = meta
    .filter((t) => clockTopics.has(t.name))
    .flatMap((t) => t.partitions.map((p) => `${t.name}:${p}`));
  const producer = await waitForDependency(waits, 'kafka', () => createProducer(kafka), { logger });
  // The CLV model versions (issue 15): fitted at cut-point days when CLV_FIT_EVERY_DAYS > 0.
  const cutPointsSchedule = {
    everyDays: config.CUTPOINTS_EVERY_DAYS,
    youngBelow: config.CUTPOINTS_YOUNG_BELOW,
    earlyChange: config.CUTPOINTS_EARLY_CHANGE,
  };
  const clv = new ClvModels({
    store: new ClvModelStore(redis, config.REDIS_PREFIX),
    settings: clvSettings(config),
    schedule: cutPointsSchedule,
    logger,
  });
  await clv.load();
  const engine = new TierEngine(
    {
      aggregates,
      aggregateConfig,
      tierState,
      producer,
      serde,
      topics: {
        transitions: config.TRANSITIONS_TOPIC,
        changes: config.CHANGES_TOPIC,
        snapshots: config.SNAPSHOTS_TOPIC,
        cutpoints: config.CUTPOINTS_TOPIC,
      },
      logger,
      metrics,
      cutPointsEveryDays: config.CUTPOINTS_EVERY_DAYS,
      numPartitions,
      clv,
      // Merges (design-decisions §22): one HGETALL of a small hash per evaluated customer, absent for most.
      identity: new IdentityStore(redis, { prefix: config.REDIS_PREFIX }),
      // Erased customers (docs/security.md "Erasure"): one EXISTS per batch while nobody is suppressed.
      suppressed: (ids) => suppressedAmong(redis, config.REDIS_PREFIX, ids),
    },
    rules,
    cutPoints,
  );
  // Every stored cut-point version: a partition that is behind evaluates its days with the versions of those days.
  for (const stored of await tierState.getCutPointsHistory()) engine.cutPoints = stored;
  progress = new DayProgress({ limitMs: config.ENGINE_STUCK_LIMIT_MS, numPartitions, metrics });
  const sweeper = new Sweeper({
    engine,
    tierState,
    redis,
    mode: config.CLOCK_MODE,
    inputPartitions,
    numPartitions,
    batchSize: config.SWEEP_BATCH,
    cutPointsSchedule,
    snapshotPeriod: config.SNAPSHOT_PERIOD ?? (config.CLOCK_MODE === 'replay' ? 'off' : 'month'),
    rulesReevaluationRate: config.RULES_REEVALUATION_RATE,
    rulesPollMs: config.RULES_POLL_MS,
    onRulesSwitched: (next) => void rulesSource.check(next),
    logger,
    metrics,
    progress,
    clv,
  });
  // Live: a signals batch's customers, in chunks (LIVE_EVALUATION_CHUNK) under the partition's lock.
  const live: LiveEvaluationDeps = {
    evaluate: (p, requests) => engine.evaluate(p, requests),
    withLock: (p, fn) => sweeper.withLock(p, fn),
    reevaluating: (p) => sweeper.reevaluating(p),
  };
  runner = new ConsumerRunner({
    kafka,
    groupId: config.ENGINE_GROUP_ID,
    topics: [config.SIGNALS_TOPIC],
    producer,
    logger,
    metrics,
    service: SERVICE,
    maxWaitTimeMs: config.FETCH_MAX_WAIT_MS,
    // Live: a partition's signals are evaluated while another's wait on Redis or Kafka (latency, docs/performance.md).
    partitionsConsumedConcurrently: config.PARTITIONS_CONCURRENCY,
    onAssignment: (assignment) => {
      sweeper.owned.clear();
      for (const p of assignment[config.SIGNALS_TOPIC] ?? []) sweeper.owned.add(p);
    },
    handler: async (batch, ctx) => {
      if (config.CLOCK_MODE === 'replay') return; // replay: the sweeper evaluates at day close from the due index
      const customers = new Set<string>();
      for (const record of batch.records) {
        try {
          const { value } = await serde.decode(record.value ?? Buffer.alloc(0));
          customers.add((value as { customer_id: string }).customer_id);
        } catch (err) {
          ctx.deadLetter(record, 'UNDECODABLE', (err as Error).message);
        }
      }
      await evaluateLive(live, batch.partition, [...customers], config.LIVE_EVALUATION_CHUNK, ctx);
    },
  });
  const consumer = runner;
  await waitForDependency(waits, 'kafka', () => consumer.start(), { logger });
  sweeper.start(config.SWEEP_INTERVAL_MS ?? (config.CLOCK_MODE === 'replay' ? 20 : 200));
  logger.info(
    {
      mode: config.CLOCK_MODE,
      rules: rules.version,
      rulesApply: active.seq,
      rulesSource: active.source,
      cutPoints: engine.cutPoints.version,
      numPartitions,
      port: health.port,
    },
    'tier engine started',
  );
  return {
    port: health.port,
    stop: async () => {
      await sweeper.stop();
      await runner?.stop();
      await producer.disconnect();
      await health.close();
      redis.disconnect();
    },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) runServiceMain(SERVICE, engineConfigSchema, runTierEngine);
