/**
 * The same scenario as chdb.test.ts, against the stack's ClickHouse server (Debian ClickHouse 18.16 locally, a current
 * image with Docker): migrations twice, changed-file refusal, writer inserts with duplicate batches, every query.
 */
import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type ClickHouseClient, ClickHouseLogLevel, createClient } from '@clickhouse/client';
import { stackEndpoints } from '@tierstream/config';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATIONS_DIR, migrate, WarehouseError, WarehouseWriter } from '../src/index';
import {
  assertAllQueries,
  assertBackfill,
  assertViews,
  copyMigrations,
  currentLatest,
  loadScenario,
  migratedOldDatabase,
  uniqueDatabase,
} from './support/scenario';

const { clickhouseUrl } = stackEndpoints();

describe(`warehouse on the stack's ClickHouse (${clickhouseUrl})`, () => {
  let client: ClickHouseClient;
  const db = uniqueDatabase('ts_it');

  beforeAll(async () => {
    // The client logs every failed request itself; the failures below are expected.
    client = createClient({ url: clickhouseUrl, request_timeout: 60_000, log: { level: ClickHouseLogLevel.OFF } });
    const rs = await client.query({ query: 'SELECT version() AS v', format: 'JSONEachRow' });
    const [row] = await rs.json<{ v: string }>();
    console.info(`ClickHouse server version ${row?.v}`);
  });
  afterAll(async () => {
    await client?.command({ query: `DROP DATABASE IF EXISTS ${db}` });
    await client?.close();
  });

  it('applies the migrations once, then skips them', async () => {
    expect(await migrate(client, { database: db, dir: MIGRATIONS_DIR })).toEqual({
      applied: [
        '0001_tier_tables.sql',
        '0002_views.sql',
        '0003_history.sql',
        '0004_explain.sql',
        '0005_erasure_audit.sql',
        '0006_identity.sql',
      ],
      skipped: [],
    });
    expect(await migrate(client, { database: db, dir: MIGRATIONS_DIR })).toEqual({
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
    const rs = await client.query({
      query: `SELECT version, file FROM ${db}.schema_migrations ORDER BY version`,
      format: 'JSONEachRow',
    });
    expect(await rs.json()).toEqual([
      { version: '0001', file: '0001_tier_tables.sql' },
      { version: '0002', file: '0002_views.sql' },
      { version: '0003', file: '0003_history.sql' },
      { version: '0004', file: '0004_explain.sql' },
      { version: '0005', file: '0005_erasure_audit.sql' },
      { version: '0006', file: '0006_identity.sql' },
    ]);
  });

  it('every view reads back from its stored definition (what the server parses when it restarts)', async () => {
    // 18.16 stores a view as its own formatting of the query, and refuses to start when it cannot parse that back
    // (e.g. `tupleElement(x, 3)[i]` is stored as `x.3[i]`). Re-create each view from SHOW CREATE under another name.
    const rs = await client.query({
      query: `SELECT name FROM system.tables WHERE database = '${db}' AND engine = 'View' ORDER BY name`,
      format: 'JSONEachRow',
    });
    const views = (await rs.json<{ name: string }>()).map((r) => r.name);
    expect(views).toContain('tier_intervals');
    for (const view of views) {
      const show = await client.query({ query: `SHOW CREATE TABLE ${db}.${view}`, format: 'TabSeparatedRaw' });
      const ddl = (await show.text()).trim().replace(/\\n/g, '\n');
      const copy = ddl.replace(`VIEW ${db}.${view}`, `VIEW ${db}.${view}_reparsed`);
      expect(copy, view).not.toBe(ddl);
      await client.command({ query: copy });
      await client.command({ query: `DROP TABLE ${db}.${view}_reparsed` });
    }
  });

  it('refuses a migration file changed after it was applied', async () => {
    const dir = await copyMigrations();
    await appendFile(join(dir, '0001_tier_tables.sql'), '\n-- edited\n');
    await expect(migrate(client, { database: db, dir })).rejects.toThrow(
      /^migration 0001_tier_tables\.sql was changed after it was applied \(checksum [0-9a-f]{12}… ≠ [0-9a-f]{12}…\); add a new migration instead$/,
    );
  });

  it('answers every query exactly, with duplicate batches and stale versions inserted', async () => {
    await loadScenario(new WarehouseWriter(client, { database: db, maxBatchRows: 3 }));
    await assertAllQueries(client, db);
    await assertViews(client, db);
    for (const table of ['tier_current', 'tier_snapshots', 'tier_transitions', 'tier_history', 'metric_history']) {
      await client.command({ query: `OPTIMIZE TABLE ${db}.${table} FINAL` });
    }
    await assertAllQueries(client, db);
  });

  it('migration 0003 backfills the history from the daily snapshots of an older database', async () => {
    const old = await migratedOldDatabase(client, 'ts_it_backfill');
    try {
      await assertBackfill(client, old);
      // Merging changes nothing.
      for (const table of ['tier_history', 'metric_history']) {
        await client.command({ query: `OPTIMIZE TABLE ${old}.${table} FINAL` });
      }
      await assertBackfill(client, old);
    } finally {
      await client.command({ query: `DROP DATABASE IF EXISTS ${old}` });
    }
  });

  it('reports server errors readably (18.x sends no error type)', async () => {
    const w = new WarehouseWriter(client, { database: `${db}_missing`, retry: { attempts: 2, baseDelayMs: 1 } });
    const err = await w.insertChanges(currentLatest).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WarehouseError);
    expect((err as Error).message).toMatch(
      new RegExp(
        `^insert of ${currentLatest.length} rows into ${db}_missing\\.tier_current failed: ClickHouse error 81 UNKNOWN_DATABASE: .*${db}_missing`,
      ),
    );
  });

  it('gives up on an unreachable server after the configured attempts', async () => {
    const dead = createClient({
      url: 'http://127.0.0.1:9',
      request_timeout: 2_000,
      log: { level: ClickHouseLogLevel.OFF },
    });
    try {
      const w = new WarehouseWriter(dead, { database: db, retry: { attempts: 3, baseDelayMs: 10, maxDelayMs: 20 } });
      await expect(w.insertChanges(currentLatest)).rejects.toThrow(/failed after 3 attempts: .*ECONNREFUSED/);
    } finally {
      await dead.close();
    }
  });
});
