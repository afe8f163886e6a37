import { describe, expect, it } from 'vitest';
import { listQueries, QUERIES_DIR } from '../src/index';
import { formatCsv, formatTable, parseQueryFile, renderQuery } from '../src/queries';

const file = `-- @title Example
-- @description First line
-- second line.
-- @param dimension String value_tier -- the dimension
-- @param from Date -- first day
-- @param note String '' -- optional
-- @param n UInt32 10
-- @example tierctl query example --param from=2024-01-01
SELECT * FROM {db:Identifier}.t
WHERE dim = {dimension:String} AND d >= {from:Date} AND note = {note:String}
LIMIT {n:UInt32}
`;

describe('parseQueryFile', () => {
  it('reads the header', () => {
    const q = parseQueryFile('example', file);
    expect(q.title).toBe('Example');
    expect(q.description).toBe('First line second line.');
    expect(q.params).toEqual([
      { name: 'dimension', type: 'String', default: 'value_tier', description: 'the dimension' },
      { name: 'from', type: 'Date', default: undefined, description: 'first day' },
      { name: 'note', type: 'String', default: '', description: 'optional' },
      { name: 'n', type: 'UInt32', default: '10', description: '' },
    ]);
    expect(q.examples).toEqual(['tierctl query example --param from=2024-01-01']);
    expect(q.sql.startsWith('SELECT * FROM {db:Identifier}.t')).toBe(true);
  });

  it('refuses headers that do not match the body', () => {
    expect(() => parseQueryFile('x', '-- @title T\nSELECT {a:String}')).toThrow(
      'query x: placeholder {a:String} is not declared with -- @param',
    );
    expect(() => parseQueryFile('x', '-- @title T\n-- @param a Date\nSELECT {a:String}')).toThrow(
      'query x: placeholder {a:String} does not match its declared type Date',
    );
    expect(() => parseQueryFile('x', '-- @title T\n-- @param a Date\nSELECT 1')).toThrow(
      "query x: parameter 'a' is declared but not used",
    );
    expect(() => parseQueryFile('x', '-- @title T\n-- @param a Blob\nSELECT {a:Blob}')).toThrow(
      "parameter 'a' has unsupported type Blob",
    );
    expect(() => parseQueryFile('x', '-- @param a Date\nSELECT {a:Date}')).toThrow('query x: missing -- @title');
    expect(() => parseQueryFile('x', '-- @title T\n-- @param a Date 2024-13-01\nSELECT {a:Date}')).toThrow(
      "query x: default of parameter 'a' must be a Date",
    );
  });
});

describe('renderQuery', () => {
  const q = parseQueryFile('example', file);

  it('substitutes values and defaults', () => {
    expect(renderQuery(q, { from: '2024-01-01' }, 'ts')).toBe(
      "SELECT * FROM ts.t\nWHERE dim = 'value_tier' AND d >= toDate('2024-01-01') AND note = ''\nLIMIT 10",
    );
    expect(renderQuery(q, { from: '2024-01-01', dimension: "x' OR '1", n: '3' }, 'ts')).toContain(
      "dim = 'x\\' OR \\'1' AND",
    );
  });

  it('names the unknown, missing or badly typed parameter', () => {
    expect(() => renderQuery(q, { from: '2024-01-01', form: 'x' }, 'ts')).toThrow(
      "unknown parameter 'form' for query example (parameters: dimension, from, note, n)",
    );
    expect(() => renderQuery(q, {}, 'ts')).toThrow("missing required parameter 'from' (Date) for query example");
    expect(() => renderQuery(q, { from: 'yesterday' }, 'ts')).toThrow(
      "query example: parameter 'from' must be a Date 'YYYY-MM-DD', got \"yesterday\"",
    );
    expect(() => renderQuery(q, { from: '2024-01-01', n: '-5' }, 'ts')).toThrow(
      "parameter 'n' must be an integer between 0 and 4294967295",
    );
    expect(() => renderQuery(q, { from: '2024-01-01' }, 'ts; DROP')).toThrow('database name must match');
  });
});

describe('the query pack', () => {
  it('has the twelve documented queries, each with a title, description, example and valid parameters', async () => {
    const qs = await listQueries(QUERIES_DIR);
    expect(qs.map((q) => q.name)).toEqual([
      'clv_by_tier',
      'cohort_by_first_order_month',
      'customer_on_day',
      'customer_transitions',
      'cutpoints_on_day',
      'high_value_at_risk',
      'likely_to_churn_high_value',
      'migration_customers',
      'migration_matrix',
      'revenue_share',
      'tier_distribution_daily',
      'transitions_by_reason',
    ]);
    for (const q of qs) {
      expect(q.title).not.toBe('');
      expect(q.description.length).toBeGreaterThan(20);
      expect(q.examples.length).toBeGreaterThan(0);
      // the example's --param names are declared parameters
      for (const ex of q.examples) {
        for (const m of ex.matchAll(/--param (\w+)=/g)) expect(q.params.map((p) => p.name)).toContain(m[1]);
      }
      // every query reads deduplicated data
      expect(q.sql).toMatch(/FINAL/);
    }
  });
});

describe('formatters', () => {
  const rows = [
    { tier: 'GOLD', customers: 12, share: 0.5 },
    { tier: 'PLATINUM', customers: 3, share: 0.125 },
  ];

  it('formatTable aligns columns, numbers to the right', () => {
    expect(formatTable(rows)).toBe(
      [
        'tier      customers  share',
        '--------  ---------  -----',
        'GOLD             12    0.5',
        'PLATINUM          3  0.125',
        '(2 rows)',
      ].join('\n'),
    );
    expect(formatTable([], ['a'])).toBe('a\n-\n(0 rows)');
  });

  it('formatCsv quotes what needs quoting', () => {
    expect(formatCsv([{ a: 'x,y', b: 'say "hi"', c: null, d: 1 }])).toBe('a,b,c,d\n"x,y","say ""hi""",,1');
  });
});
