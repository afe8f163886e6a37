import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { daySeries, orderTiers, tierCounts } from '../tier-views';
import type { ConsoleRouteOptions } from '../types';
import { consoleQuery, packQuery, readRedisCustomers, readReportingCurrency } from '../warehouse-reads';
import { catalogReader, resolveRange, tiersOf } from './dimension-catalog';
import { checkDimension, day, dimension, intParam, metric, parseQuery } from './params';

const rangeQuery = z.object({ dimension: dimension.default('value_tier'), from: day.optional(), to: day.optional() });

/**
 * The Overview page's API (all GET, viewer role, JSON):
 * - `/api/v1/overview/meta` → `{ dimensions: [{ id, tiers (best first), ordered }], range: { from, to } | null,
 *   default_range: { from, to } | null, currency, rules_version }`: what the pickers offer; `range` = the first and
 *   last day with data, `default_range` = what a request without days gets (the range, at most MAX_RANGE_DAYS).
 * - `/api/v1/overview/distribution?dimension&from&to` → `{ dimension, from, to, days, series: [{ name (tier), values
 *   (customers per day) }] }`: customers per tier per day from tier_history (SQL pack `tier_distribution_daily`).
 * - `/api/v1/overview/counts?dimension` → `{ dimension, tiers: [{ tier, customers, share }], total, without_tier,
 *   metrics_day, clickhouse_customers, redis: { customers, partitions } | null, redis_error }`: the current state
 *   (tier_current), with the customers the tier engine knows in Redis as a cross-check.
 * - `/api/v1/overview/revenue-share?dimension&day&metric` → `{ dimension, day, metric, currency, tiers: [{ tier,
 *   customers, revenue (minor units of currency), customer_share, revenue_share }] }` (SQL pack `revenue_share`).
 * - `/api/v1/overview/transitions?dimension&from&to&limit` → `{ transitions: [{ transition_id, customer_id, dimension,
 *   from_tier, to_tier, direction, reason, rule_id, day, occurred_at (epoch ms) }] }`, newest first; `dimension` empty =
 *   all.
 * `from`/`to`/`day` default to the data's range; a bad or unknown parameter is a 400 naming it.
 */
export default async function overviewRoutes(app: FastifyInstance, opts: ConsoleRouteOptions): Promise<void> {
  const { clients } = opts.deps;
  const catalog = catalogReader(clients);

  /** The catalog, the dimension checked against it, and the days defaulted to the data's (see resolveRange). */
  const resolve = async (q: { dimension?: string; from?: string; to?: string }) => {
    const c = await catalog();
    return { c, ...resolveRange(c, q, new Date(opts.deps.now()).toISOString().slice(0, 10)) };
  };

  app.get('/api/v1/overview/meta', async () => {
    const [c, currency] = await Promise.all([catalog(), readReportingCurrency(clients)]);
    return {
      dimensions: c.dimensions,
      range: c.range,
      default_range: c.range ? resolveRange(c, {}, c.range.to) : null,
      currency: currency ?? opts.deps.aggregateConfig.reportingCurrency,
      rules_version: c.rules?.version ?? null,
    };
  });

  app.get('/api/v1/overview/distribution', async (request) => {
    const q = parseQuery(rangeQuery, request.query);
    const { c, from, to } = await resolve(q);
    const rows = await packQuery(clients, 'tier_distribution_daily', { dimension: q.dimension, from, to });
    const tiers = tiersOf(c, q.dimension);
    const { days, series } = daySeries(
      rows as Array<{ day: string; tier: string; customers: number }>,
      from,
      to,
      (r) => r.tier,
      (r) => Number(r.customers),
      (keys) => orderTiers(tiers, keys),
    );
    return { dimension: q.dimension, from, to, days, series };
  });

  app.get('/api/v1/overview/counts', async (request) => {
    const q = parseQuery(z.object({ dimension: dimension.default('value_tier') }), request.query);
    const c = await catalog();
    checkDimension(q.dimension, c.dimensions);
    const [rows, redis] = await Promise.all([
      consoleQuery(clients, 'current_counts', { dimension: q.dimension }),
      readRedisCustomers(clients).then(
        (value) => ({ value, error: null }),
        (err: Error) => ({ value: null, error: err.message }),
      ),
    ]);
    const counts = tierCounts(
      rows.map((r) => ({ tier: String(r.tier), customers: Number(r.customers), metrics_day: String(r.metrics_day) })),
      tiersOf(c, q.dimension),
    );
    return {
      dimension: q.dimension,
      ...counts,
      clickhouse_customers: counts.total + counts.without_tier,
      redis: redis.value,
      redis_error: redis.error,
    };
  });

  app.get('/api/v1/overview/revenue-share', async (request) => {
    const q = parseQuery(
      z.object({
        dimension: dimension.default('value_tier'),
        day: day.optional(),
        metric: metric.default('revenue_365d'),
      }),
      request.query,
    );
    const { c, to } = await resolve({ dimension: q.dimension, to: q.day, from: q.day });
    const [rows, currency] = await Promise.all([
      packQuery(clients, 'revenue_share', { dimension: q.dimension, day: to, metric: q.metric }),
      readReportingCurrency(clients),
    ]);
    const tiers = orderTiers(
      tiersOf(c, q.dimension),
      rows.map((r) => String(r.tier)),
    );
    const byTier = new Map(rows.map((r) => [String(r.tier), r]));
    return {
      dimension: q.dimension,
      day: to,
      metric: q.metric,
      currency: currency ?? opts.deps.aggregateConfig.reportingCurrency,
      tiers: tiers.map((tier) => {
        const r = byTier.get(tier) as Record<string, unknown>;
        return {
          tier,
          customers: Number(r.customers),
          revenue: Number(r.revenue),
          customer_share: Number(r.customer_share),
          revenue_share: Number(r.revenue_share),
        };
      }),
    };
  });

  app.get('/api/v1/overview/transitions', async (request) => {
    const q = parseQuery(
      z.object({
        dimension: z.union([z.literal(''), dimension]).default(''),
        from: day.optional(),
        to: day.optional(),
        limit: intParam(50, 1, 1000),
      }),
      request.query,
    );
    const { from, to } = await resolve(q);
    const rows = await consoleQuery(clients, 'latest_transitions', {
      dimension: q.dimension,
      from,
      to,
      limit: String(q.limit),
    });
    return { dimension: q.dimension, from, to, transitions: rows };
  });
}
