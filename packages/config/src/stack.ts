/**
 * Where the four stack services are. One place for the defaults; every process and test reads them from here.
 * The same defaults are in infra/local/env.sh (for the shell scripts) and docker-compose.yml.
 */
export interface StackEndpoints {
  kafkaBrokers: string[];
  schemaRegistryUrl: string;
  redisUrl: string;
  clickhouseUrl: string;
  clickhouseDatabase: string;
}

export const STACK_DEFAULTS = {
  KAFKA_BROKERS: '127.0.0.1:19092',
  SCHEMA_REGISTRY_URL: 'http://127.0.0.1:18081/apis/ccompat/v7',
  REDIS_URL: 'redis://127.0.0.1:16379',
  CLICKHOUSE_URL: 'http://127.0.0.1:18123',
  CLICKHOUSE_DATABASE: 'tierstream',
} as const;

export function stackEndpoints(env: NodeJS.ProcessEnv = process.env): StackEndpoints {
  return {
    kafkaBrokers: (env.KAFKA_BROKERS ?? STACK_DEFAULTS.KAFKA_BROKERS)
      .split(',')
      .map((b) => b.trim())
      .filter(Boolean),
    schemaRegistryUrl: env.SCHEMA_REGISTRY_URL ?? STACK_DEFAULTS.SCHEMA_REGISTRY_URL,
    redisUrl: env.REDIS_URL ?? STACK_DEFAULTS.REDIS_URL,
    clickhouseUrl: env.CLICKHOUSE_URL ?? STACK_DEFAULTS.CLICKHOUSE_URL,
    clickhouseDatabase: env.CLICKHOUSE_DATABASE ?? STACK_DEFAULTS.CLICKHOUSE_DATABASE,
  };
}
