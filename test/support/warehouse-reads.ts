import type { Clients } from '@tierstream/cli';
import { dayOf, isoDay } from '@tierstream/tierstate';

/**
 * Readers of the warehouse's history for the oracle checks. They read the tables (with FINAL) and apply the history
 * rules here, in TypeScript, independently of the SQL pack, so the pack's queries are checked against them and both
 * against the oracle:
 *   tiers of customer c on day D   = its tier_history row with the greatest valid_from ≤ D (none: not a customer yet);
 *   metrics of customer c on day D = its metric_history row with the greatest (basis_day, valid_from), valid_from ≤ D.
 */

const dayNumber = (iso: string) => dayOf(Date.parse(`${iso}T00:00:00Z`));

async function rows<T>(clients: Clients, query: string): Promise<T[]> {
  const rs = await clients.clickhouse.query({ query, format: 'JSONEachRow' });
  return rs.json<T>();
}

/**
 * Customers per tier per day per dimension from tier_history, keyed like the oracle's `distribution`
 * (`${day}|${dimension}|${tier}` → count), for every day from the first history day to `lastDay` (YYYY-MM-DD).
 */
export async function historyDistribution(clients: Clients, lastDay: string): Promise<Map<string, number>> {
  const db = clients.endpoints.clickhouseDatabase;
  const history = await rows<{ customer_id: string; day: string; dims: string[]; tiers: string[] }>(
    clients,
    `SELECT customer_id, toString(valid_from) AS day, dims, tiers
     FROM ${db}.tier_history FINAL
     WHERE valid_from <= toDate('${lastDay}')
     ORDER BY customer_id, valid_from`,
  );
  const last = dayNumber(lastDay);
  const out = new Map<string, number>();
  for (let i = 0; i < history.length; i++) {
    const row = history[i]!;
    const next = history[i + 1];
    const until = next && next.customer_id === row.customer_id ? dayNumber(next.day) - 1 : last;
    for (let d = dayNumber(row.day); d <= until; d++) {
      const day = isoDay(d);
      row.dims.forEach((dim, k) => {
        const tier = row.tiers[k];
        if (!tier) return;
        const key = `${day}|${dim}|${tier}`;
        out.set(key, (out.get(key) ?? 0) + 1);
      });
    }
  }
  return out;
}

/**
 * The value of `metric` per day and customer from metric_history (day → customer → value), shaped like the oracle's
 * `metrics`, for every day from each customer's first row to `lastDay`. A row without the metric gives no value.
 */
export async function historyMetric(
  clients: Clients,
  metric: string,
  lastDay: string,
): Promise<Map<string, Map<string, number>>> {
  const db = clients.endpoints.clickhouseDatabase;
  const points = await rows<{ customer_id: string; basis: string; vf: string; present: number; value: number }>(
    clients,
    `SELECT customer_id, toString(basis_day) AS basis, toString(valid_from) AS vf,
            indexOf(metric_names, '${metric.replaceAll("'", "\\'")}') > 0 AS present,
            metric_values[indexOf(metric_names, '${metric.replaceAll("'", "\\'")}')] AS value
     FROM ${db}.metric_history FINAL
     WHERE valid_from <= toDate('${lastDay}')
     ORDER BY customer_id, basis_day, valid_from`,
  );
  const byCustomer = new Map<string, typeof points>();
  for (const p of points) {
    const list = byCustomer.get(p.customer_id);
    if (list) list.push(p);
    else byCustomer.set(p.customer_id, [p]);
  }
  const last = dayNumber(lastDay);
  const out = new Map<string, Map<string, number>>();
  for (const [customer, list] of byCustomer) {
    // Sorted by (basis_day, valid_from): on day D the last row with valid_from ≤ D applies.
    const first = Math.min(...list.map((p) => dayNumber(p.vf)));
    for (let d = first; d <= last; d++) {
      let current: (typeof list)[number] | undefined;
      for (const p of list) if (dayNumber(p.vf) <= d) current = p;
      if (!current || !Number(current.present)) continue;
      const day = isoDay(d);
      const perDay = out.get(day) ?? new Map<string, number>();
      perDay.set(customer, Number(current.value));
      out.set(day, perDay);
    }
  }
  return out;
}

/** Every transition id in `tier_transitions` after FINAL (a duplicate row would appear twice). */
export async function warehouseTransitionIds(clients: Clients): Promise<string[]> {
  const rs = await clients.clickhouse.query({
    query: `SELECT transition_id FROM ${clients.endpoints.clickhouseDatabase}.tier_transitions FINAL`,
    format: 'JSONEachRow',
  });
  return (await rs.json<{ transition_id: string }>()).map((r) => r.transition_id);
}
