import { checkRedisRequirements, type RedisFinding, redactSecret } from '@tierstream/config';
import { clickhouseProblem } from '@tierstream/warehouse';
import type { Admin } from 'kafkajs';
import type { Clients } from '../clients';
import { groupLagByPartition } from '../pipeline';

/**
 * Stack status that returns data (`tierctl status`): the stack's health, the services' consumer lag and the
 * dead-letter topics' sizes from the Kafka admin API. The CLI prints it, the console's Operations page shows it.
 */

/** The connections the status reads: a tierctl `Clients`, or the console's equivalent. */
export type StatusClients = Pick<
  Clients,
  | 'admin'
  | 'redis'
  | 'serde'
  | 'clickhouse'
  | 'endpoints'
  | 'groups'
  | 'inputTopics'
  | 'signalsTopic'
  | 'outputTopics'
  | 'dlqTopics'
>;

/** Lag of one consumer group on one partition: records between its committed offset and the end. */
export type GroupLag = {
  group: string;
  topic: string;
  partition: number;
  lag: number;
};

export interface StackStatus {
  /** Per dependency (kafka, schema-registry, redis, clickhouse): `ok` or `down: <why>`. */
  health: Record<string, string>;
  /** Per group, topic and partition (empty while Kafka is down). */
  lag: GroupLag[];
  /** Records per dead-letter topic that exists (high − low watermark, summed over partitions). */
  dlq: Record<string, number>;
  /** Redis settings that are not as tierstream needs them, each with its message (empty: met, or Redis is down). */
  redis_requirements: RedisFinding[];
}

/** Each dependency's health: `ok`, or `down: <the error>` (never throws). */
export async function stackHealth(clients: StatusClients): Promise<Record<string, string>> {
  const health: Record<string, string> = {};
  const check = async (name: string, fn: () => Promise<unknown>) => {
    try {
      await fn();
      health[name] = 'ok';
    } catch (err) {
      // A URL in the error (REDIS_URL, a registry address) never shows the password of its user info.
      health[name] = `down: ${String(redactSecret('url', (err as Error).message))}`;
    }
  };
  await check('kafka', async () => (await clients.admin()).listTopics());
  // With the configured basic auth and CA (an anonymous GET would report a secured registry as down).
  await check('schema-registry', () => clients.serde.ping());
  await check('redis', () => clients.redis.ping());
  await check('clickhouse', async () => {
    // As the configured user, in the configured database (ping() answers without credentials).
    const problem = await clickhouseProblem(clients.clickhouse, clients.endpoints.clickhouseDatabase);
    if (problem !== null) throw new Error(problem);
  });
  return health;
}

/**
 * Lag per partition of each service's consumer group (aggregator: the input topics, tier engine: the signals topic,
 * warehouse writer: the engine's output topics), over the topics that exist. Throws the admin client's error.
 */
export async function consumerLag(clients: StatusClients, admin?: Admin): Promise<GroupLag[]> {
  const kafka = admin ?? (await clients.admin());
  const groupTopics: Record<string, string[]> = {
    [clients.groups.aggregator]: clients.inputTopics,
    [clients.groups.engine]: [clients.signalsTopic],
    [clients.groups.writer]: clients.outputTopics,
  };
  const existing = new Set(await kafka.listTopics());
  const lag: GroupLag[] = [];
  for (const [group, topics] of Object.entries(groupTopics)) {
    const present = topics.filter((t) => existing.has(t));
    if (present.length > 0) for (const p of await groupLagByPartition(kafka, group, present)) lag.push({ group, ...p });
  }
  return lag;
}

/** Records per dead-letter topic that exists (`<topic>.dlq` of every topic a service reads). Throws on admin errors. */
export async function dlqSizes(clients: StatusClients, admin?: Admin): Promise<Record<string, number>> {
  const kafka = admin ?? (await clients.admin());
  const existing = new Set(await kafka.listTopics());
  const sizes: Record<string, number> = {};
  for (const dlqTopic of clients.dlqTopics) {
    if (!existing.has(dlqTopic)) continue;
    const offsets = await kafka.fetchTopicOffsets(dlqTopic);
    sizes[dlqTopic] = offsets.reduce((n, p) => n + Number(BigInt(p.high) - BigInt(p.low)), 0);
  }
  return sizes;
}

/**
 * Health, lag, dead letters and the Redis requirements (what `tierctl status` prints). Never throws for a dependency
 * that is down: its health says so and the parts that need it are empty.
 */
export async function stackStatus(clients: StatusClients): Promise<StackStatus> {
  const health = await stackHealth(clients);
  const kafkaUp = health.kafka === 'ok';
  const lag = kafkaUp ? await consumerLag(clients) : [];
  const dlq = kafkaUp ? await dlqSizes(clients) : {};
  // Redis requirements (docs/operations.md): what is not as tierstream needs it, or that CONFIG GET failed.
  const findings: RedisFinding[] = health.redis === 'ok' ? await checkRedisRequirements(clients.redis) : [];
  return { health, lag, dlq, redis_requirements: findings };
}
