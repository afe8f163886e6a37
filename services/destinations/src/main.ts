import {
  createRedisFrom,
  exitOnConfigError,
  loadConfig,
  pingRedis,
  redisHealth,
  warnWhileRedisUnreachable,
} from '@tierstream/config';
import { applyTopics, createAvroSerde, loadTopicsSpec, type TopicSpec } from '@tierstream/contracts';
import {
  BREAKER_STATE_VALUE,
  type Destination,
  DestinationGate,
  destinationDlqTopic,
  loadDestinations,
} from '@tierstream/destinations';
import { ConsumerRunner, createKafka, createProducer, kafkaSecurity, topicPartitions } from '@tierstream/kafka';
import {
  consumerHealthChecks,
  createMetrics,
  DependencyWaits,
  type Logger,
  runServiceMain,
  startHealthServer,
  waitForDependency,
} from '@tierstream/observability';
import type { Agent } from 'undici';
import { type DestinationsConfig, destinationsConfigSchema } from './config';
import { agentFor } from './deliver';
import { createDeliveryMetrics } from './delivery-metrics';
import { crmHandler, webhookHandler } from './handlers';
import { RedisParkingStore } from './parking-store';
import { startRetryLoop } from './retry-loop';

const SERVICE = 'destinations';

/**
 * The destinations named by DESTINATIONS_ONLY (all when empty), from DESTINATIONS_DIR. Throws DestinationFileError
 * (one line naming the file and key) or an Error naming an unknown DESTINATIONS_ONLY entry.
 */
export function selectDestinations(config: DestinationsConfig): Destination[] {
  const all = loadDestinations(config.DESTINATIONS_DIR);
  if (config.DESTINATIONS_ONLY.length === 0) return all.filter((d) => d.enabled);
  const unknown = config.DESTINATIONS_ONLY.filter((n) => !all.some((d) => d.name === n));
  if (unknown.length > 0) {
    throw new Error(`DESTINATIONS_ONLY: no destination file for ${unknown.join(', ')} in ${config.DESTINATIONS_DIR}`);
  }
  return all.filter((d) => config.DESTINATIONS_ONLY.includes(d.name));
}

/** The DLQ topic of each destination: as declared in topics.yaml, else like customer-tier-transitions.v1.dlq. */
function dlqTopicSpecs(destinations: Destination[], transitionsTopic: string): TopicSpec[] {
  const declared = loadTopicsSpec().topics;
  const model = declared.find((t) => t.name === `${transitionsTopic}.dlq`) ??
    declared.find((t) => t.name.endsWith('.dlq')) ?? {
      name: '',
      partitions: 3,
      replicationFactor: 1,
      config: { 'cleanup.policy': 'delete', 'retention.ms': '2592000000' },
    };
  return destinations.map((d) => {
    const name = destinationDlqTopic(d.name);
    return declared.find((t) => t.name === name) ?? { ...model, name };
  });
}

/**
 * Runs one consumer group per destination (`<DESTINATIONS_GROUP_PREFIX>.<name>`): webhooks read the transitions
 * topic, crm-upserts the changes topic. Offsets are committed per batch once every item of it was delivered,
 * dead-lettered (to `customer-tier-destinations.<name>.dlq`) or, for webhooks, parked in Redis for the retry loop.
 */
