/**
 * Issue 21 item 6 against the stack's ClickHouse (18.16 locally): cut points per version, the aggregate configuration
 * behind the rows, dated and fresh metrics, the long and readable views (support/explain-scenario.ts), and migration
 * 0004 on a database that already holds rows (its ADD COLUMN IF NOT EXISTS, which 18.16 cannot parse, run twice).
 */
import { type ClickHouseClient, ClickHouseLogLevel, createClient } from '@clickhouse/client';
import { stackEndpoints } from '@tierstream/config';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATIONS_DIR, migrate, WarehouseWriter } from '../src/index';
import { assertExplainScenario, loadExplainScenario } from './support/explain-scenario';
import { copyMigrations, currentLatest, uniqueDatabase } from './support/scenario';

const { clickhouseUrl } = stackEndpoints();

describe(`explainable warehouse on the stack's ClickHouse (${clickhouseUrl})`, () => {
  let client: ClickHouseClient;
  const db = uniqueDatabase('ts_it_explain');
  const old = uniqueDatabase('ts_it_explain_old');

  beforeAll(() => {
    client = createClient({ url: clickhouseUrl, request_timeout: 60_000, log: { level: ClickHouseLogLevel.OFF } });
  });
  afterAll(async () => {
    await client?.command({ query: `DROP DATABASE IF EXISTS ${db}` });
    await client?.command({ query: `DROP DATABASE IF EXISTS ${old}` });
    await client?.close();
  });

  it('answers "which cut points on day D", the rates, dated and fresh metrics, long and readable views', async () => {
    await migrate(client, { database: db, dir: MIGRATIONS_DIR });
    const writer = new WarehouseWriter(client, { database: db, maxBatchRows: 3 });
    // Twice: re-inserted rows change nothing.
    await loadExplainScenario(writer);
    await loadExplainScenario(writer);
    await assertExplainScenario(client, db);
  });

  it('migration 0004 adds its columns to a database with rows (old rows dated from as_of), and re-runs harmlessly', async () => {
    const dir = await copyMigrations(['0001_tier_tables.sql', '0002_views.sql', '0003_history.sql']);
    await migrate(client, { database: old, dir });
    const c1 = currentLatest.find((c) => c.customer_id === 'c1')!;
    await client.insert({
      table: `${old}.tier_current`,
      values: [
        {
          customer_id: 'c1',
          state_version: 5,
          dims: [],
          tiers: [],
          metric_names: [],
          metric_values: [],
          rules_version: 'r',
          cutpoints_version: 'cp',
          as_of: c1.as_of,
          emitted_at: c1.emitted_at,
        },
      ],
      format: 'JSONEachRow',
    });
    expect((await migrate(client, { database: old, dir: MIGRATIONS_DIR })).applied).toEqual([
      '0004_explain.sql',
      '0005_erasure_audit.sql',
      '0006_identity.sql',
    ]);
    const rs = await client.query({
      query: `SELECT metrics_day, aggregate_config FROM ${old}.tier_current FINAL`,
      format: 'JSONEachRow',
    });
    expect(await rs.json()).toEqual([{ metrics_day: '2024-02-01', aggregate_config: '' }]);
    // As if the recording of 0004 had failed after its statements ran: they run again without error.
    await client.command({ query: `ALTER TABLE ${old}.schema_migrations DELETE WHERE version = '0004'` });
    await new Promise((r) => setTimeout(r, 500));
    expect((await migrate(client, { database: old, dir: MIGRATIONS_DIR })).applied).toEqual(['0004_explain.sql']);
  });
});
