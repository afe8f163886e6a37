import type { ClickHouseClient } from '@clickhouse/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  auditQuery,
  customerTablesQuery,
  deleteCustomerStatement,
  parseServerVersion,
  supportsLightweightDelete,
} from '../src/index';
import { createChdbClient } from './support/chdb-client';
import { assertErasureScenario } from './support/erasure-scenario';
import { uniqueDatabase } from './support/scenario';

describe('erasure statements (pure)', () => {
  it('lightweight DELETE from 23.3 on, the ALTER mutation before', () => {
    expect(parseServerVersion('18.16.1')).toEqual({ major: 18, minor: 16 });
    expect(supportsLightweightDelete('18.16.1')).toBe(false);
    expect(supportsLightweightDelete('23.2.7.32')).toBe(false);
    expect(supportsLightweightDelete('23.3.1')).toBe(true);
    expect(supportsLightweightDelete('24.1')).toBe(true);
    expect(() => parseServerVersion('unknown')).toThrow(/cannot read the ClickHouse version/);
  });

  it('quotes the customer id and checks identifiers', () => {
    expect(deleteCustomerStatement('ts', 'tier_current', "a'b\\", false)).toBe(
      "ALTER TABLE ts.tier_current DELETE WHERE customer_id = 'a\\'b\\\\'",
    );
    expect(deleteCustomerStatement('ts', 'tier_current', 'x', true)).toBe(
      "DELETE FROM ts.tier_current WHERE customer_id = 'x'",
    );
    expect(() => deleteCustomerStatement('ts', 'x; DROP', 'x', true)).toThrow(/table name/);
    expect(customerTablesQuery('ts')).toContain("name = 'customer_id'");
    expect(auditQuery('ts', { action: "x'", limit: 5 })).toContain(
      "WHERE action = 'x\\'' ORDER BY at DESC, audit_id LIMIT 5",
    );
  });
});

describe('erasure and audit on current ClickHouse (chdb)', () => {
  let client: ClickHouseClient;
  const db = uniqueDatabase('ts_erase');
  beforeAll(() => {
    client = createChdbClient();
  });
  afterAll(async () => {
    await client.command({ query: `DROP DATABASE IF EXISTS ${db}` });
    await client.close();
  });

  it('deletes one customer everywhere (lightweight DELETE), keeps the others; cut-point overrides are audited', async () => {
    await assertErasureScenario(client, db, 'lightweight');
  });
});
