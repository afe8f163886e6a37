import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { daySeries, migrationMatrix } from '../tier-views';
import type { ConsoleRouteOptions } from '../types';
import { packQuery } from '../warehouse-reads';
import { catalogReader, resolveRange, tiersOf } from './dimension-catalog';
import { day, dimension, intParam, parseQuery, tier } from './params';

const twoDays = z.object({ dimension: dimension.default('value_tier'), from: day.optional(), to: day.optional() });

/**
 * The Movements page's API (all GET, viewer role, JSON):
 * - `/api/v1/movements/matrix?dimension&from&to` → `{ dimension, from, to, from_tiers, to_tiers, cells: [{ from_tier,
 *   to_tier, customers, share (of the from tier's customers) }], from_totals, to_totals, total, stayed, moved }`: tiers
 *   on day `from` × tiers on day `to` (SQL pack `migration_matrix`; `(none)` = not a customer yet / no tier).
 * - `/api/v1/movements/customers?dimension&from&to&from_tier&to_tier&limit` → `{ customers: [customer ids], limit,
 *   truncated }`: the customers of one cell (SQL pack `migration_customers`), by id.
 * - `/api/v1/movements/reasons?dimension&from&to` → `{ dimension, from, to, days, series: [{ name (reason), values
 *   (transitions per day) }], total }`: transitions per UTC day by reason (SQL pack `transitions_by_reason`).
 * `from`/`to` default to the data's first and last day; a bad or unknown parameter is a 400 naming it.
 */
export default async function movementsRoutes(app: FastifyInstance, opts: ConsoleRouteOptions): Promise<void> {
  const { clients } = opts.deps;
  const catalog = catalogReader(clients);

  /** The catalog, the dimension checked against it, and the days defaulted to the data's (see resolveRange). */
  const resolve = async (q: { dimension: string; from?: string; to?: string }) => {
    const c = await catalog();
    return { c, ...resolveRange(c, q, new Date(opts.deps.now()).toISOString().slice(0, 10)) };
  };

  app.get('/api/v1/movements/matrix', async (request) => {
    const q = parseQuery(twoDays, request.query);
    const { c, from, to } = await resolve(q);
    const rows = await packQuery(clients, 'migration_matrix', { dimension: q.dimension, from, to });
    const matrix = migrationMatrix(
      rows.map((r) => ({ from_tier: String(r.from_tier), to_tier: String(r.to_tier), customers: Number(r.customers) })),
      tiersOf(c, q.dimension),
    );
    return { dimension: q.dimension, from, to, ...matrix };
  });

  app.get('/api/v1/movements/customers', async (request) => {
    const q = parseQuery(
      twoDays.extend({ from_tier: tier, to_tier: tier, limit: intParam(500, 1, 10_000) }),
      request.query,
    );
    const { from, to } = await resolve(q);
    // One more than asked: tells whether the list was cut.
    const rows = await packQuery(clients, 'migration_customers', {
      dimension: q.dimension,
      from,
      to,
      from_tier: q.from_tier,
      to_tier: q.to_tier,
      limit: String(q.limit + 1),
    });
    const customers = rows.map((r) => String(r.customer_id));
    return {
      dimension: q.dimension,
      from,
      to,
      from_tier: q.from_tier,
      to_tier: q.to_tier,
      customers: customers.slice(0, q.limit),
      limit: q.limit,
      truncated: customers.length > q.limit,
    };
  });

  app.get('/api/v1/movements/reasons', async (request) => {
    const q = parseQuery(twoDays, request.query);
    const { from, to } = await resolve(q);
    const rows = (await packQuery(clients, 'transitions_by_reason', { dimension: q.dimension, from, to })) as Array<{
      day: string;
      reason: string;
      transitions: number;
    }>;
    const { days, series } = daySeries(
      rows,
      from,
      to,
      (r) => r.reason,
      (r) => Number(r.transitions),
      // most frequent reason first (the bottom of the stack)
      (keys) => {
        const sum = (k: string) => rows.reduce((n, r) => n + (r.reason === k ? Number(r.transitions) : 0), 0);
        return [...keys].sort((a, b) => sum(b) - sum(a) || a.localeCompare(b));
      },
    );
    return { dimension: q.dimension, from, to, days, series, total: series.reduce((n, s) => n + sumOf(s.values), 0) };
  });
}

function sumOf(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
