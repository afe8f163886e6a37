/**
 * Erasure and audit in the warehouse (docs/security.md "Erasure", "Audit"): which tables hold a customer's rows, how
 * to delete them on the server at hand (lightweight DELETE on 23.3+, an ALTER TABLE … DELETE mutation waited for in
 * system.mutations before: 18.16 has neither lightweight deletes nor mutations_sync), and the erasure_log / audit_log
 * rows (migration 0005). The statement builders are pure; the async functions are the adapters.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { describeError, WarehouseError } from './errors';
import { assertIdentifier, quoteString } from './sql';

export type ErasureClient = Pick<ClickHouseClient, 'command' | 'query' | 'insert'>;

/** `major.minor` of a ClickHouse version string (`18.16.1`, `24.3.2.23`); throws on anything else. */
export function parseServerVersion(version: string): { major: number; minor: number } {
  const m = /^(\d+)\.(\d+)/.exec(version.trim());
  if (!m) throw new WarehouseError(`cannot read the ClickHouse version from ${JSON.stringify(version)}`);
  return { major: Number(m[1]), minor: Number(m[2]) };
}

/** Lightweight `DELETE FROM` is generally available (synchronous by default) from ClickHouse 23.3 on. */
export function supportsLightweightDelete(version: string): boolean {
  const { major, minor } = parseServerVersion(version);
  return major > 23 || (major === 23 && minor >= 3);
}

/** The query listing the MergeTree-family tables of `database` that have a `customer_id` column (views excluded). */
export function customerTablesQuery(database: string): string {
  const db = quoteString(assertIdentifier(database, 'database name'));
  return `SELECT table FROM system.columns WHERE database = ${db} AND name = 'customer_id' AND table IN (SELECT name FROM system.tables WHERE database = ${db} AND engine LIKE '%MergeTree') ORDER BY table`;
}

/**
 * The statement deleting `customerId`'s rows from `database.table`: `DELETE FROM … WHERE customer_id = '…'` where
 * lightweight deletes exist, else the mutation `ALTER TABLE … DELETE WHERE customer_id = '…'` (asynchronous: wait for
 * it with mutationPendingQuery).
 */
export function deleteCustomerStatement(
  database: string,
  table: string,
  customerId: string,
  lightweight: boolean,
): string {
  const t = `${assertIdentifier(database, 'database name')}.${assertIdentifier(table, 'table name')}`;
  const where = `customer_id = ${quoteString(customerId)}`;
  return lightweight ? `DELETE FROM ${t} WHERE ${where}` : `ALTER TABLE ${t} DELETE WHERE ${where}`;
}

/** Counts the unfinished mutations of `database.table` (any command: a later one may also cover ours). */
export function mutationPendingQuery(database: string, table: string): string {
  return `SELECT count() AS n FROM system.mutations WHERE database = ${quoteString(assertIdentifier(database))} AND table = ${quoteString(assertIdentifier(table))} AND is_done = 0`;
}

async function queryRows<T>(client: ErasureClient, query: string): Promise<T[]> {
  const rs = await client.query({ query, format: 'JSONEachRow' });
  return rs.json<T>();
}

/** The server's version string (`SELECT version()`). */
export async function serverVersion(client: ErasureClient): Promise<string> {
  const rows = await queryRows<{ v: string }>(client, 'SELECT version() AS v');
  return rows[0]?.v ?? '';
}

export interface WarehouseErasure {
  /** Rows found (raw, before any merge or FINAL) and deleted, per table with a customer_id column. */
  tables: Record<string, number>;
  /** `lightweight` (DELETE FROM) or `mutation` (ALTER TABLE … DELETE, waited for). */
  method: 'lightweight' | 'mutation';
}

/**
 * Deletes every row of `customerId` from every MergeTree table of `database` that has a customer_id column, and
 * returns the rows found per table. A table without rows of the customer gets no statement. Waits for mutations
 * (polling system.mutations every 100 ms) up to `timeoutMs` (default 120 s), else throws a retriable WarehouseError:
 * the deletion then completes in the background and a repeated erasure finds nothing left.
 */
