/**
 * Migrations, writer and every analyst query on a current ClickHouse engine (in-process chdb), with duplicates and
 * stale versions re-inserted. The same scenario runs against the Debian 18.16 server in warehouse.it.test.ts.
 */
import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATIONS_DIR, migrate, WarehouseWriter } from '../src/index';
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
});
