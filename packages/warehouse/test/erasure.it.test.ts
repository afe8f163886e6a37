import { type ClickHouseClient, ClickHouseLogLevel, createClient } from '@clickhouse/client';
import { stackEndpoints } from '@tierstream/config';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { serverVersion } from '../src/erasure';
import { supportsLightweightDelete } from '../src/index';
import { assertErasureScenario } from './support/erasure-scenario';
import { uniqueDatabase } from './support/scenario';

/** The erasure scenario of erasure.test.ts (chdb: lightweight DELETE) on the stack's server (18.16: a mutation). */
describe('erasure and audit on the stack ClickHouse', () => {
  let client: ClickHouseClient;
  const db = uniqueDatabase('ts_erase_it');
  beforeAll(() => {
    client = createClient({
      url: stackEndpoints(process.env).clickhouseUrl,
      request_timeout: 60_000,
      log: { level: ClickHouseLogLevel.OFF },
    });
  });
  afterAll(async () => {
    await client.command({ query: `DROP DATABASE IF EXISTS ${db}` });
    await client.close();
  });

  it('deletes one customer everywhere, keeps the others; cut-point overrides are audited', async () => {
    const method = supportsLightweightDelete(await serverVersion(client)) ? 'lightweight' : 'mutation';
    await assertErasureScenario(client, db, method);
  });
});