export async function deleteCustomerRows(
  client: ErasureClient,
  database: string,
  customerId: string,
  opts: { timeoutMs?: number; version?: string } = {},
): Promise<WarehouseErasure> {
  try {
    const lightweight = supportsLightweightDelete(opts.version ?? (await serverVersion(client)));
    const tables = (await queryRows<{ table: string }>(client, customerTablesQuery(database))).map((r) => r.table);
    const found: Record<string, number> = {};
    const mutated: string[] = [];
    for (const table of tables) {
      const [row] = await queryRows<{ n: string | number }>(
        client,
        `SELECT count() AS n FROM ${database}.${assertIdentifier(table)} WHERE customer_id = ${quoteString(customerId)}`,
      );
      found[table] = Number(row?.n ?? 0);
      if (found[table] === 0) continue;
      await client.command({ query: deleteCustomerStatement(database, table, customerId, lightweight) });
      if (!lightweight) mutated.push(table);
    }
    const deadline = Date.now() + (opts.timeoutMs ?? 120_000);
    for (const table of mutated) {
      for (;;) {
        const [row] = await queryRows<{ n: string | number }>(client, mutationPendingQuery(database, table));
        if (Number(row?.n ?? 0) === 0) break;
        if (Date.now() > deadline)
          throw new WarehouseError(`the DELETE mutation on ${database}.${table} is not done yet`, true);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    return { tables: found, method: lightweight ? 'lightweight' : 'mutation' };
  } catch (err) {
    if (err instanceof WarehouseError) throw err;
    throw new WarehouseError(`erasing a customer's warehouse rows failed: ${describeError(err)}`, true, { cause: err });
  }
}

/** One row of erasure_log (migration 0005): no customer id, only its digest. Times in epoch ms. */
export interface ErasureLogRow {
  request_id: string;
  executed_at: number;
  requested_at: number;
  customer_digest: string;
  digest_kind: 'hmac-sha256' | 'unlinkable';
  reason: string;
  requested_by: string;
  executed_by: string;
  source: string;
  /** Epoch ms; 0 when the request asked for no suppression. */
  suppressed_until: number;
  redis_keys: number;
  redis_members: number;
  table_names: string[];
  table_rows: number[];
  compacted_topics: string[];
  late_redis: number;
  late_rows: number;
}

/** One row of audit_log (migration 0005). `at` in epoch ms; `details` a JSON text. */
export interface AuditRow {
  at: number;
  audit_id: string;
  actor: string;
  action: 'rules.apply' | 'rules.rollback' | 'cutpoints.override' | 'customer.erase';
  subject: string;
  source: string;
  details: string;
}

/** Inserts erasure_log rows. Throws a WarehouseError (retriable when the server or network is the cause). */
export async function insertErasureLog(client: ErasureClient, database: string, rows: ErasureLogRow[]): Promise<void> {
  await insertRows(client, `${assertIdentifier(database)}.erasure_log`, rows);
}

/** Inserts audit_log rows. Throws a WarehouseError (retriable when the server or network is the cause). */
export async function insertAudit(client: ErasureClient, database: string, rows: AuditRow[]): Promise<void> {
  await insertRows(client, `${assertIdentifier(database)}.audit_log`, rows);
}

async function insertRows(client: ErasureClient, table: string, values: object[]): Promise<void> {
  if (values.length === 0) return;
  try {
    await client.insert({ table, values, format: 'JSONEachRow' });
  } catch (err) {
    throw new WarehouseError(`insert into ${table} failed: ${describeError(err)}`, true, { cause: err });
  }
}

/** An audit_log row as read back by readAudit (`at` as an ISO time). */
export interface AuditEntry {
  at: string;
  actor: string;
  action: string;
  subject: string;
  source: string;
  details: string;
}

/** The query behind `tierctl audit`: newest first, optionally one action, at most `limit` rows. */
export function auditQuery(database: string, opts: { action?: string; limit?: number } = {}): string {
  const db = assertIdentifier(database, 'database name');
  const where = opts.action ? `WHERE action = ${quoteString(opts.action)}` : '';
  const limit = Math.max(1, Math.min(opts.limit ?? 100, 100_000));
  return `SELECT at, actor, action, subject, source, details FROM ${db}.audit_log FINAL ${where} ORDER BY at DESC, audit_id LIMIT ${limit}`;
}

/** Reads the audit trail, newest first (see auditQuery). */
export async function readAudit(
  client: ErasureClient,
  database: string,
  opts: { action?: string; limit?: number } = {},
): Promise<AuditEntry[]> {
  const rows = await queryRows<{ at: string | number } & Omit<AuditEntry, 'at'>>(client, auditQuery(database, opts));
  return rows.map((r) => ({ ...r, at: new Date(Number(r.at)).toISOString() }));
}
