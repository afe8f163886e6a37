/**
 * Client-side SQL parameter substitution (pure). ClickHouse 18.16 has no server-side query parameters, so every value is
 * validated against its declared type and rendered as a literal here. Placeholders use the ClickHouse syntax
 * `{name:Type}`, so the same SQL also runs on a current server with `--param_name=value`.
 */

export class SqlParamError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SqlParamError';
  }
}

const INTEGER_RANGES = {
  UInt8: [0n, 255n],
  UInt16: [0n, 65_535n],
  UInt32: [0n, 4_294_967_295n],
  UInt64: [0n, 18_446_744_073_709_551_615n],
  Int8: [-128n, 127n],
  Int16: [-32_768n, 32_767n],
  Int32: [-2_147_483_648n, 2_147_483_647n],
  Int64: [-9_223_372_036_854_775_808n, 9_223_372_036_854_775_807n],
} as const;

type IntegerType = keyof typeof INTEGER_RANGES;

export const PARAM_TYPES = [
  'String',
  'Date',
  'DateTime',
  'Float32',
  'Float64',
  'Identifier',
  'Array(String)',
  ...(Object.keys(INTEGER_RANGES) as IntegerType[]),
] as const;
export type ParamType = (typeof PARAM_TYPES)[number];

export function isParamType(s: string): s is ParamType {
  return (PARAM_TYPES as readonly string[]).includes(s);
}

const IDENTIFIER_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A database/table name that is safe to splice into SQL unquoted. */
export function assertIdentifier(name: string, what = 'identifier'): string {
  if (!IDENTIFIER_RE.test(name) || name.length > 128) {
    throw new SqlParamError(`${what} must match ${IDENTIFIER_RE.source} (letters, digits, underscore), got '${name}'`);
  }
  return name;
}

/** A ClickHouse single-quoted string literal. Backslash escapes work the same on 18.16 and current servers. */
export function quoteString(value: string): string {
  let out = "'";
  for (const ch of value) {
    switch (ch) {
      case '\\':
        out += '\\\\';
        break;
      case "'":
        out += "\\'";
        break;
      case '\n':
        out += '\\n';
        break;
      case '\r':
        out += '\\r';
        break;
      case '\t':
        out += '\\t';
        break;
      case '\0':
        out += '\\0';
        break;
      default:
        out += ch;
    }
  }
  return `${out}'`;
}

function isValidCalendarDate(y: number, m: number, d: number): boolean {
  const date = new Date(Date.UTC(y, m - 1, d));
  return date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d;
}

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATETIME_RE = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/;
const FLOAT_RE = /^-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/;

/** Validates `raw` as a value of `type` and returns the SQL literal; throws SqlParamError naming the parameter. */
export function renderParam(name: string, type: ParamType, raw: string): string {
  const bad = (expected: string): never => {
    throw new SqlParamError(`parameter '${name}' must be ${expected}, got ${JSON.stringify(raw)}`);
  };
  switch (type) {
    case 'String':
      return quoteString(raw);
    case 'Identifier':
      if (!IDENTIFIER_RE.test(raw)) bad('an identifier (letters, digits, underscore)');
      return raw;
    case 'Date': {
      const m = DATE_RE.exec(raw);
      if (!m || !isValidCalendarDate(Number(m[1]), Number(m[2]), Number(m[3]))) bad("a Date 'YYYY-MM-DD'");
      // Date covers 1970-01-01 .. 2105 on old servers (UInt16 day number).
      if (raw < '1970-01-01' || raw > '2105-12-31') bad('a Date between 1970-01-01 and 2105-12-31');
      return `toDate(${quoteString(raw)})`;
    }
    case 'DateTime': {
      const m = DATETIME_RE.exec(raw);
      if (
        !m ||
        !isValidCalendarDate(Number(m[1]), Number(m[2]), Number(m[3])) ||
        Number(m[4]) > 23 ||
        Number(m[5]) > 59 ||
        Number(m[6]) > 59
      ) {
        bad("a DateTime 'YYYY-MM-DD hh:mm:ss'");
      }
      return `toDateTime(${quoteString(raw)})`;
    }
    case 'Float32':
    case 'Float64':
      if (!FLOAT_RE.test(raw) || !Number.isFinite(Number(raw))) bad(`a finite number (${type})`);
      return raw;
    case 'Array(String)': {
      const items = raw.split(',').map((s) => s.trim());
      if (items.some((s) => s === '')) bad('a comma-separated list of non-empty strings');
      return `[${items.map(quoteString).join(', ')}]`;
    }
    default: {
      const [min, max] = INTEGER_RANGES[type];
      if (!/^-?\d+$/.test(raw)) bad(`an integer (${type})`);
      const n = BigInt(raw);
      if (n < min || n > max) bad(`an integer between ${min} and ${max} (${type})`);
      return n.toString();
    }
  }
}

/** `{name:Type}` placeholders; the type part is what ClickHouse would accept for server-side parameters. */
const PLACEHOLDER_RE = /\{([A-Za-z_][A-Za-z0-9_]*):([A-Za-z0-9_(), ]+)\}/g;

export interface Placeholder {
  name: string;
  type: string;
}

export function findPlaceholders(sql: string): Placeholder[] {
  return [...sql.matchAll(PLACEHOLDER_RE)].map((m) => ({ name: m[1] as string, type: (m[2] as string).trim() }));
}

/**
 * Replaces every `{name:Type}` with the literal of `values[name]`. Throws if a placeholder has no value or its type
 * differs from `types[name]` (the declared type), so a query file cannot silently use a value as another type.
 */
export function substituteParams(
  sql: string,
  values: Readonly<Record<string, string>>,
  types: Readonly<Record<string, ParamType>>,
): string {
  return sql.replace(PLACEHOLDER_RE, (_whole, name: string, rawType: string) => {
    const type = rawType.trim();
    const declared = types[name];
    if (declared === undefined)
      throw new SqlParamError(`placeholder {${name}:${type}} has no declared parameter '${name}'`);
    if (declared !== type) {
      throw new SqlParamError(
        `placeholder {${name}:${type}} does not match the declared type ${declared} of '${name}'`,
      );
    }
    const value = values[name];
    if (value === undefined) throw new SqlParamError(`missing value for parameter '${name}' (${declared})`);
    return renderParam(name, declared, value);
  });
}
