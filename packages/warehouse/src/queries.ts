/**
 * The analyst SQL pack (infra/clickhouse/queries/*.sql). Each file starts with a comment header:
 *
 *   -- @title Tier distribution per day
 *   -- @description Counts per tier per day ...   (following plain `-- ` lines continue the description)
 *   -- @param dimension String value_tier -- tier dimension to count
 *   -- @param from Date -- first day (required: no default)
 *   -- @example tierctl query tier_distribution_daily --param from=2024-01-01 --param to=2024-01-31
 *
 * The body uses `{name:Type}` placeholders and `{db:Identifier}` for the database. parseQueryFile is pure;
 * runNamedQuery substitutes the values client-side (validated by type) and runs the query.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import { describeError, WarehouseError } from './errors';
import {
  assertIdentifier,
  findPlaceholders,
  isParamType,
  type ParamType,
  renderParam,
  SqlParamError,
  substituteParams,
} from './sql';

export interface QueryParam {
  name: string;
  type: ParamType;
  /** undefined when the parameter is required. */
  default: string | undefined;
  description: string;
}

export interface NamedQuery {
  name: string;
  title: string;
  description: string;
  params: QueryParam[];
  examples: string[];
  /** The SQL body (without the header), with placeholders. */
  sql: string;
}

/** The database placeholder; filled from the `database` option, not a user parameter. */
export const DB_PARAM = 'db';
const QUERY_NAME_RE = /^[a-z0-9_]+$/;

function parseDefault(raw: string): string | undefined {
  const t = raw.trim();
  if (t === '') return undefined;
  if (t.length >= 2 && t.startsWith("'") && t.endsWith("'")) return t.slice(1, -1);
  return t;
}

export function parseQueryFile(name: string, content: string): NamedQuery {
  const fail = (msg: string): never => {
    throw new WarehouseError(`query ${name}: ${msg}`);
  };
  const lines = content.replace(/\r\n/g, '\n').split('\n');
  let i = 0;
  let title = '';
  const description: string[] = [];
  const params: QueryParam[] = [];
  const examples: string[] = [];
  let last: 'description' | 'example' | 'other' = 'other';
  for (; i < lines.length; i++) {
    const line = (lines[i] as string).trim();
    if (line === '') continue;
    if (!line.startsWith('--')) break;
    const text = line.replace(/^--\s?/, '');
    const tag = /^@(\w+)\s*(.*)$/.exec(text);
    if (!tag) {
      if (last === 'description' && text.trim() !== '') description.push(text.trim());
      else if (last === 'example' && text.trim() !== '') examples.push(text.trim());
      continue;
    }
    const [, key, rest = ''] = tag;
    switch (key) {
      case 'title':
        title = rest.trim();
        last = 'other';
        break;
      case 'description':
        if (rest.trim()) description.push(rest.trim());
        last = 'description';
        break;
      case 'example':
        if (rest.trim()) examples.push(rest.trim());
        last = 'example';
        break;
      case 'param': {
        const [spec = '', desc = ''] = rest.split(/\s+--\s+/, 2);
        const m = /^([A-Za-z_][A-Za-z0-9_]*)\s+(\S+)(?:\s+(.*))?$/.exec(spec.trim());
        if (!m) fail(`bad @param line '${line}' (expected: -- @param name Type [default] [-- description])`);
        const [, pname = '', ptype = '', pdefault = ''] = m as RegExpExecArray;
        if (!isParamType(ptype)) fail(`parameter '${pname}' has unsupported type ${ptype}`);
        if (pname === DB_PARAM) fail(`parameter name '${DB_PARAM}' is reserved for the database`);
        if (params.some((p) => p.name === pname)) fail(`parameter '${pname}' is declared twice`);
        const def = parseDefault(pdefault);
        if (def !== undefined) {
          try {
            renderParam(pname, ptype as ParamType, def);
          } catch (err) {
            fail(`default of ${(err as Error).message}`);
          }
        }
        params.push({ name: pname, type: ptype as ParamType, default: def, description: desc.trim() });
        last = 'other';
        break;
      }
      default:
        fail(`unknown header tag @${key}`);
    }
  }
  const sql = lines.slice(i).join('\n').trim();
  if (!title) fail('missing -- @title');
  if (sql === '') fail('has no SQL body');
  const declared = new Map(params.map((p) => [p.name, p.type] as const));
  const used = new Set<string>();
  for (const ph of findPlaceholders(sql)) {
    if (ph.name === DB_PARAM) {
      if (ph.type !== 'Identifier') fail(`{db:...} must be {db:Identifier}, got {db:${ph.type}}`);
      continue;
    }
    const type = declared.get(ph.name);
    if (type === undefined) fail(`placeholder {${ph.name}:${ph.type}} is not declared with -- @param`);
    if (type !== ph.type) fail(`placeholder {${ph.name}:${ph.type}} does not match its declared type ${type}`);
    used.add(ph.name);
  }
  for (const p of params) if (!used.has(p.name)) fail(`parameter '${p.name}' is declared but not used`);
  return { name, title, description: description.join(' '), params, examples, sql };
}

export async function listQueries(dir: string): Promise<NamedQuery[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort();
  return Promise.all(files.map(async (f) => parseQueryFile(f.slice(0, -4), await readFile(join(dir, f), 'utf8'))));
}

