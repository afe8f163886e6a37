/** Issue 21 item 6 on a current ClickHouse (in-process chdb): the same scenario as explain.it.test.ts. */
import type { ClickHouseClient } from '@clickhouse/client';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { MIGRATIONS_DIR, migrate, WarehouseWriter } from '../src/index';
import { createChdbClient } from './support/chdb-client';
import { assertExplainScenario, loadExplainScenario } from './support/explain-scenario';
import { uniqueDatabase } from './support/scenario';

describe('explainable warehouse on current ClickHouse (chdb)', () => {
  let client: ClickHouseClient;
  const db = uniqueDatabase('ts_chdb_explain');

  beforeAll(() => {
    client = createChdbClient();
  });
  afterAll(async () => {
    await client.command({ query: `DROP DATABASE IF EXISTS ${db}` });
    await client.close();
  });

  it('answers "which cut points on day D", the rates, dated and fresh metrics, long and readable views', async () => {
    await migrate(client, { database: db, dir: MIGRATIONS_DIR });
    const writer = new WarehouseWriter(client, { database: db, maxBatchRows: 3 });
    await loadExplainScenario(writer);
    await loadExplainScenario(writer);
    await assertExplainScenario(client, db);
  });
});
