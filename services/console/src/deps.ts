import type { AggregateConfig } from '@tierstream/aggregates';
import { Clients } from '@tierstream/cli';
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

/** The console's dependencies from its configuration. Connects lazily: nothing is opened until a route needs it. */
export function createConsoleDeps(config: ConsoleConfig, logger: Logger): ConsoleDeps {
  const clients = new Clients(config);
  return { clients, aggregateConfig: clients.aggregateConfig, logger, now: () => Date.now() };
}

/** Closes every connection the deps opened. */
export async function closeConsoleDeps(deps: ConsoleDeps): Promise<void> {
  await deps.clients.close();
}
