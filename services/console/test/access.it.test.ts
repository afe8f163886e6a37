import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type ServiceProcess, startService, stopService } from '@tierstream/cli';
import { createLogger } from '@tierstream/observability';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConsoleConfig } from '../src/config';
import { type ConsoleDeps, closeConsoleDeps, createConsoleDeps } from '../src/deps';
import { apiRoutes, buildConsole } from '../src/server';

/**
 * Access to the console (real Fastify, real stack): every /api route refuses a request without a valid token (401) and
 * an admin route a viewer token (403); the login keeps the token in an HttpOnly, SameSite=Strict cookie; health and
 * metrics are open; the console binds to loopback by default; no token ever appears in a response or a log line.
 */
const VIEWER = 'viewer-Tok3n-4f1c9a2b7e5d8c6a';
const ADMIN = 'admin-Tok3n-9b8a7c6d5e4f3a2b1';
const run = `consoleit${process.pid}`;
const settings = { CONFIG_FILE: '', REDIS_PREFIX: run, CLICKHOUSE_DATABASE: run };

/** A concrete URL for a route pattern (`:id` → a customer id). */
const concrete = (url: string) => url.replace(/:[a-z_]+/g, 'C000001');

describe('console access (in process: every route)', () => {
  let app: FastifyInstance;
  let deps: ConsoleDeps;

  beforeAll(async () => {
    const config = loadConsoleConfig({
      ...process.env,
      ...settings,
      CONSOLE_VIEWER_TOKEN: VIEWER,
      CONSOLE_ADMIN_TOKEN: ADMIN,
    });
    deps = createConsoleDeps(config, createLogger('console-test', 'silent'));
    // Readiness asks ClickHouse for the configured database.
    await deps.clients.clickhouse.command({ query: `CREATE DATABASE IF NOT EXISTS ${run}` });
    app = await buildConsole(deps, config);
    await app.ready();
  });

  afterAll(async () => {
    await app?.close();
    await deps?.clients.clickhouse.command({ query: `DROP DATABASE IF EXISTS ${run}` });
    if (deps) await closeConsoleDeps(deps);
  });

  it('refuses every API route without a token, and with an unknown one (401, a JSON error, WWW-Authenticate)', async () => {
    const routes = apiRoutes(app).filter((r) => !(r.url === '/api/v1/session' && r.method === 'POST'));
    // The five pages' routes are there (customer, overview, movements, rules, operations), and session.
    for (const prefix of [
      '/api/v1/customers',
      '/api/v1/overview',
      '/api/v1/movements',
      '/api/v1/rules',
      '/api/v1/operations',
    ])
      expect(
        routes.some((r) => r.url.startsWith(prefix)),
        prefix,
      ).toBe(true);
    for (const route of routes) {
      for (const headers of [
        {},
        { authorization: 'Bearer not-a-token-of-this-console' },
        { cookie: 'tierstream_console=nope' },
      ]) {
        const res = await app.inject({ method: route.method as 'GET', url: concrete(route.url), headers });
        expect(res.statusCode, `${route.method} ${route.url} ${JSON.stringify(headers)}`).toBe(401);
        expect(res.json()).toEqual({ error: expect.stringContaining('authentication required') });
        expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
      }
    }
  });

  it('refuses a viewer on every admin route (403) and lets the admin token through the check', async () => {
    const admin = apiRoutes(app).filter((r) => r.role === 'admin');
    expect(admin.map((r) => `${r.method} ${r.url}`)).toContain('POST /api/v1/rules/apply');
    for (const route of admin) {
      const res = await app.inject({
        method: route.method as 'POST',
        url: concrete(route.url),
        headers: { authorization: `Bearer ${VIEWER}` },
      });
      expect(res.statusCode, `${route.method} ${route.url}`).toBe(403);
      expect(res.json()).toEqual({ error: 'this action needs the admin role' });
      // The admin passes the role check (whatever the handler then says about the empty body).
      const asAdmin = await app.inject({
        method: route.method as 'POST',
        url: concrete(route.url),
        headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
        payload: '{}',
      });
      expect([401, 403]).not.toContain(asAdmin.statusCode);
    }
  });

  it('logs in with a token into an HttpOnly SameSite=Strict cookie, which then authenticates; logout clears it', async () => {
    const bad = await app.inject({
      method: 'POST',
      url: '/api/v1/session',
      payload: { token: 'wrong-token-0000000000' },
    });
    expect(bad.statusCode).toBe(401);
    expect(bad.headers['set-cookie']).toBeUndefined();
    const login = await app.inject({ method: 'POST', url: '/api/v1/session', payload: { token: VIEWER } });
    expect(login.statusCode).toBe(200);
    expect(login.json()).toEqual({ role: 'viewer' });
    const cookie = String(login.headers['set-cookie']);
    expect(cookie).toMatch(/^tierstream_console=[^;]+; Path=\/; HttpOnly; SameSite=Strict$/);
    const value = cookie.split(';')[0]!;
    const session = await app.inject({ method: 'GET', url: '/api/v1/session', headers: { cookie: value } });
    expect(session.json()).toEqual({ role: 'viewer', currency: deps.aggregateConfig.reportingCurrency });
    const asAdmin = await app.inject({
      method: 'GET',
      url: '/api/v1/session',
      headers: { authorization: `Bearer ${ADMIN}` },
    });
    expect(asAdmin.json().role).toBe('admin');
    const logout = await app.inject({ method: 'DELETE', url: '/api/v1/session', headers: { cookie: value } });
    expect(String(logout.headers['set-cookie'])).toMatch(
      /^tierstream_console=; Max-Age=0; Path=\/;|^tierstream_console=;.*Expires=Thu, 01 Jan 1970/,
    );
  });

  it('serves health, readiness and metrics without a token', async () => {
    for (const url of ['/health/live', '/healthz'])
      expect((await app.inject({ url })).json()).toEqual({ status: 'live' });
    for (const url of ['/health/ready', '/readyz']) {
      // Redis connects when the console starts: ready within moments.
      await expect
        .poll(async () => {
          const res = await app.inject({ url });
          return [res.statusCode, res.json()];
        })
        .toEqual([200, { status: 'ready', failing: [] }]);
    }
    const metrics = await app.inject({ url: '/metrics' });
    expect(metrics.statusCode).toBe(200);
    expect(metrics.body).toContain('process_cpu_user_seconds_total');
  });
});

