import type { Clients } from '@tierstream/cli';

/** Customers per tier per day per dimension in the daily snapshots, keyed like the oracle's `distribution`. */
export async function snapshotDistribution(clients: Clients): Promise<Map<string, number>> {
  const rs = await clients.clickhouse.query({
    query: `SELECT toString(snapshot_day) AS day, dim, tier, count() AS n
            FROM ${clients.endpoints.clickhouseDatabase}.tier_snapshots FINAL ARRAY JOIN dims AS dim, tiers AS tier
            GROUP BY day, dim, tier`,
    format: 'JSONEachRow',
  });
  const rows = await rs.json<{ day: string; dim: string; tier: string; n: string }>();
  return new Map(rows.map((r) => [`${r.day}|${r.dim}|${r.tier}`, Number(r.n)]));
}

/** Every transition id in `tier_transitions` after FINAL (a duplicate row would appear twice). */
export async function warehouseTransitionIds(clients: Clients): Promise<string[]> {
  const rs = await clients.clickhouse.query({
    query: `SELECT transition_id FROM ${clients.endpoints.clickhouseDatabase}.tier_transitions FINAL`,
    format: 'JSONEachRow',
  });
  return (await rs.json<{ transition_id: string }>()).map((r) => r.transition_id);
}
