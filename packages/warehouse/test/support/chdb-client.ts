/** A @clickhouse/client backed by the in-process chdb engine (a current ClickHouse), for tests without a server. */
import { type ClickHouseClient, createClient } from '@clickhouse/client';
import { createChdbConnection } from 'chdb/connection';

export function createChdbClient(): ClickHouseClient {
  // The connection hook is typed against client-common's Connection; chdb re-exports that very interface.
  return createClient({ connection: createChdbConnection({ path: ':memory:' }) } as Parameters<typeof createClient>[0]);
}