describe('console access (as a process: defaults, logs, configuration errors)', () => {
  let svc: ServiceProcess | null = null;
  const lines: string[] = [];
  let url = '';
  let tmp = '';

  beforeAll(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'console-it-'));
    writeFileSync(path.join(tmp, 'viewer.token'), `${VIEWER}\n`);
    svc = startService(
      'console',
      {
        ...settings,
        CONSOLE_PORT: '0',
        CONSOLE_HOST: '',
        CONSOLE_VIEWER_TOKEN: '',
        CONSOLE_VIEWER_TOKEN_FILE: path.join(tmp, 'viewer.token'),
        CONSOLE_ADMIN_TOKEN: ADMIN,
        LOG_LEVEL: 'trace',
      },
      (_n, line) => lines.push(line),
    );
    const deadline = Date.now() + 60_000;
    while (!url) {
      if (Date.now() > deadline || svc.child.exitCode !== null)
        throw new Error(`console did not start:\n${lines.join('\n')}`);
      const m = lines.map((l) => /"msg":"console listening"/.test(l) && JSON.parse(l)).find(Boolean);
      if (m) url = m.url;
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  afterAll(async () => {
    if (svc) await stopService(svc);
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('binds to 127.0.0.1 by default and reads the viewer token from CONSOLE_VIEWER_TOKEN_FILE', async () => {
    const listening = lines.map((l) => (l.includes('console listening') ? JSON.parse(l) : null)).find(Boolean);
    expect(listening.host).toBe('127.0.0.1');
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const res = await fetch(`${url}/api/v1/session`, { headers: { authorization: `Bearer ${VIEWER}` } });
    expect(await res.json()).toMatchObject({ role: 'viewer' });
  });

  it('never writes a token into a response body or a log line (log level trace)', async () => {
    const bodies: string[] = [];
    const call = async (p: string, init: RequestInit = {}) => {
      const res = await fetch(`${url}${p}`, init);
      bodies.push(JSON.stringify([...res.headers].filter(([k]) => k !== 'set-cookie')), await res.text());
    };
    for (const token of [VIEWER, ADMIN, 'a-wrong-token-0123456789']) {
      await call('/api/v1/session', { headers: { authorization: `Bearer ${token}` } });
      await call('/api/v1/session', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ token }),
      });
      await call('/api/v1/customers/C000001', { headers: { cookie: `tierstream_console=${token}` } });
      await call('/api/v1/customers/%00bad', { headers: { authorization: `Bearer ${token}` } });
      await call('/api/v1/rules/apply', { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    }
    await call('/');
    await call('/login.html');
    await call('/metrics');
    await new Promise((r) => setTimeout(r, 300)); // the last log lines
    const everything = [...bodies, ...lines].join('\n');
    expect(bodies.length).toBeGreaterThan(20);
    expect(lines.length).toBeGreaterThan(0);
    for (const token of [VIEWER, ADMIN, 'a-wrong-token-0123456789']) expect(everything).not.toContain(token);
  });

  it('refuses to start without any token (exit 2, one line naming the setting)', async () => {
    const out: string[] = [];
    const bad = startService(
      'console',
      {
        ...settings,
        CONSOLE_PORT: '0',
        CONSOLE_VIEWER_TOKEN: '',
        CONSOLE_ADMIN_TOKEN: '',
        CONSOLE_VIEWER_TOKEN_FILE: '',
      },
      (_n, line) => out.push(line),
    );
    expect(await bad.exited).toBe(2);
    expect(out).toEqual([
      'console: invalid configuration: CONSOLE_VIEWER_TOKEN: no token configured (set CONSOLE_VIEWER_TOKEN or CONSOLE_VIEWER_TOKEN_FILE)',
    ]);
  });
});
