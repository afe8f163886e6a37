import { CustomerViewCache, customerView, UnknownCustomerError } from '@tierstream/cli';
import { DAY_MS, dayOf, endOfDay, isoDay } from '@tierstream/tierstate';
import { QUERIES_DIR, runNamedQuery } from '@tierstream/warehouse';
import type { FastifyInstance } from 'fastify';
import { groupMetrics, type MetricKind, metricKind } from '../metric-groups';
import { type ConsoleRouteOptions, HttpError } from '../types';

/** A customer id the API accepts: 1–200 characters, none of them a control character. */
const CUSTOMER_ID = /^[^\p{Cc}]{1,200}$/u;

/** The id of a request, or a 400. */
export function customerIdParam(raw: string | undefined): string {
  if (raw === undefined || !CUSTOMER_ID.test(raw))
    throw new HttpError(400, 'customer id: expected 1 to 200 characters without control characters');
  return raw;
}

/** The last day ClickHouse's Date holds (tier_history's days), as epoch ms of its start. */
const LAST_DAY_MS = Date.parse('2105-12-31T00:00:00Z');

/**
 * `as_of` of a request as epoch ms: a day `YYYY-MM-DD` is the close of that UTC day (its last millisecond: the tiers in
 * force that day, the metrics with that day's events); an ISO-8601 instant is taken as is. Undefined: now. 400 when
 * neither, or before 1970-01-01 / after 2105-12-31 (the days tier_history can hold).
 */
export function asOfParam(raw: string | undefined): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (/^\d{4}-\d{2}-\d{2}$/.test(raw)) {
    const t = Date.parse(`${raw}T00:00:00Z`);
    if (Number.isFinite(t) && t >= 0 && t <= LAST_DAY_MS && isoDay(dayOf(t)) === raw) return endOfDay(dayOf(t));
  } else if (/^\d{4}-\d{2}-\d{2}T/.test(raw)) {
    const t = Date.parse(raw);
    if (Number.isFinite(t) && t >= 0 && t < LAST_DAY_MS + DAY_MS) return t;
  }
  throw new HttpError(
    400,
    `as_of: expected a day YYYY-MM-DD or an ISO-8601 instant from 1970-01-01 to 2105-12-31, got ${JSON.stringify(raw)}`,
  );
}

/** One transition as the API returns it: the ClickHouse row, its numbers as a map. */
export interface TransitionJson {
  occurred_at: number;
  day: string;
  dimension: string;
  from_tier: string | null;
  to_tier: string;
  direction: string;
  reason: string;
  rule_id: string;
  rules_version: string;
  cutpoints_version: string;
  metrics: Record<string, number>;
  transition_id: string;
}

/**
 * The Customer page's API (docs/console.md "Profile API"):
 * - `GET /api/v1/customers/:id[?as_of=YYYY-MM-DD|instant]`: tiers, decided_by (current view), pending demotions,
 *   metrics (with `metric_groups` and `metric_kinds` for display) and notes — the customer view of `tierctl customer`
 *   (packages/cli/src/ops/customer-view.ts): current tiers from Redis and metrics as of now, or with `as_of` the tiers of
 *   that day from ClickHouse tier_history. 404 for an unknown customer, 400 for a bad id or as_of.
 * - `GET /api/v1/customers/:id/transitions[?dimension=&limit=]`: the customer's transitions in order with reason, rule
 *   and the numbers behind each (SQL pack query customer_transitions). 404 when there are none and Redis does not know
 *   the customer either.
 */
export default async function customerRoutes(app: FastifyInstance, opts: ConsoleRouteOptions): Promise<void> {
  const { deps } = opts;
  const clients = deps.clients;
  const cache = new CustomerViewCache(1_000);
  const currency = deps.aggregateConfig.reportingCurrency;

  // Groups and kinds of a metric name list, computed once per distinct list (every profile has the same names).
  const displays = new Map<
    string,
    { metric_groups: ReturnType<typeof groupMetrics>; metric_kinds: Record<string, MetricKind> }
  >();
  const display = (names: string[]) => {
    const key = names.join(',');
    let d = displays.get(key);
    if (!d) {
      d = {
        metric_groups: groupMetrics(names),
        metric_kinds: Object.fromEntries(names.map((n) => [n, metricKind(n)])),
      };
      if (displays.size > 100) displays.clear();
      displays.set(key, d);
    }
    return d;
  };

  const view = (id: string, asOf: number | undefined) =>
    customerView(clients, id, {
      asOf,
      aggregateConfig: deps.aggregateConfig,
      rulesFile: clients.config.RULES_FILE,
      now: deps.now(),
      cache,
    }).catch((err: unknown) => {
      if (err instanceof UnknownCustomerError) throw new HttpError(404, `unknown customer ${id}`);
      throw err;
    });

  app.get<{ Params: { id: string }; Querystring: { as_of?: string } }>('/api/v1/customers/:id', async (request) => {
    const id = customerIdParam(request.params.id);
    const asOf = asOfParam(request.query.as_of);
    const { tier_state: _state, ...v } = await view(id, asOf);
    return { ...v, currency, ...display(Object.keys(v.metrics ?? {})) };
  });

  app.get<{ Params: { id: string }; Querystring: { dimension?: string; limit?: string } }>(
    '/api/v1/customers/:id/transitions',
    async (request) => {
      const id = customerIdParam(request.params.id);
      const dimension = request.query.dimension ?? '';
      if (!/^(?:[A-Za-z][A-Za-z0-9_]{0,127})?$/.test(dimension))
        throw new HttpError(400, 'dimension: expected a dimension id (letters, digits, _, starting with a letter)');
      const limit = request.query.limit === undefined ? 1000 : Number(request.query.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 10_000)
        throw new HttpError(400, 'limit: expected an integer from 1 to 10000');
      const { rows } = await runNamedQuery(clients.clickhouse, {
        dir: QUERIES_DIR,
        name: 'customer_transitions',
        params: { customer_id: id, dimension, limit: String(limit) },
        database: clients.endpoints.clickhouseDatabase,
        format: 'json',
      });
      if (rows.length === 0) await view(id, undefined); // 404 when nobody knows the customer
      const transitions: TransitionJson[] = rows.map((r) => {
        const names = r.metric_names as string[];
        const values = r.metric_values as number[];
        return {
          occurred_at: Number(r.occurred_at),
          day: String(r.day),
          dimension: String(r.dimension),
          from_tier: (r.from_tier as string | null) ?? null,
          to_tier: String(r.to_tier),
          direction: String(r.direction),
          reason: String(r.reason),
          rule_id: String(r.rule_id),
          rules_version: String(r.rules_version),
          cutpoints_version: String(r.cutpoints_version),
          metrics: Object.fromEntries(names.map((n, i) => [n, Number(values[i])])),
          transition_id: String(r.transition_id),
        };
      });
      const kinds: Record<string, MetricKind> = {};
      for (const t of transitions) for (const n of Object.keys(t.metrics)) kinds[n] = metricKind(n);
      return { customer_id: id, currency, transitions, metric_kinds: kinds, day_ms: DAY_MS };
    },
  );
}
