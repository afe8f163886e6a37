/**
 * Migration 0006 (identity) on the stack's ClickHouse (18.16 locally): identity events as received and as refused
 * (the refusal replaces the received row under FINAL, so identity_links holds the links in effect), and the other
 * customer of a merge on tier_transitions.
 */
import { type ClickHouseClient, ClickHouseLogLevel, createClient } from '@clickhouse/client';
import { stackEndpoints } from '@tierstream/config';
import type { IdentityEvent } from '@tierstream/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATIONS_DIR, migrate, routeIdentityRecord, routeTransitionRecord, WarehouseWriter } from '../src/index';
import { uniqueDatabase } from './support/scenario';

const { clickhouseUrl } = stackEndpoints();
const T = Date.UTC(2026, 2, 1, 10);
const ev = (o: Partial<IdentityEvent> & Pick<IdentityEvent, 'event_id' | 'type' | 'customer_id'>): IdentityEvent => ({
  anonymous_id: null,
  merged_customer_id: null,
  source: null,
  occurred_at: T,
  ...o,
});

describe(`identity rows on the stack's ClickHouse (${clickhouseUrl})`, () => {
  let client: ClickHouseClient;
  const db = uniqueDatabase('ts_it_identity');
  beforeAll(() => {
    client = createClient({ url: clickhouseUrl, request_timeout: 60_000, log: { level: ClickHouseLogLevel.OFF } });
  });
  afterAll(async () => {
    await client?.command({ query: `DROP DATABASE IF EXISTS ${db}` });
    await client?.close();
  });

  it('identity_links holds the links not refused; merge transitions name the other customer', async () => {
    await migrate(client, { database: db, dir: MIGRATIONS_DIR });
    const writer = new WarehouseWriter(client, { database: db });
    const merge = ev({ event_id: 'm1', type: 'MERGE', customer_id: 'B', merged_customer_id: 'A', source: 'crm' });
    const cycle = ev({ event_id: 'm2', type: 'MERGE', customer_id: 'A', merged_customer_id: 'B' });
    const alias = ev({ event_id: 'a1', type: 'ALIAS', customer_id: 'B', anonymous_id: 'anon-1' });
    // Received first, the refusal of m2 later (from identities.v1.dlq), and a redelivered copy of a1 after it.
    await writer.insertRouted([merge, cycle, alias].map((e) => routeIdentityRecord(e, null, 1)));
    await writer.insertRouted([routeIdentityRecord(cycle, { reason: 'MERGE_CYCLE' }, 2)]);
    await writer.insertRouted([routeIdentityRecord(cycle, null, 3), routeIdentityRecord(alias, null, 3)]);
    await writer.insertRouted([
      routeTransitionRecord({
        transition_id: 't1',
        customer_id: 'A',
        dimension: 'identity',
        from_tier: 'ACTIVE',
        to_tier: 'MERGED',
        direction: 'LATERAL',
        reason: 'MERGED_INTO',
        rule_id: 'merge:m1',
        rules_version: 'r',
        cutpoints_version: 'c',
        metrics: {},
        occurred_at: T,
        evaluated_at: T,
        related_customer_id: 'B',
      }),
    ]);
    const rows = async (sql: string) => (await client.query({ query: sql, format: 'JSONEachRow' })).json();
    expect(
      await rows(`SELECT event_id, type, id, linked_to, source FROM ${db}.identity_links ORDER BY event_id`),
    ).toEqual([
      { event_id: 'a1', type: 'ALIAS', id: 'anon-1', linked_to: 'B', source: '' },
      { event_id: 'm1', type: 'MERGE', id: 'A', linked_to: 'B', source: 'crm' },
    ]);
    expect(await rows(`SELECT status, reason FROM ${db}.identity_events FINAL WHERE event_id = 'm2'`)).toEqual([
      { status: 'REJECTED', reason: 'MERGE_CYCLE' },
    ]);
    expect(await rows(`SELECT reason, related_customer_id FROM ${db}.tier_transitions FINAL`)).toEqual([
      { reason: 'MERGED_INTO', related_customer_id: 'B' },
    ]);
  });
});
