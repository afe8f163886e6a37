import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConsole, type ConsoleDeps, createConsoleDeps, loadConsoleConfig } from '../src/index';

/**
 * The Overview and Movements routes refuse bad query parameters with a 400 naming the parameter, before they read
 * anything: the deps here point at a port nothing listens on, so a route that queried first would answer 500.
 */
describe('overview and movements routes: bad parameters', () => {
  const token = 'viewer-token-for-unit-tests';
  let app: FastifyInstance;
  let deps: ConsoleDeps;

  beforeAll(async () => {
    const config = loadConsoleConfig({
      CONSOLE_VIEWER_TOKEN: token,
      CLICKHOUSE_URL: 'http://127.0.0.1:9',
      REDIS_URL: 'redis://127.0.0.1:9',
      KAFKA_BROKERS: '127.0.0.1:9',
    });
    deps = createConsoleDeps(config, pino({ level: 'silent' }) as never);
    app = await buildConsole(deps, config);
  });
  afterAll(async () => {
    await app.close();
    await deps.clients.close();
  });

  const get = async (url: string) => {
    const r = await app.inject({ url, headers: { authorization: `Bearer ${token}` } });
    return { status: r.statusCode, error: (r.json() as { error?: string }).error };
  };

  it.each([
    [
      '/api/v1/overview/distribution?from=2024-02-30',
      'from: expected a day YYYY-MM-DD between 1970-01-01 and 2105-12-31, got "2024-02-30"',
    ],
    [
      '/api/v1/overview/distribution?dimension=Value-Tier',
      'dimension: expected a dimension id (letters, digits, underscore, starting with a letter)',
    ],
    [
      '/api/v1/overview/counts?dimension=x%27%3B%20DROP',
      'dimension: expected a dimension id (letters, digits, underscore, starting with a letter)',
    ],
    [
      '/api/v1/overview/revenue-share?metric=revenue%2B1',
      'metric: expected a metric name (lower case letters, digits, underscore)',
    ],
    ['/api/v1/overview/transitions?limit=0', 'limit: expected at least 1'],
    ['/api/v1/overview/transitions?limit=5000', 'limit: expected at most 1000'],
    [
      '/api/v1/movements/matrix?to=yesterday',
      'to: expected a day YYYY-MM-DD between 1970-01-01 and 2105-12-31, got "yesterday"',
    ],
    ['/api/v1/movements/customers?from_tier=GOLD', 'to_tier: is required'],
    ['/api/v1/movements/customers?from_tier=GOLD&to_tier=%27PLATINUM', 'to_tier: expected a tier name or (none)'],
    [
      '/api/v1/movements/reasons?from=1969-12-31',
      'from: expected a day YYYY-MM-DD between 1970-01-01 and 2105-12-31, got "1969-12-31"',
    ],
  ])('%s → 400', async (url, error) => {
    expect(await get(url)).toEqual({ status: 400, error });
  });

  it('needs a token (401) like every API route', async () => {
    const r = await app.inject({ url: '/api/v1/movements/matrix' });
    expect(r.statusCode).toBe(401);
  });
});
