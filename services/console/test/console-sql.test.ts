import { listQueries, renderQuery } from '@tierstream/warehouse';
import { describe, expect, it } from 'vitest';
import { CONSOLE_SQL_DIR } from '../src/warehouse-reads';

/** The console's own queries (src/sql) parse like the SQL pack's, and request values only ever become literals. */
describe('console SQL (src/sql)', () => {
  it('has valid headers, placeholders that match them, and reads deduplicated rows where it counts', async () => {
    const queries = await listQueries(CONSOLE_SQL_DIR);
    expect(queries.map((q) => q.name)).toEqual([
      'current_counts',
      'data_range',
      'dimensions',
      'latest_transitions',
      'reporting_currency',
    ]);
    for (const q of queries) {
      expect(q.title).not.toBe('');
      // data_range takes min/max days, which re-inserted rows cannot change; every other query dedupes with FINAL.
      if (q.name !== 'data_range') expect(q.sql).toMatch(/FINAL/);
    }
  });

  it('renders request values as quoted literals', async () => {
    const q = (await listQueries(CONSOLE_SQL_DIR)).find((x) => x.name === 'latest_transitions')!;
    const sql = renderQuery(q, { from: '2026-06-01', to: '2026-06-30', dimension: "x' OR 1=1 --", limit: '5' }, 'ts');
    expect(sql).toContain("WHERE 'x\\' OR 1=1 --' = '' OR dimension = 'x\\' OR 1=1 --'");
    expect(sql).toContain("occurred_day >= toDate('2026-06-01') AND occurred_day <= toDate('2026-06-30')");
    expect(sql).toContain('LIMIT 5');
    expect(() => renderQuery(q, { from: '2026-06-01', to: '2026-06-30', limit: '-1' }, 'ts')).toThrow(
      "parameter 'limit' must be an integer between 0 and 4294967295",
    );
  });
});