export async function runDestinations(
  config: DestinationsConfig,
  logger: Logger,
  destinations: Destination[],
): Promise<{ stop: () => Promise<void>; port: number }> {
  const metrics = createMetrics(SERVICE);
  const delivery = createDeliveryMetrics(metrics.registry);
  const serde = createAvroSerde(config);
  const runners: ConsumerRunner[] = [];
  let started = false;
  const waits = new DependencyWaits();
  const redis = createRedisFrom(config);
  warnWhileRedisUnreachable(redis, logger);
  const loop = {
    isLive: () => runners.every((r) => r.isLive()),
    isReady: () => started && runners.every((r) => r.isReady()),
  };
  const health = await startHealthServer({
    host: config.HTTP_HOST,
    port: config.HTTP_PORT,
    registry: metrics.registry,
    checks: consumerHealthChecks(() => loop, [() => redisHealth(redis)], waits),
  });
  const kafka = createKafka({
    brokers: config.KAFKA_BROKERS,
    clientId: `tierstream-${SERVICE}`,
    logger,
    ...kafkaSecurity(config),
  });
  const topics = [config.TRANSITIONS_TOPIC, config.CHANGES_TOPIC];
  await Promise.all([
    waitForDependency(waits, 'kafka', () => topicPartitions(kafka, topics), { logger }),
    waitForDependency(waits, 'schema registry', () => serde.ping(), { logger }),
    waitForDependency(waits, 'redis', () => pingRedis(redis), { logger }),
  ]);
  if (destinations.length > 0) {
    const specs = dlqTopicSpecs(destinations, config.TRANSITIONS_TOPIC);
    await waitForDependency(
      waits,
      'kafka',
      async () => {
        const admin = kafka.admin();
        await admin.connect();
        try {
          await applyTopics(admin, { topics: specs });
        } finally {
          await admin.disconnect();
        }
      },
      { logger },
    );
  }
  const producer = await waitForDependency(waits, 'kafka', () => createProducer(kafka), { logger });
  let stopping = false;
  const gates = new Map<string, DestinationGate>();
  const agents: Agent[] = [];
  const retryLoops: Array<{ stop: () => Promise<void> }> = [];
  const parkings = new Map<string, RedisParkingStore>();
  for (const dest of destinations) {
    const gate = new DestinationGate(dest.delivery, Date.now());
    gates.set(dest.name, gate);
    const agent = agentFor(dest.delivery.concurrency, dest.delivery.timeout_ms);
    agents.push(agent);
    const deps = {
      gate,
      agent,
      serde,
      producer,
      metrics: delivery,
      logger,
      service: SERVICE,
      stopping: () => stopping,
    };
    // Webhooks park items waiting for a retry in Redis and retry them in their own loop (never in the batch).
    const parking = dest.kind === 'webhook' ? new RedisParkingStore(redis, config.REDIS_PREFIX, dest.name) : undefined;
    if (dest.kind === 'webhook' && parking) {
      parkings.set(dest.name, parking);
      retryLoops.push(startRetryLoop(dest, deps, parking, config.PARKING_POLL_MS));
    }
    runners.push(
      new ConsumerRunner({
        kafka,
        groupId: `${config.DESTINATIONS_GROUP_PREFIX}.${dest.name}`,
        topics: [dest.kind === 'webhook' ? config.TRANSITIONS_TOPIC : config.CHANGES_TOPIC],
        producer,
        logger: logger.child({ destination: dest.name }),
        service: SERVICE,
        maxBytesPerPartition: config.MAX_BYTES_PER_PARTITION,
        // Partitions deliver independently; within one, webhook retries are parked, so no customer holds a batch.
        partitionsConsumedConcurrently: 8,
        handler: dest.kind === 'webhook' ? webhookHandler(dest, { ...deps, parking }) : crmHandler(dest, deps),
      }),
    );
  }
  const breakerTimer = setInterval(() => {
    for (const [name, gate] of gates) {
      delivery.breaker.set({ destination: name }, BREAKER_STATE_VALUE[gate.breaker.stateAt(Date.now())]);
    }
    for (const [name, parking] of parkings) {
      parking.scheduled().then(
        (n) => delivery.parked.set({ destination: name }, n),
        () => undefined, // Redis away: /health/ready says so; the gauge keeps its last value.
      );
    }
  }, 500);
  breakerTimer.unref();
  for (const runner of runners) await waitForDependency(waits, 'kafka', () => runner.start(), { logger });
  started = true;
  logger.info(
    { destinations: destinations.map((d) => ({ name: d.name, kind: d.kind })), port: health.port },
    destinations.length > 0 ? 'destinations started' : 'no destinations configured: idle',
  );
  return {
    port: health.port,
    stop: async () => {
      stopping = true;
      clearInterval(breakerTimer);
      await Promise.all([...runners.map((r) => r.stop()), ...retryLoops.map((l) => l.stop())]);
      await producer.disconnect();
      redis.disconnect();
      await Promise.all(agents.map((a) => a.close()));
      await health.close();
    },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  let destinations: Destination[] = [];
  try {
    destinations = selectDestinations(loadConfig(destinationsConfigSchema));
  } catch (err) {
    exitOnConfigError(SERVICE, err);
  }
  runServiceMain(SERVICE, destinationsConfigSchema, (config, logger) => runDestinations(config, logger, destinations));
}
