/**
 * Migrations, writer and every analyst query on a current ClickHouse engine (in-process chdb), with duplicates and
 * stale versions re-inserted. The same scenario runs against the Debian 18.16 server in warehouse.it.test.ts.
 */
import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATIONS_DIR, migrate, QUERIES_DIR, runNamedQuery, WarehouseWriter } from '../src/index';
import { createChdbClient } from './support/chdb-client';
import { assertAllQueries, assertViews, copyMigrations, loadScenario, uniqueDatabase } from './support/scenario';

describe('warehouse on current ClickHouse (chdb)', () => {
  let client: ClickHouseClient;
  const db = uniqueDatabase('ts_chdb');

  beforeAll(() => {
    client = createChdbClient();
  });
  afterAll(async () => {
    await client.command({ query: `DROP DATABASE IF EXISTS ${db}` });
    await client.close();
  });

  it('applies the migrations once, then skips them', async () => {
    const first = await migrate(client, { database: db, dir: MIGRATIONS_DIR });
    expect(first.applied).toEqual(['0001_tier_tables.sql', '0002_views.sql']);
    expect(first.skipped).toEqual([]);
    const second = await migrate(client, { database: db, dir: MIGRATIONS_DIR });
    expect(second).toEqual({ applied: [], skipped: ['0001_tier_tables.sql', '0002_views.sql'] });
  });

  it('refuses a migration file changed after it was applied', async () => {
    const dir = await copyMigrations();
    await appendFile(join(dir, '0002_views.sql'), '\n-- edited\n');
    await expect(migrate(client, { database: db, dir })).rejects.toThrow(
      /^migration 0002_views\.sql was changed after it was applied \(checksum [0-9a-f]{12}… ≠ [0-9a-f]{12}…\); add a new migration instead$/,
    );
  });

  it('answers every query exactly, with duplicates and stale versions re-inserted', async () => {
    await loadScenario(new WarehouseWriter(client, { database: db, maxBatchRows: 3 }));
    await assertAllQueries(client, db);
    await assertViews(client, db);
    // Merging changes nothing either.
    for (const table of ['tier_current', 'tier_snapshots', 'tier_transitions']) {
      await client.command({ query: `OPTIMIZE TABLE ${db}.${table} FINAL` });
    }
    await assertAllQueries(client, db);
  });

  it('renders csv, json and table output, and names bad input', async () => {
    const run = (name: string, params: Record<string, string>, format?: 'csv' | 'json' | 'table') =>
      runNamedQuery(client, { dir: QUERIES_DIR, name, params, database: db, format });
    const csv = await run('revenue_share', { day: '2024-01-31' }, 'csv');
    expect(csv.output.split('\n').slice(0, 2)).toEqual([
      'tier,customers,revenue,customer_share,revenue_share',
      'PLATINUM,1,800,0.25,0.8',
    ]);
    const json = await run('revenue_share', { day: '2024-01-31' }, 'json');
    expect(JSON.parse(json.output)[3]).toEqual({
      tier: 'BRONZE',
      customers: 1,
      revenue: 40,
      customer_share: 0.25,
      revenue_share: 0.04,
    });
    const table = await run('migration_matrix', { from: '2024-01-31', to: '2024-02-01' });
    expect(table.output.split('\n')[0]).toBe('from_tier  to_tier   customers');
    expect(table.output.endsWith('(5 rows)')).toBe(true);
    await expect(run('revenue_share', { day: '2024-01-31', tier: 'GOLD' })).rejects.toThrow(
      "unknown parameter 'tier' for query revenue_share (parameters: day, dimension, metric)",
    );
    await expect(run('revenue_share', {})).rejects.toThrow(
      "missing required parameter 'day' (Date) for query revenue_share",
    );
    await expect(run('revenue_share', { day: '31/01/2024' })).rejects.toThrow(
      "parameter 'day' must be a Date 'YYYY-MM-DD'",
    );
    await expect(run('revenue_shares', {})).rejects.toThrow(
      "unknown query 'revenue_shares' (available: cohort_by_first_order_month,",
    );
  });
});
