/**
 * Numbered SQL migrations (infra/clickhouse/migrations/NNNN_name.sql). Parsing is pure; migrate() is the adapter.
 * Rules: statements end with `;` at the end of a line, `{db}` stands for the database, and a file that was applied is
 * never edited (its sha256 is recorded; a changed file is refused). Write statements with IF NOT EXISTS so that a
 * migration interrupted half-way can simply run again.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import type { Logger } from 'pino';
import { describeError, WarehouseError } from './errors';
import { assertIdentifier } from './sql';

export type MigrationClient = Pick<ClickHouseClient, 'command' | 'query' | 'insert'>;

export interface Migration {
  /** The number prefix, e.g. '0002'. */
  version: string;
  /** The file name, e.g. '0002_views.sql'. */
  file: string;
  /** sha256 of the raw file content (before `{db}` substitution). */
  checksum: string;
  /** Statements with `{db}` replaced, without the trailing `;`. */
  statements: string[];
}

const MIGRATION_FILE_RE = /^(\d{4})_[a-z0-9_]+\.sql$/;

export function sha256(content: string): string {
  return createHash('sha256').update(content, 'utf8').digest('hex');
}

function isOnlyComments(statement: string): boolean {
  return statement.split('\n').every((line) => {
    const t = line.trim();
    return t === '' || t.startsWith('--');
  });
}

/** Splits on `;` at the end of a line (trailing whitespace ignored); drops comment-only chunks. */
export function splitStatements(sql: string): string[] {
  const statements: string[] = [];
  let current: string[] = [];
  for (const line of sql.replace(/\r\n/g, '\n').split('\n')) {
    const trimmed = line.trimEnd();
    if (trimmed.endsWith(';') && !trimmed.trimStart().startsWith('--')) {
      current.push(trimmed.slice(0, -1));
      statements.push(current.join('\n'));
      current = [];
    } else {
      current.push(line);
    }
  }
  statements.push(current.join('\n'));
  return statements.map((s) => s.trim()).filter((s) => s !== '' && !isOnlyComments(s));
}

export function parseMigrationFile(file: string, content: string, database: string): Migration {
  const m = MIGRATION_FILE_RE.exec(file);
  if (!m) throw new WarehouseError(`migration file name ${file} must look like 0001_some_name.sql`);
  assertIdentifier(database, 'database name');
  const statements = splitStatements(content).map((s) => s.replaceAll('{db}', database));
  if (statements.length === 0) throw new WarehouseError(`migration ${file} contains no statement`);
  return { version: m[1] as string, file, checksum: sha256(content), statements };
}

/** Files in apply order; refuses duplicate version numbers. Non-.sql files are ignored. */
export function orderMigrationFiles(files: readonly string[]): string[] {
  const sql = files.filter((f) => f.endsWith('.sql')).sort();
  const seen = new Map<string, string>();
  for (const f of sql) {
    const m = MIGRATION_FILE_RE.exec(f);
    if (!m) throw new WarehouseError(`migration file name ${f} must look like 0001_some_name.sql`);
    const prev = seen.get(m[1] as string);
    if (prev) throw new WarehouseError(`migrations ${prev} and ${f} have the same version ${m[1]}`);
    seen.set(m[1] as string, f);
  }
  return sql;
}

export interface AppliedMigration {
  version: string;
  file: string;
  checksum: string;
}

/**
 * Pure planning step: which migrations are pending, which are already applied; throws if an applied file changed.
 */
export function planMigrations(
  migrations: readonly Migration[],
  applied: readonly AppliedMigration[],
): { pending: Migration[]; skipped: Migration[] } {
  const byVersion = new Map(applied.map((a) => [a.version, a]));
  const pending: Migration[] = [];
  const skipped: Migration[] = [];
  for (const m of migrations) {
    const done = byVersion.get(m.version);
    if (!done) {
      pending.push(m);
    } else if (done.checksum !== m.checksum) {
      throw new WarehouseError(
        `migration ${m.file} was changed after it was applied (checksum ${done.checksum.slice(0, 12)}… ≠ ${m.checksum.slice(0, 12)}…); add a new migration instead`,
      );
    } else {
      skipped.push(m);
    }
  }
  return { pending, skipped };
}

