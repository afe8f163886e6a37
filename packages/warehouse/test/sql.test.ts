import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assertIdentifier, quoteString, renderParam, SqlParamError, substituteParams } from '../src/sql';

/** Reads a ClickHouse single-quoted literal back, the way the server does (the escapes quoteString emits). */
function unquote(literal: string): string {
  expect(literal.startsWith("'") && literal.endsWith("'")).toBe(true);
  const body = literal.slice(1, -1);
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const ch = body[i] as string;
    if (ch === "'") throw new Error(`unescaped quote at ${i} in ${literal}`);
    if (ch !== '\\') {
      out += ch;
      continue;
    }
    const next = body[++i];
    out +=
      ({ n: '\n', r: '\r', t: '\t', '0': '\0', '\\': '\\', "'": "'" } as Record<string, string>)[next as string] ?? '?';
  }
  return out;
}

describe('quoteString', () => {
  it('escapes quotes and backslashes', () => {
    expect(quoteString("O'Brien")).toBe("'O\\'Brien'");
    expect(quoteString('a\\b')).toBe("'a\\\\b'");
    expect(quoteString("x\\' OR 1=1 --")).toBe("'x\\\\\\' OR 1=1 --'");
    expect(quoteString('line\nbreak')).toBe("'line\\nbreak'");
  });

  it('round-trips any string and never leaves an unescaped quote', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (s) => {
        expect(unquote(quoteString(s))).toBe(s);
      }),
    );
  });
});

describe('renderParam', () => {
  it('renders each type as a literal', () => {
    expect(renderParam('d', 'Date', '2024-02-29')).toBe("toDate('2024-02-29')");
    expect(renderParam('t', 'DateTime', '2024-02-29 23:59:59')).toBe("toDateTime('2024-02-29 23:59:59')");
    expect(renderParam('n', 'UInt32', '42')).toBe('42');
    expect(renderParam('n', 'Int64', '-9223372036854775808')).toBe('-9223372036854775808');
    expect(renderParam('n', 'UInt64', '18446744073709551615')).toBe('18446744073709551615');
    expect(renderParam('f', 'Float64', '-1.5e3')).toBe('-1.5e3');
    expect(renderParam('s', 'String', "it's")).toBe("'it\\'s'");
    expect(renderParam('a', 'Array(String)', "PLATINUM, GOLD,it's")).toBe("['PLATINUM', 'GOLD', 'it\\'s']");
    expect(renderParam('db', 'Identifier', 'tierstream_1')).toBe('tierstream_1');
  });

  it.each([
    ['Date', '2024-02-30', "parameter 'p' must be a Date 'YYYY-MM-DD', got \"2024-02-30\""],
    ['Date', '2024-1-01', "parameter 'p' must be a Date 'YYYY-MM-DD', got \"2024-1-01\""],
    ['Date', "2024-01-01') OR (1=1", 'must be a Date'],
    ['Date', '1969-12-31', 'between 1970-01-01 and 2105-12-31'],
    ['DateTime', '2024-01-01 24:00:00', 'must be a DateTime'],
    ['UInt32', '-1', 'parameter \'p\' must be an integer between 0 and 4294967295 (UInt32), got "-1"'],
    ['UInt32', '4294967296', 'between 0 and 4294967295'],
    ['UInt8', '1.5', 'must be an integer (UInt8)'],
    ['Int64', '1; DROP TABLE x', 'must be an integer (Int64)'],
    ['Float64', 'NaN', 'must be a finite number'],
    ['Float64', '1e999', 'must be a finite number'],
    ['Float64', '', 'must be a finite number'],
    ['Array(String)', 'A,,B', 'comma-separated list of non-empty strings'],
    ['Identifier', 'db; DROP', 'must be an identifier'],
    ['Identifier', '1abc', 'must be an identifier'],
  ] as const)('rejects %s %j', (type, raw, message) => {
    expect(() => renderParam('p', type, raw)).toThrow(SqlParamError);
    expect(() => renderParam('p', type, raw)).toThrow(message);
  });

  it('accepts every integer in range and rejects every one outside (UInt16)', () => {
    fc.assert(
      fc.property(fc.integer({ min: -100_000, max: 100_000 }), (n) => {
        const ok = n >= 0 && n <= 65_535;
        if (ok) expect(renderParam('n', 'UInt16', String(n))).toBe(String(n));
        else expect(() => renderParam('n', 'UInt16', String(n))).toThrow(SqlParamError);
      }),
    );
  });
});

describe('substituteParams', () => {
  it('replaces every placeholder, including repeated ones', () => {
    const sql = 'SELECT * FROM {db:Identifier}.t WHERE d >= {from:Date} AND d <= {from:Date} AND x = {s:String}';
    expect(
      substituteParams(
        sql,
        { db: 'ts', from: '2024-01-01', s: "a'b" },
        { db: 'Identifier', from: 'Date', s: 'String' },
      ),
    ).toBe("SELECT * FROM ts.t WHERE d >= toDate('2024-01-01') AND d <= toDate('2024-01-01') AND x = 'a\\'b'");
  });

  it('refuses undeclared placeholders, type mismatches and missing values', () => {
    expect(() => substituteParams('{x:String}', { x: 'a' }, {})).toThrow(
      "placeholder {x:String} has no declared parameter 'x'",
    );
    expect(() => substituteParams('{x:String}', { x: 'a' }, { x: 'Date' })).toThrow(
      "placeholder {x:String} does not match the declared type Date of 'x'",
    );
    expect(() => substituteParams('{x:String}', {}, { x: 'String' })).toThrow(
      "missing value for parameter 'x' (String)",
    );
  });

  it('leaves braces that are not placeholders alone', () => {
    expect(substituteParams("SELECT '{not a placeholder}', {a:UInt8}", { a: '1' }, { a: 'UInt8' })).toBe(
      "SELECT '{not a placeholder}', 1",
    );
  });
});

describe('assertIdentifier', () => {
  it('accepts plain names and rejects anything else', () => {
    expect(assertIdentifier('tierstream')).toBe('tierstream');
    expect(() => assertIdentifier('tier-stream', 'database name')).toThrow('database name must match');
    expect(() => assertIdentifier('a`b')).toThrow(SqlParamError);
    expect(() => assertIdentifier('')).toThrow(SqlParamError);
  });
});