export async function loadQuery(dir: string, name: string): Promise<NamedQuery> {
  if (!QUERY_NAME_RE.test(name))
    throw new WarehouseError(`query name must match ${QUERY_NAME_RE.source}, got '${name}'`);
  const files = (await readdir(dir)).filter((f) => f.endsWith('.sql'));
  if (!files.includes(`${name}.sql`)) {
    const known = files.map((f) => f.slice(0, -4)).sort();
    throw new WarehouseError(`unknown query '${name}' (available: ${known.join(', ')})`);
  }
  return parseQueryFile(name, await readFile(join(dir, `${name}.sql`), 'utf8'));
}

/**
 * Pure: the SQL to run for `query` with the given parameter values. Unknown parameter, missing required parameter
 * and badly typed value each give an error naming the parameter.
 */
export function renderQuery(query: NamedQuery, params: Readonly<Record<string, string>>, database: string): string {
  assertIdentifier(database, 'database name');
  const known = query.params.map((p) => p.name);
  for (const key of Object.keys(params)) {
    if (!known.includes(key)) {
      throw new SqlParamError(
        `unknown parameter '${key}' for query ${query.name} (parameters: ${known.length ? known.join(', ') : 'none'})`,
      );
    }
  }
  const values: Record<string, string> = { [DB_PARAM]: database };
  const types: Record<string, ParamType> = { [DB_PARAM]: 'Identifier' };
  for (const p of query.params) {
    const value = params[p.name] ?? p.default;
    if (value === undefined) {
      throw new SqlParamError(`missing required parameter '${p.name}' (${p.type}) for query ${query.name}`);
    }
    try {
      renderParam(p.name, p.type, value);
    } catch (err) {
      throw new SqlParamError(`query ${query.name}: ${(err as Error).message}`);
    }
    values[p.name] = value;
    types[p.name] = p.type;
  }
  return substituteParams(query.sql, values, types);
}

export type OutputFormat = 'table' | 'csv' | 'json';
export type ResultRow = Record<string, unknown>;

export interface QueryResult {
  query: NamedQuery;
  sql: string;
  columns: string[];
  rows: ResultRow[];
  /** The rows rendered in the requested format. */
  output: string;
}

const BIG_INT_TYPE_RE = /^(Nullable\()?U?Int(64|128|256)\)?$/;

/** JSON output quotes 64-bit integers; turn them back into numbers when that is exact. */
function normaliseValue(value: unknown, type: string): unknown {
  if (typeof value === 'string' && BIG_INT_TYPE_RE.test(type) && /^-?\d+$/.test(value)) {
    const n = Number(value);
    return Number.isSafeInteger(n) ? n : value;
  }
  return value;
}

export async function runNamedQuery(
  client: Pick<ClickHouseClient, 'query'>,
  opts: { dir: string; name: string; params: Record<string, string>; database: string; format?: OutputFormat },
): Promise<QueryResult> {
  const query = await loadQuery(opts.dir, opts.name);
  const sql = renderQuery(query, opts.params, opts.database);
  let result: { meta?: { name: string; type: string }[]; data: ResultRow[] };
  try {
    const rs = await client.query({ query: sql, format: 'JSON' });
    result = await rs.json<ResultRow>();
  } catch (err) {
    throw new WarehouseError(`query ${query.name} failed: ${describeError(err)}`, false, { cause: err });
  }
  const meta = result.meta ?? [];
  const columns = meta.length > 0 ? meta.map((m) => m.name) : Object.keys(result.data[0] ?? {});
  const rows = result.data.map((row) => {
    const out: ResultRow = {};
    for (const c of columns) out[c] = normaliseValue(row[c], meta.find((m) => m.name === c)?.type ?? '');
    return out;
  });
  const format = opts.format ?? 'table';
  const output =
    format === 'csv'
      ? formatCsv(rows, columns)
      : format === 'json'
        ? JSON.stringify(rows, null, 2)
        : formatTable(rows, columns);
  return { query, sql, columns, rows, output };
}

function cellText(v: unknown): string {
  if (v === null || v === undefined) return 'NULL';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/** A plain-text table: header, dashes, one line per row; numbers right-aligned. */
export function formatTable(
  rows: readonly ResultRow[],
  columns: readonly string[] = Object.keys(rows[0] ?? {}),
): string {
  if (columns.length === 0) return '(no rows)';
  const cells = rows.map((r) => columns.map((c) => cellText(r[c])));
  const numeric = columns.map((c) => rows.length > 0 && rows.every((r) => typeof r[c] === 'number'));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => (row[i] as string).length)));
  const pad = (s: string, i: number) => (numeric[i] ? s.padStart(widths[i] as number) : s.padEnd(widths[i] as number));
  const lines = [
    columns.map((c, i) => pad(c, i)).join('  '),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...cells.map((row) => row.map((s, i) => pad(s, i)).join('  ')),
  ];
  lines.push(`(${rows.length} row${rows.length === 1 ? '' : 's'})`);
  return lines.map((l) => l.trimEnd()).join('\n');
}

/** RFC 4180 CSV with a header line. */
export function formatCsv(rows: readonly ResultRow[], columns: readonly string[] = Object.keys(rows[0] ?? {})): string {
  const esc = (s: string) => (/[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s);
  const cell = (v: unknown) =>
    v === null || v === undefined ? '' : esc(typeof v === 'object' ? JSON.stringify(v) : String(v));
  return [columns.map(esc).join(','), ...rows.map((r) => columns.map((c) => cell(r[c])).join(','))].join('\n');
}
