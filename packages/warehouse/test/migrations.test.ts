import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MIGRATIONS_DIR } from '../src/index';
import {
  addColumnIfNotExists,
  orderMigrationFiles,
  parseMigrationFile,
  planMigrations,
  sha256,
  splitStatements,
} from '../src/migrations';

describe('addColumnIfNotExists', () => {
  it('reads table and column of an ADD COLUMN IF NOT EXISTS and gives the statement 18.16 can parse', () => {
    expect(
      addColumnIfNotExists(
        "-- why\nALTER TABLE db1.tier_current ADD COLUMN IF NOT EXISTS metrics_day Date DEFAULT toDate('1970-01-01')",
      ),
    ).toEqual({
      database: 'db1',
      table: 'tier_current',
      column: 'metrics_day',
      statement: "-- why\nALTER TABLE db1.tier_current ADD COLUMN metrics_day Date DEFAULT toDate('1970-01-01')",
    });
    expect(addColumnIfNotExists('ALTER TABLE db1.t ADD COLUMN c String')).toBeNull();
    expect(addColumnIfNotExists('CREATE TABLE IF NOT EXISTS db1.t (c String) ENGINE = Memory')).toBeNull();
  });
});

describe('splitStatements', () => {
  it('splits on ; at line end and drops comment-only chunks', () => {
    const sql = [
      '-- header comment',
      'CREATE TABLE a (x UInt8) ENGINE = Memory;',
      '',
      '-- a comment with a semicolon; inside',
      'CREATE VIEW v AS',
      "SELECT 'a;b' AS s   ;   ",
      '-- trailing comment only',
    ].join('\n');
    expect(splitStatements(sql)).toEqual([
      '-- header comment\nCREATE TABLE a (x UInt8) ENGINE = Memory',
      "-- a comment with a semicolon; inside\nCREATE VIEW v AS\nSELECT 'a;b' AS s",
    ]);
  });

  it('keeps a last statement without a trailing ;', () => {
    expect(splitStatements('SELECT 1;\nSELECT 2')).toEqual(['SELECT 1', 'SELECT 2']);
  });

  it('does not split on a ; inside a line', () => {
    expect(splitStatements("SELECT ';' AS x, 1;\n")).toEqual(["SELECT ';' AS x, 1"]);
  });

  it('treats a comment line ending with ; as part of the next statement, not a terminator', () => {
    expect(splitStatements('-- note;\nSELECT 1;')).toEqual(['-- note;\nSELECT 1']);
  });
});

describe('parseMigrationFile', () => {
  it('fills {db}, checksums the raw content', () => {
    const content =
      'CREATE TABLE IF NOT EXISTS {db}.t (x UInt8) ENGINE = Memory;\nCREATE VIEW IF NOT EXISTS {db}.v AS SELECT * FROM {db}.t;\n';
    const m = parseMigrationFile('0003_add_t.sql', content, 'ts_test');
    expect(m.version).toBe('0003');
    expect(m.file).toBe('0003_add_t.sql');
    expect(m.checksum).toBe(sha256(content));
    expect(m.checksum).toMatch(/^[0-9a-f]{64}$/);
    expect(m.statements).toEqual([
      'CREATE TABLE IF NOT EXISTS ts_test.t (x UInt8) ENGINE = Memory',
      'CREATE VIEW IF NOT EXISTS ts_test.v AS SELECT * FROM ts_test.t',
    ]);
    // the checksum does not depend on the database
    expect(parseMigrationFile('0003_add_t.sql', content, 'other').checksum).toBe(m.checksum);
  });

  it('refuses bad names, bad databases and empty files', () => {
    expect(() => parseMigrationFile('3_x.sql', 'SELECT 1;', 'db')).toThrow(
      'migration file name 3_x.sql must look like 0001_some_name.sql',
    );
    expect(() => parseMigrationFile('0001_x.sql', 'SELECT 1;', 'bad-db')).toThrow('database name must match');
    expect(() => parseMigrationFile('0001_x.sql', '-- nothing\n', 'db')).toThrow(
      'migration 0001_x.sql contains no statement',
    );
  });

  it('parses the repository migrations, every statement qualified with the database', async () => {
    for (const f of orderMigrationFiles(await readdir(MIGRATIONS_DIR))) {
      const m = parseMigrationFile(f, await readFile(join(MIGRATIONS_DIR, f), 'utf8'), 'dbx');
      expect(m.statements.length).toBeGreaterThan(0);
      for (const statement of m.statements) {
        const s = statement
          .split('\n')
          .filter((l) => !l.trim().startsWith('--'))
          .join('\n');
        expect(s).not.toContain('{db}');
        // CREATE … IF NOT EXISTS: a migration interrupted half-way can run again. A backfill (INSERT … SELECT) reads
        // with FINAL into a ReplacingMergeTree, so running it again re-inserts identical rows, which collapse.
        if (/^\s*INSERT INTO/.test(s)) {
          expect(s).toMatch(/^\s*INSERT INTO dbx\.\w+/);
          expect(s).toMatch(/FINAL/);
        } else if (/^\s*ALTER TABLE/.test(s)) {
          // One column per ALTER, IF NOT EXISTS: the migrator runs it only when the column is missing (18.16 has no
          // such clause).
          expect(addColumnIfNotExists(s)).toMatchObject({ database: 'dbx' });
          expect(addColumnIfNotExists(s)!.statement).not.toMatch(/IF NOT EXISTS/);
        } else {
          expect(s).toMatch(/IF NOT EXISTS dbx\./);
        }
        // features the Debian ClickHouse 18.16 lacks
        expect(s).not.toMatch(/DateTime64|LowCardinality|\bTTL\b|\bMap\(|\bJSON\b|DELETE FROM/i);
      }
    }
  });
});

describe('orderMigrationFiles', () => {
  it('sorts, ignores other files, refuses duplicate versions', () => {
    expect(orderMigrationFiles(['0002_b.sql', 'README.md', '0001_a.sql', '0010_c.sql'])).toEqual([
      '0001_a.sql',
      '0002_b.sql',
      '0010_c.sql',
    ]);
    expect(() => orderMigrationFiles(['0001_a.sql', '0001_b.sql'])).toThrow(
      'migrations 0001_a.sql and 0001_b.sql have the same version 0001',
    );
  });
});

describe('planMigrations', () => {
  const m1 = parseMigrationFile('0001_a.sql', 'SELECT 1;', 'db');
  const m2 = parseMigrationFile('0002_b.sql', 'SELECT 2;', 'db');

  it('applies what is missing and skips what was applied with the same checksum', () => {
    const plan = planMigrations([m1, m2], [{ version: '0001', file: '0001_a.sql', checksum: m1.checksum }]);
    expect(plan.pending.map((m) => m.file)).toEqual(['0002_b.sql']);
    expect(plan.skipped.map((m) => m.file)).toEqual(['0001_a.sql']);
  });

  it('refuses a changed applied migration with both checksums in the message', () => {
    const applied = 'f'.repeat(64);
    expect(() => planMigrations([m1, m2], [{ version: '0002', file: '0002_b.sql', checksum: applied }])).toThrow(
      `migration 0002_b.sql was changed after it was applied (checksum ffffffffffff… ≠ ${m2.checksum.slice(0, 12)}…); add a new migration instead`,
    );
  });
});
