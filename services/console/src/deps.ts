import type { AggregateConfig } from '@tierstream/aggregates';
import { Clients } from '@tierstream/cli';
import { warnWhileRedisUnreachable } from '@tierstream/config';
import type { Logger } from '@tierstream/observability';
import type { ConsoleConfig } from './config';

/**
 * What the routes read from, built once per process. `clients` is tierctl's connection set (the same validated
 * settings, factories and lazily created ClickHouse / Redis / Kafka admin clients), so the console sees exactly what
 * `tierctl` sees and gets any connection setting (TLS, passwords) the shared factories learn.
 */
export interface ConsoleDeps {
  clients: Clients;
  /** How metrics are computed (AGGREGATES_CONFIG_FILE): reporting currency, fx rates, engagement weights. */
  aggregateConfig: AggregateConfig;
  logger: Logger;
  /** Milliseconds since the epoch; tests may pin it. */
  now: () => number;
}

/** The console's dependencies from its configuration: Redis connects now, ClickHouse and Kafka on first use. */
export function createConsoleDeps(config: ConsoleConfig, logger: Logger): ConsoleDeps {
  const clients = new Clients(config);
  // Redis connects at start, so /health/ready answers from the first probe on (it does not wait for a connection).
  warnWhileRedisUnreachable(clients.redis, logger);
  return { clients, aggregateConfig: clients.aggregateConfig, logger, now: () => Date.now() };
}

/** Closes every connection the deps opened. */
export async function closeConsoleDeps(deps: ConsoleDeps): Promise<void> {
  await deps.clients.close();
}
