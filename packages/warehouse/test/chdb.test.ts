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
import {
  assertAllQueries,
  assertBackfill,
  assertViews,
  copyMigrations,
  loadScenario,
  migratedOldDatabase,
  uniqueDatabase,
} from './support/scenario';

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
    expect(first.applied).toEqual([
      '0001_tier_tables.sql',
      '0002_views.sql',
      '0003_history.sql',
      '0004_explain.sql',
      '0005_erasure_audit.sql',
      '0006_identity.sql',
    ]);
    expect(first.skipped).toEqual([]);
    const second = await migrate(client, { database: db, dir: MIGRATIONS_DIR });
    expect(second).toEqual({
      applied: [],
      skipped: [
        '0001_tier_tables.sql',
        '0002_views.sql',
        '0003_history.sql',
        '0004_explain.sql',
        '0005_erasure_audit.sql',
        '0006_identity.sql',
      ],
    });
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
    for (const table of ['tier_current', 'tier_snapshots', 'tier_transitions', 'tier_history', 'metric_history']) {
      await client.command({ query: `OPTIMIZE TABLE ${db}.${table} FINAL` });
    }
    await assertAllQueries(client, db);
  });

  it('migration 0003 backfills the history from the daily snapshots of an older database', async () => {
    const old = await migratedOldDatabase(client, 'ts_chdb_backfill');
    try {
      await assertBackfill(client, old);
    } finally {
      await client.command({ query: `DROP DATABASE IF EXISTS ${old}` });
    }
  });

  it('renders csv, json and table output, and names bad input', async () => {
    const run = (name: string, params: Record<string, string>, format?: 'csv' | 'json' | 'table') =>
      runNamedQuery(client, { dir: QUERIES_DIR, name, params, database: db, format });
    const csv = await run('revenue_share', { day: '2024-03-04' }, 'csv');
    expect(csv.output.split('\n').slice(0, 2)).toEqual([
      'tier,customers,revenue,customer_share,revenue_share',
      'PLATINUM,1,1000,0.5,0.7407',
    ]);
    const json = await run('revenue_share', { day: '2024-03-08' }, 'json');
    expect(JSON.parse(json.output)[1]).toEqual({
      tier: 'BRONZE',
      customers: 1,
      revenue: 50,
      customer_share: 0.3333,
      revenue_share: 0.0303,
    });
    const table = await run('migration_matrix', { from: '2024-03-02', to: '2024-03-06' });
    expect(table.output.split('\n')[0]).toBe('from_tier  to_tier  customers');
    expect(table.output.endsWith('(4 rows)')).toBe(true);
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
      "unknown query 'revenue_shares' (available: clv_by_tier, cohort_by_first_order_month,",
    );
  });
});
