import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConsole, type ConsoleDeps, createConsoleDeps, loadConsoleConfig } from '../src/index';

/**
 * Requests a user or a script can send by mistake or on purpose (review of issue 17): encoded paths must not get past
 * the token check, and bad ids, days and instants are a 400 (or 404) before anything is read — the deps point at a port
 * nothing listens on, so a route that queried first would answer 500.
 */
describe('console requests at the edges', () => {
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

  const get = async (url: string, auth = true) => {
    const r = await app.inject({ url, headers: auth ? { authorization: `Bearer ${token}` } : {} });
    return { status: r.statusCode, error: (r.json() as { error?: string }).error };
  };

  it.each(['/%61pi/v1/customers/C000001', '/%61pi/v1/overview/meta', '/a%70i/v1/rules', '/api%2Fv1/customers/C000001'])(
    'does not let the percent-encoded path %s past the token check',
    async (url) => {
      const r = await app.inject({ url });
      expect([401, 404]).toContain(r.statusCode);
      expect(r.statusCode).not.toBe(200);
    },
  );

  it.each([
    ['/api/v1/customers/C000001?as_of=9999-12-31', /^as_of: /],
    ['/api/v1/customers/C000001?as_of=2200-01-01', /^as_of: /],
    ['/api/v1/customers/C000001?as_of=1969-12-31', /^as_of: /],
    ['/api/v1/customers/C000001?as_of=2300-01-01T00:00:00Z', /^as_of: /],
    ['/api/v1/operations/cutpoints?day=2026-02-31', /^day: /],
    ['/api/v1/operations/cutpoints?day=2200-01-01', /^day: /],
    [`/api/v1/customers/${'x'.repeat(201)}`, /^customer id: /],
  ])('%s → 400', async (url, error) => {
    const r = await get(url);
    expect(r.status).toBe(400);
    expect(r.error).toMatch(error);
  });

  it('takes a customer transitions dimension as the rules name it (VIP_Club), refusing other text', async () => {
    expect((await get('/api/v1/customers/C1/transitions?dimension=a%27b')).status).toBe(400);
    // Past the parameter check: the route then reads ClickHouse, which does not answer here (503).
    expect((await get('/api/v1/customers/C1/transitions?dimension=VIP_Club')).status).toBe(503);
  });

  it('takes ids of 101 to 200 characters to the customer route (not a route-not-found 404)', async () => {
    // Nothing listens at the stack's address, so the route itself answers 500 here; a route-not-found is a 404.
    const r = await app.inject({
      url: `/api/v1/customers/${'x'.repeat(150)}`,
      headers: { authorization: `Bearer ${token}` },
    });
    expect(r.statusCode).not.toBe(404);
  });

  it('answers 503 naming the store when Redis or ClickHouse cannot be reached (not a bare 500)', async () => {
    const r = await get('/api/v1/overview/meta');
    expect(r.status).toBe(503);
    expect(r.error).toMatch(/^unavailable: .*(redis|clickhouse)/i);
  }, 20_000);

  it('refuses a rules upload whose YAML aliases expand without bound (a "billion laughs") as invalid, not a 500', async () => {
    const lines = ['a: &a [x, x, x, x, x, x, x, x, x]'];
    for (const [i, n] of ['b', 'c', 'd', 'e', 'f', 'g'].entries())
      lines.push(`${n}: &${n} [${Array(9).fill(`*${'abcdefg'[i]}`).join(', ')}]`);
    const r = await app.inject({
      method: 'POST',
      url: '/api/v1/rules/validate',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/yaml' },
      payload: `${lines.join('\n')}\n`,
    });
    expect(r.statusCode).toBe(200);
    const body = r.json() as { valid: boolean; issues: string[] };
    expect(body.valid).toBe(false);
    expect(body.issues[0]).toMatch(/^uploaded\.yaml: invalid YAML: .*alias/i);
  });

  it('never lets the login form put the token into a URL (a submit before login.js runs is a POST)', async () => {
    const html = (await app.inject({ url: '/login.html' })).body;
    expect(html).toMatch(/<form id="login"[^>]* method="post"/);
  });

  it('answers the browser favicon request without a 404', async () => {
    const r = await app.inject({ url: '/favicon.ico' });
    expect(r.statusCode).toBeLessThan(400);
  });
});
