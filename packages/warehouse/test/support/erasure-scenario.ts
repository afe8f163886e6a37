import type { ClickHouseClient } from '@clickhouse/client';
import { expect } from 'vitest';
import { deleteCustomerRows, insertErasureLog, MIGRATIONS_DIR, migrate, readAudit } from '../../src/index';

const count = async (client: ClickHouseClient, sql: string) =>
  Number((await (await client.query({ query: sql, format: 'JSONEachRow' })).json<{ n: string }>())[0]!.n);

/**
 * Erasure and audit on a migrated database `db` (dropped by the caller): a customer's rows go from every table with a
 * customer_id column (raw and FINAL), another's stay; the method is the one the server supports; a rules change's
 * cut points give one cutpoints.override audit row, a scheduled version none; an erasure log row reads back.
 */
export async function assertErasureScenario(
  client: ClickHouseClient,
  db: string,
  method: 'lightweight' | 'mutation',
): Promise<void> {
  await migrate(client, { database: db, dir: MIGRATIONS_DIR });
  const ids = ["c'1", 'c2'];
  for (const [table, extra] of [
    ['tier_current', {}],
    ['tier_transitions', {}],
    ['tier_history', { valid_from: '2026-01-01' }],
    ['metric_history', { valid_from: '2026-01-01', basis_day: '2026-01-01' }],
    ['tier_snapshots', { snapshot_day: '2026-01-01' }],
    ['identity_events', {}],
  ] as const) {
    // Two inserts: two parts, so that a DELETE must reach more than one.
    for (const v of [1, 2])
      await client.insert({
        table: `${db}.${table}`,
        values: ids.map((customer_id) => ({
          customer_id,
          ...extra,
          state_version: v,
          transition_id: `t-${customer_id}`,
          event_id: `i-${customer_id}`,
        })),
        format: 'JSONEachRow',
        clickhouse_settings: { input_format_skip_unknown_fields: 1 },
      });
  }
  const result = await deleteCustomerRows(client, db, "c'1");
  expect(result.method).toBe(method);
  // Rows found per table (a background merge may have collapsed the two versions of a key into one).
  const tables = [
    'identity_events',
    'metric_history',
    'tier_current',
    'tier_history',
    'tier_snapshots',
    'tier_transitions',
  ];
  expect(Object.keys(result.tables).sort()).toEqual(tables);
  for (const t of tables) expect(result.tables[t], t).toBeGreaterThan(0);
  for (const table of Object.keys(result.tables)) {
    expect(await count(client, `SELECT count() AS n FROM ${db}.${table} WHERE customer_id = 'c\\'1'`)).toBe(0);
    expect(await count(client, `SELECT count() AS n FROM ${db}.${table} FINAL WHERE customer_id = 'c\\'1'`)).toBe(0);
    expect(await count(client, `SELECT count() AS n FROM ${db}.${table} FINAL WHERE customer_id = 'c2'`)).toBe(1);
  }
  // Nothing left: a second sweep finds nothing and runs no statement.
  expect(Object.values((await deleteCustomerRows(client, db, "c'1")).tables)).toEqual(tables.map(() => 0));

  await client.insert({
    table: `${db}.cutpoint_history`,
    values: [
      { version: 'cp-2026-01-01+r3', rules_version: 'v3', cut_key: 'value_tier', rules_seq: 3, emitted_at: 5 },
      { version: 'cp-2026-01-01+r3', rules_version: 'v3', cut_key: 'rfm.r', rules_seq: 3, emitted_at: 5 },
      { version: 'cp-2026-01-02', rules_version: 'v3', cut_key: 'value_tier', rules_seq: null, emitted_at: 6 },
    ].map((r) => ({ ...r, effective_from: '2026-01-02' })),
    format: 'JSONEachRow',
    clickhouse_settings: { input_format_skip_unknown_fields: 1 },
  });
  const audit = await readAudit(client, db);
  expect(audit.map((a) => ({ ...a, details: JSON.parse(a.details) }))).toEqual([
    {
      at: new Date(5).toISOString(),
      actor: 'tier-engine',
      action: 'cutpoints.override',
      subject: 'cp-2026-01-01+r3',
      source: 'customer-tier-cutpoints.v1',
      details: { rules_version: 'v3', apply: 3, scoring_keys: 2 },
    },
  ]);

  const row = {
    request_id: 'r1',
    executed_at: 2,
    requested_at: 1,
    customer_digest: 'ab',
    digest_kind: 'hmac-sha256' as const,
    reason: 'test',
    requested_by: 'alice',
    executed_by: 'bob',
    source: 'tierctl',
    suppressed_until: 3,
    redis_keys: 4,
    redis_members: 5,
    table_names: ['tier_current'],
    table_rows: [2],
    compacted_topics: ['customer-tier-changes.v1'],
    late_redis: 0,
    late_rows: 0,
  };
  await insertErasureLog(client, db, [row]);
  const rs = await client.query({ query: `SELECT * FROM ${db}.erasure_log FINAL`, format: 'JSONEachRow' });
  const [back] = await rs.json<Record<string, unknown>>();
  expect(
    Object.fromEntries(
      Object.entries(back!).map(([k, v]) => [
        k,
        typeof v === 'string' && /^\d+$/.test(v)
          ? Number(v)
          : Array.isArray(v)
            ? v.map((x) => (typeof x === 'string' && /^\d+$/.test(x) ? Number(x) : x))
            : v,
      ]),
    ),
  ).toEqual(row);
}