export async function loadMigrations(dir: string, database: string): Promise<Migration[]> {
  const files = orderMigrationFiles(await readdir(dir));
  return Promise.all(files.map(async (f) => parseMigrationFile(f, await readFile(join(dir, f), 'utf8'), database)));
}

const ADD_COLUMN_IF_NOT_EXISTS_RE =
  /^ALTER\s+TABLE\s+([A-Za-z_][A-Za-z0-9_]*)\.([A-Za-z_][A-Za-z0-9_]*)\s+ADD\s+COLUMN\s+IF\s+NOT\s+EXISTS\s+([A-Za-z_][A-Za-z0-9_]*)\s/i;

/**
 * `ALTER TABLE db.t ADD COLUMN IF NOT EXISTS c …` (one column per statement), which ClickHouse 18.16 cannot parse:
 * the table, the column and the statement without `IF NOT EXISTS`, for the migrator to run only when the column is
 * missing. null for any other statement.
 */
export function addColumnIfNotExists(
  statement: string,
): { database: string; table: string; column: string; statement: string } | null {
  const m = ADD_COLUMN_IF_NOT_EXISTS_RE.exec(statement.replace(/^(\s*--[^\n]*\n)*\s*/, ''));
  if (!m) return null;
  return {
    database: m[1] as string,
    table: m[2] as string,
    column: m[3] as string,
    statement: statement.replace(/ADD\s+COLUMN\s+IF\s+NOT\s+EXISTS\s/i, 'ADD COLUMN '),
  };
}

async function columnExists(client: MigrationClient, database: string, table: string, column: string) {
  const rs = await client.query({
    query: `SELECT count() AS n FROM system.columns WHERE database = '${database}' AND table = '${table}' AND name = '${column}'`,
    format: 'JSONEachRow',
  });
  const rows = await rs.json<{ n: number | string }>();
  return Number(rows[0]?.n ?? 0) > 0;
}

async function run(client: MigrationClient, query: string, what: string): Promise<void> {
  const add = addColumnIfNotExists(query);
  if (add) {
    try {
      if (await columnExists(client, add.database, add.table, add.column)) return;
    } catch (err) {
      throw new WarehouseError(`${what} failed: ${describeError(err)}`, false, { cause: err });
    }
    query = add.statement;
  }
  try {
    await client.command({ query });
  } catch (err) {
    throw new WarehouseError(`${what} failed: ${describeError(err)}`, false, { cause: err });
  }
}

/**
 * Creates the database and schema_migrations, then applies pending migrations in order. Idempotent. Not safe to run
 * from two processes at the same time (run it from one deploy step).
 */
export async function migrate(
  client: MigrationClient,
  opts: { database: string; dir: string; logger?: Logger },
): Promise<{ applied: string[]; skipped: string[] }> {
  const db = assertIdentifier(opts.database, 'database name');
  const migrations = await loadMigrations(opts.dir, db);
  await run(client, `CREATE DATABASE IF NOT EXISTS ${db}`, `creating database ${db}`);
  await run(
    client,
    `CREATE TABLE IF NOT EXISTS ${db}.schema_migrations (version String, file String, checksum String, applied_at UInt64) ENGINE = MergeTree() ORDER BY version`,
    'creating schema_migrations',
  );
  let applied: AppliedMigration[];
  try {
    const rs = await client.query({
      query: `SELECT version, file, checksum FROM ${db}.schema_migrations ORDER BY version, applied_at`,
      format: 'JSONEachRow',
    });
    applied = await rs.json<AppliedMigration>();
  } catch (err) {
    throw new WarehouseError(`reading ${db}.schema_migrations failed: ${describeError(err)}`, false, { cause: err });
  }
  const { pending, skipped } = planMigrations(migrations, applied);
  for (const m of pending) {
    opts.logger?.info({ migration: m.file, statements: m.statements.length }, 'applying migration');
    for (const [i, statement] of m.statements.entries()) {
      await run(client, statement, `migration ${m.file} statement ${i + 1}`);
    }
    try {
      await client.insert({
        table: `${db}.schema_migrations`,
        values: [{ version: m.version, file: m.file, checksum: m.checksum, applied_at: Date.now() }],
        format: 'JSONEachRow',
      });
    } catch (err) {
      throw new WarehouseError(`recording migration ${m.file} failed: ${describeError(err)}`, false, { cause: err });
    }
  }
  return { applied: pending.map((m) => m.file), skipped: skipped.map((m) => m.file) };
}
