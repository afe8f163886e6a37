import net from 'node:net';
import { STACK_DEFAULTS, stackEndpoints } from '@tierstream/config';
import { freePort } from './free-port';

/**
 * vitest globalSetup of the integration and e2e projects.
 *
 * TIERSTREAM_STACK unset or `local`: the stack of infra/local (or docker compose) must already run; every endpoint is
 * probed once, quickly, and the run stops at once with one clear message when one is not there.
 * TIERSTREAM_STACK=testcontainers: the four services are started as containers for this run (needs Docker) and the
 * endpoint variables (KAFKA_BROKERS, SCHEMA_REGISTRY_URL, REDIS_URL, CLICKHOUSE_URL) point the tests at them.
 * Test workers start after this function returns and inherit process.env, so the tests read the same variables.
 */
export default async function setup(): Promise<(() => Promise<void>) | undefined> {
  const mode = process.env.TIERSTREAM_STACK ?? 'local';
  if (mode === 'testcontainers') return startContainers();
  if (mode !== 'local') throw new Error(`TIERSTREAM_STACK must be "local" or "testcontainers", not "${mode}"`);
  await verifyLocalStack();
  return undefined;
}

const PROBE_TIMEOUT_MS = 2_000;

async function verifyLocalStack(): Promise<void> {
  const endpoints = stackEndpoints(process.env);
  const kafka = endpoints.kafkaBrokers[0] ?? STACK_DEFAULTS.KAFKA_BROKERS;
  const probes: Array<[string, Promise<boolean>]> = [
    [`kafka ${kafka}`, tcpReachable(kafka)],
    [`schema registry ${endpoints.schemaRegistryUrl}`, httpOk(`${endpoints.schemaRegistryUrl}/subjects`)],
    ...redisNodes(endpoints.redisUrl).map(
      ([host, port]) => [`redis ${host}:${port}`, redisPing(host, port)] as [string, Promise<boolean>],
    ),
    [`clickhouse ${endpoints.clickhouseUrl}`, httpOk(`${endpoints.clickhouseUrl.replace(/\/$/, '')}/ping`)],
  ];
  const results = await Promise.all(probes.map(async ([name, ok]) => [name, await ok] as const));
  const down = results.filter(([, ok]) => !ok).map(([name]) => name);
  if (down.length > 0) {
    throw new Error(`local stack not running: run \`npm run stack:up\` (unreachable: ${down.join(', ')})`);
  }
}

/** host:port of the single server, or of every seed node of a `redis-cluster://h:p,h:p` URL. */
function redisNodes(url: string): Array<[string, number]> {
  if (url.startsWith('redis-cluster://')) {
    return url
      .slice('redis-cluster://'.length)
      .split(',')
      .map((hp) => {
        const at = hp.lastIndexOf(':');
        return [hp.slice(0, at) || '127.0.0.1', Number(hp.slice(at + 1) || 6379)];
      });
  }
  const redis = new URL(url);
  return [[redis.hostname, Number(redis.port || 6379)]];
}

function tcpReachable(hostPort: string): Promise<boolean> {
  const at = hostPort.lastIndexOf(':');
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostPort.slice(0, at), port: Number(hostPort.slice(at + 1)) });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(PROBE_TIMEOUT_MS, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

async function httpOk(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
    await res.body?.cancel();
    return res.ok;
  } catch {
    return false;
  }
}

function redisPing(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    let reply = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(PROBE_TIMEOUT_MS, () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString('utf8');
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
    socket.once('error', () => done(false));
  });
}

/** Images pinned to the versions of docker-compose.yml. */
const IMAGES = {
  kafka: 'apache/kafka:3.9.1',
  registry: 'apicurio/apicurio-registry:3.0.9',
  redis: 'redis:7.2',
  clickhouse: 'clickhouse/clickhouse-server:24.8',
} as const;

async function startContainers(): Promise<() => Promise<void>> {
  const { GenericContainer, Wait } = await import('testcontainers');
  // Kafka tells clients to reconnect to its advertised address, so it must listen on the same port inside the
  // container as the one published on the host: pick a free host port first and use it on both sides.
  const kafkaPort = await freePort();
  const host = process.env.TESTCONTAINERS_HOST_OVERRIDE ?? '127.0.0.1';

  const started = await Promise.all([
    new GenericContainer(IMAGES.kafka)
      .withEnvironment({
        CLUSTER_ID: 'dGllcnN0cmVhbS1sb2NhbA',
        KAFKA_NODE_ID: '1',
        KAFKA_PROCESS_ROLES: 'broker,controller',
        KAFKA_CONTROLLER_QUORUM_VOTERS: '1@localhost:19093',
        KAFKA_LISTENERS: `PLAINTEXT://0.0.0.0:${kafkaPort},CONTROLLER://localhost:19093`,
        KAFKA_ADVERTISED_LISTENERS: `PLAINTEXT://${host}:${kafkaPort}`,
        KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
        KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
        KAFKA_INTER_BROKER_LISTENER_NAME: 'PLAINTEXT',
        KAFKA_NUM_PARTITIONS: '3',
        KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
        KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
        KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1',
        KAFKA_AUTO_CREATE_TOPICS_ENABLE: 'false',
        KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
      })
      .withExposedPorts({ container: kafkaPort, host: kafkaPort })
      .withWaitStrategy(Wait.forLogMessage(/Kafka Server started/))
      .withStartupTimeout(180_000)
      .start(),
    new GenericContainer(IMAGES.registry)
      .withEnvironment({ APICURIO_RULES_GLOBAL_COMPATIBILITY: 'BACKWARD' })
      .withExposedPorts(8080)
      .withWaitStrategy(Wait.forHttp('/apis/ccompat/v7/subjects', 8080).forStatusCode(200))
      .withStartupTimeout(180_000)
      .start(),
    new GenericContainer(IMAGES.redis)
      .withCommand([
        'redis-server',
        '--appendonly',
        'yes',
        '--appendfsync',
        'always',
        '--save',
        '',
        '--hash-max-listpack-entries',
        '1024',
        '--hash-max-listpack-value',
        '4096',
      ])
      .withExposedPorts(6379)
      .withWaitStrategy(Wait.forLogMessage(/Ready to accept connections/))
      .start(),
    new GenericContainer(IMAGES.clickhouse)
      .withEnvironment({ CLICKHOUSE_SKIP_USER_SETUP: '1', TZ: 'UTC' })
      .withExposedPorts(8123)
      .withWaitStrategy(Wait.forHttp('/ping', 8123).forStatusCode(200))
      .withStartupTimeout(180_000)
      .start(),
  ]);
  const [kafka, registry, redis, clickhouse] = started;
  process.env.KAFKA_BROKERS = `${kafka.getHost()}:${kafkaPort}`;
  process.env.SCHEMA_REGISTRY_URL = `http://${registry.getHost()}:${registry.getMappedPort(8080)}/apis/ccompat/v7`;
  process.env.REDIS_URL = `redis://${redis.getHost()}:${redis.getMappedPort(6379)}`;
  process.env.CLICKHOUSE_URL = `http://${clickhouse.getHost()}:${clickhouse.getMappedPort(8123)}`;
  return async () => {
    await Promise.all(started.map((c) => c.stop()));
  };
}
