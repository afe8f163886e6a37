import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import { redisHealth } from '@tierstream/config';
import { clickhouseProblem } from '@tierstream/warehouse';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import { collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import { registerAuth } from './auth';
import type { ConsoleConfig } from './config';
import type { ConsoleDeps } from './deps';
import customerRoutes from './routes/customer';
import movementsRoutes from './routes/movements';
import operationsRoutes from './routes/operations';
import overviewRoutes from './routes/overview';
import rulesRoutes from './routes/rules';
import { HttpError, type Role } from './types';

export type { ConsoleConfig, ConsoleDeps, ConsoleRouteOptions, Role } from './types';
export { HttpError } from './types';

/** The UI files (index.html, app.js, style.css, pages/*.js, login.html). */
export const PUBLIC_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'public');

/** ECharts' ES module build, served at /vendor/echarts.mjs from node_modules (the UI makes no external request). */
function echartsModule(): Buffer {
  const require = createRequire(import.meta.url);
  return readFileSync(path.join(path.dirname(require.resolve('echarts')), 'echarts.esm.min.mjs'));
}

/** One API route: method, URL pattern (`/api/v1/customers/:id`) and the role it needs. */
export interface ApiRoute {
  method: string;
  url: string;
  role: Role;
}

const registeredRoutes = new WeakMap<FastifyInstance, ApiRoute[]>();

/** Every /api route of a console built by buildConsole (the session routes of auth.ts included). */
export function apiRoutes(app: FastifyInstance): ApiRoute[] {
  return [...(registeredRoutes.get(app) ?? [])];
}

/**
 * The console's HTTP server, not yet listening: auth (src/auth.ts), /health/live, /health/ready (also /healthz,
 * /readyz), /metrics, the static UI at / and the five route plugins (overview, movements, customer, rules, operations),
 * each registered with `{ deps, config }`. A route throws HttpError for a 4xx; anything else is a 503 `unavailable: ...`
 * naming Redis or ClickHouse when one of them does not answer (the readiness check), else a 500 whose body says
 * "internal error" (the message goes to the log).
 */
export async function buildConsole(deps: ConsoleDeps, config: ConsoleConfig): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    // One log line per request at 500 requests/s is noise; errors are logged by the error handler below.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 2 * 1024 * 1024,
    // Customer ids up to 200 characters (more once percent-encoded) reach the route, which answers 400 past 200;
    // Fastify's default of 100 made a longer id a route-not-found 404.
    routerOptions: { maxParamLength: 1024 },
  });
  const registry = new Registry();
  registry.setDefaultLabels({ service: 'console' });
  collectDefaultMetrics({ register: registry });
  const duration = new Histogram({
    name: 'tierstream_console_request_duration_seconds',
    help: 'Console HTTP request duration, by route and status code',
    labelNames: ['route', 'status'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url;
    if (route?.startsWith('/api/'))
      duration.observe({ route, status: String(reply.statusCode) }, reply.elapsedTime / 1000);
  });

  /** What is wrong with Redis and ClickHouse, one line each ([] when both answer). */
  const storesDown = async (): Promise<string[]> => {
    const failing: string[] = [];
    const redis = await redisHealth(deps.clients.redis);
    if (redis) failing.push(redis);
    // A query as the configured user in the configured database (a ping answers without credentials).
    const clickhouse = await clickhouseProblem(deps.clients.clickhouse, deps.clients.endpoints.clickhouseDatabase);
    if (clickhouse) failing.push(`clickhouse: ${clickhouse}`);
    return failing;
  };

  app.setErrorHandler(async (err: Error & { statusCode?: number; validation?: unknown }, request, reply) => {
    if (err instanceof HttpError) return reply.code(err.status).send({ error: err.message });
    if (err.validation || (err.statusCode && err.statusCode >= 400 && err.statusCode < 500))
      return reply.code(err.statusCode ?? 400).send({ error: err.message });
    // A store that cannot be reached is the usual cause: say which (as readiness does), with 503.
    const down = await storesDown();
    request.log.error({ err, url: request.routeOptions.url, stores_down: down }, 'console request failed');
    if (down.length > 0) return reply.code(503).send({ error: `unavailable: ${down.join('; ')}` });
    return reply.code(500).send({ error: 'internal error (see the console log)' });
  });

  // The UI loads nothing from elsewhere; ECharts sets inline styles on its canvas containers.
  app.addHook('onSend', async (_request, reply) => {
    reply.header(
      'content-security-policy',
      "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'",
    );
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
  });

  // Every /api route with the role it needs, for the access tests (apiRoutes(app)).
  const routes: ApiRoute[] = [];
  app.addHook('onRoute', (route) => {
    if (!route.url.startsWith('/api/')) return;
    for (const method of [route.method].flat())
      if (method !== 'HEAD') routes.push({ method, url: route.url, role: route.config?.role ?? 'viewer' });
  });
  registeredRoutes.set(app, routes);

  await registerAuth(app, config, { currency: deps.aggregateConfig.reportingCurrency });

  const live = async () => ({ status: 'live' });
  const ready = async (_req: unknown, reply: { code: (n: number) => unknown }) => {
    const failing = await storesDown();
    if (failing.length > 0) reply.code(503);
    return { status: failing.length === 0 ? 'ready' : 'not ready', failing };
  };
  app.get('/health/live', live);
  app.get('/healthz', live);
  app.get('/health/ready', ready);
  app.get('/readyz', ready);
  app.get('/metrics', async (_req, reply) => {
    reply.type(registry.contentType);
    return registry.metrics();
  });

  const echarts = echartsModule();
  app.get('/vendor/echarts.mjs', async (_req, reply) => {
    reply.type('text/javascript; charset=utf-8').header('cache-control', 'public, max-age=86400');
    return echarts;
  });
  // Browsers ask for /favicon.ico on their own; the console has no icon, and a 404 would show as an error.
  app.get('/favicon.ico', async (_req, reply) =>
    reply.code(204).header('cache-control', 'public, max-age=86400').send(),
  );
  await app.register(fastifyStatic, { root: PUBLIC_DIR, prefix: '/', index: ['index.html'] });

  const opts = { deps, config };
  await app.register(overviewRoutes, opts);
  await app.register(movementsRoutes, opts);
  await app.register(customerRoutes, opts);
  await app.register(rulesRoutes, opts);
  await app.register(operationsRoutes, opts);
  return app;
}
