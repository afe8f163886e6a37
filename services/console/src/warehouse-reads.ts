/**
 * The console's reads of ClickHouse and Redis for the Overview and Movements pages. Every SQL text is a named query
 * file with typed `{name:Type}` placeholders: the analyst SQL pack (infra/clickhouse/queries, QUERIES_DIR) or the
 * console's own (src/sql), rendered by the warehouse package's validated substitution (ClickHouse 18.16 has no
 * server-side parameters) — never SQL built from request input.
 */
import { fileURLToPath } from 'node:url';
import type { Clients } from '@tierstream/cli';
import { parseRules, type Rules } from '@tierstream/tiering';
import { TierStateStore } from '@tierstream/tierstate';
import { QUERIES_DIR, type ResultRow, runNamedQuery } from '@tierstream/warehouse';
import { type DimensionInfo, dimensionCatalog } from './tier-views';

/** The console's own queries (src/sql/*.sql), same header format as the SQL pack. */
export const CONSOLE_SQL_DIR = fileURLToPath(new URL('./sql', import.meta.url));

/** What the reads need of tierctl's connection set. */
export type ReadClients = Pick<
  Clients,
  'clickhouse' | 'redis' | 'redisPrefix' | 'endpoints' | 'admin' | 'signalsTopic'
>;

type Params = Record<string, string>;

/** Rows of a query of the analyst SQL pack (64-bit integers as numbers). Throws WarehouseError when it fails. */
export async function packQuery(clients: ReadClients, name: string, params: Params): Promise<ResultRow[]> {
  const r = await runNamedQuery(clients.clickhouse, {
    dir: QUERIES_DIR,
    name,
    params,
    database: clients.endpoints.clickhouseDatabase,
    format: 'json',
  });
  return r.rows;
}

/** Rows of one of the console's own queries (src/sql/<name>.sql). */
export async function consoleQuery(clients: ReadClients, name: string, params: Params = {}): Promise<ResultRow[]> {
  const r = await runNamedQuery(clients.clickhouse, {
    dir: CONSOLE_SQL_DIR,
    name,
    params,
    database: clients.endpoints.clickhouseDatabase,
    format: 'json',
  });
  return r.rows;
}

/** The active rules version (Redis), parsed; null when none is active or it does not parse. */
export async function activeRules(clients: ReadClients): Promise<Rules | null> {
  const active = await new TierStateStore(clients.redis, clients.redisPrefix).getActiveRules();
  if (!active) return null;
  try {
    return parseRules(active.text, `active rules ${active.version}`);
  } catch {
    return null;
  }
}

/** The dimensions to offer: the active rules' (tiers best first), plus any other one the current state has. */
export async function readDimensions(
  clients: ReadClients,
): Promise<{ rules: Rules | null; dimensions: DimensionInfo[] }> {
  const [rules, rows] = await Promise.all([activeRules(clients), consoleQuery(clients, 'dimensions')]);
  return {
    rules,
    dimensions: dimensionCatalog(
      rules,
      rows.map((r) => String(r.dimension)),
    ),
  };
}

/** The first and last day with data in the warehouse; null when it has none. */
export async function readDataRange(clients: ReadClients): Promise<{ from: string; to: string } | null> {
  const [row] = await consoleQuery(clients, 'data_range');
  if (!row || Number(row.rows) === 0) return null;
  return { from: String(row.first_day), to: String(row.last_day) };
}

/** The reporting currency of the warehouse's latest aggregate configuration, or null when it has none. */
export async function readReportingCurrency(clients: ReadClients): Promise<string | null> {
  const [row] = await consoleQuery(clients, 'reporting_currency');
  return row ? String(row.reporting_currency) : null;
}

/**
 * Customers the tier engine knows in Redis: the sizes of its per-partition customer sets (one SCARD per partition of
 * the signals topic). Equals the customers of tier_current once the writer has caught up.
 */
export async function readRedisCustomers(clients: ReadClients): Promise<{ customers: number; partitions: number }> {
  const meta = await (await clients.admin()).fetchTopicMetadata({ topics: [clients.signalsTopic] });
  const partitions = meta.topics[0]?.partitions.length ?? 0;
  const store = new TierStateStore(clients.redis, clients.redisPrefix);
  const sizes = await Promise.all(Array.from({ length: partitions }, (_, p) => store.customerCount(p)));
  return { customers: sizes.reduce((a, b) => a + b, 0), partitions };
}
