import { engineClosedDays, stackStatus } from '@tierstream/cli';
import { dayOf, isoDay, TierStateStore } from '@tierstream/tierstate';
import { QUERIES_DIR, runNamedQuery } from '@tierstream/warehouse';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { isMoneyMetric } from '../rules-view';
import { parseServiceHealthUrls, probeServices, type ServiceProbe } from '../service-health';
import type { ConsoleRouteOptions } from '../types';
import { day as daySchema, parseQuery } from './params';

/**
 * The Operations page's API:
 * - `GET /api/v1/operations/status`: what `tierctl status --json` reports (ops/status.ts stackStatus: the stack's
 *   health, lag per consumer group and partition, records per dead-letter topic, Redis requirements), the lag summed
 *   per group, and each service's readiness probed at CONSOLE_SERVICE_HEALTH_URLS.
 * - `GET /api/v1/operations/cutpoints?day=YYYY-MM-DD`: the cut points in force on `day` from ClickHouse
 *   (the SQL pack's cutpoints_on_day: version, effective from, measured day, per dimension and cut key the groups and
 *   the cuts as they apply on the day; `money` for cuts in minor units) and the version the engines hold in Redis now. Default day: the day after the
 *   engines' last closed day (the next day they evaluate), else today (UTC).
 */
export default async function operationsRoutes(app: FastifyInstance, opts: ConsoleRouteOptions): Promise<void> {
  const { deps, config } = opts;
  const clients = deps.clients;
  const parsed = parseServiceHealthUrls(config.CONSOLE_SERVICE_HEALTH_URLS);
  // The configuration was validated at load (the schema runs the same parser): a string here is a programming error.
  if (typeof parsed === 'string') throw new Error(`CONSOLE_SERVICE_HEALTH_URLS: ${parsed}`);
  const probes: ServiceProbe[] = parsed;
  const timeoutMs = config.CONSOLE_SERVICE_HEALTH_TIMEOUT_MS;

  app.get('/api/v1/operations/status', async () => {
    const [status, services] = await Promise.all([stackStatus(clients), probeServices(probes, timeoutMs)]);
    const groups = new Map<string, { group: string; topics: string[]; partitions: number; lag: number }>();
    for (const l of status.lag) {
      const g = groups.get(l.group) ?? { group: l.group, topics: [], partitions: 0, lag: 0 };
      if (!g.topics.includes(l.topic)) g.topics.push(l.topic);
      g.partitions += 1;
      g.lag += l.lag;
      groups.set(l.group, g);
    }
    return {
      health: status.health,
      services,
      groups: [...groups.values()],
      lag: status.lag,
      dlq: status.dlq,
      redis_requirements: status.redis_requirements.map((f) => f.message),
    };
  });

  app.get<{ Querystring: { day?: string } }>('/api/v1/operations/cutpoints', async (request) => {
    const asked = request.query.day;
    if (asked !== undefined) parseQuery(z.object({ day: daySchema }), { day: asked }); // a calendar day ClickHouse holds, or a 400
    const [engine, current] = await Promise.all([
      engineClosedDays(clients),
      new TierStateStore(clients.redis, clients.redisPrefix).getCutPoints(),
    ]);
    const day = asked ?? isoDay(engine.measured === null ? dayOf(deps.now()) : engine.measured + 1);
    const result = await runNamedQuery(clients.clickhouse, {
      dir: QUERIES_DIR,
      name: 'cutpoints_on_day',
      params: { day },
      database: clients.endpoints.clickhouseDatabase,
      format: 'json',
    });
    const rows = result.rows.map((r) => ({
      version: r.version,
      rules_version: r.rules_version,
      effective_from: r.effective_from,
      measured_day: r.measured_day,
      population: r.population,
      dimension: r.dimension,
      cut_key: r.cut_key,
      metric: r.metric,
      better: r.better,
      groups: r.groups,
      cuts: r.cuts,
      anchor_day: r.anchor_day,
      cuts_on_day: r.cuts_on_day,
      money: isMoneyMetric(String(r.metric)),
    }));
    return {
      day,
      engine_closed_day: engine.measured === null ? null : isoDay(engine.measured),
      redis: current && {
        version: current.version,
        computed_at: new Date(current.computed_at).toISOString(),
        rules_version: current.rules_version ?? null,
        population: current.population ?? null,
      },
      rows,
    };
  });
}
