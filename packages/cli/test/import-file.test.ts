import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseMapping } from '@tierstream/importer';
import { afterAll, describe, expect, it } from 'vitest';
import { mappingProblemLines } from '../src/commands/import';
import { FileError } from '../src/ops/csv-records';
import { importFile } from '../src/ops/import-file';

/** importFile as a dry run (no producer) on small files written here, read with the shipped online-retail mapping. */
const REPO_ROOT = path.resolve(import.meta.dirname, '../../..');
const MAPPING_FILE = path.join(REPO_ROOT, 'examples', 'import', 'online-retail.mapping.yaml');
const mapping = parseMapping(readFileSync(MAPPING_FILE, 'utf8'), MAPPING_FILE);
const NOW = Date.parse('2026-06-30T00:00:00Z');
const HEAD = 'InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country';
const dir = mkdtempSync(path.join(os.tmpdir(), 'import-file-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, text: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
}
const run = (file: string) => importFile({ kind: 'orders', file, mapping, now: NOW });
const lines = (r: Awaited<ReturnType<typeof run>>) => r.rejects.map((x) => [x.line, x.reason]);

describe('importFile (dry run)', () => {
  it('a row with the wrong cell count rejects the rest of its invoice as PARTIAL_ORDER', async () => {
    const file = write(
      'partial-cells.csv',
      [
        HEAD,
        '900001,A,ONE,1,12/1/2010 8:26,10.00,111,UK',
        '900001,B,TWO, WITH COMMA,1,12/1/2010 8:26,20.00,111,UK',
        '900001,C,THREE,1,12/1/2010 8:26,30.00,111,UK',
        '900002,A,OK,1,12/1/2010 8:26,5.00,111,UK',
        ',cut short',
        '',
      ].join('\n'),
    );
    const r = await run(file);
    expect(lines(r)).toEqual([
      [2, 'PARTIAL_ORDER'],
      [3, 'MALFORMED_ROW'],
      [4, 'PARTIAL_ORDER'],
      [6, 'MALFORMED_ROW'],
    ]);
    expect(r.summary.events).toEqual({ PLACED: 1 });
  });

  it('an unclosed quote is a FileError naming the line where the quoted field starts', async () => {
    const file = write(
      'unclosed.csv',
      [
        HEAD,
        '900010,A,OK,1,12/1/2010 8:26,1.00,333,UK',
        '900011,A,"OPEN QUOTE,1,12/1/2010 8:26,1.00,333,UK',
        '900012,A,OK,1,12/1/2010 8:26,1.00,333,UK',
        '900013,A,OK,1,12/1/2010 8:26,1.00,333,UK',
        '900014,A,OK,1,12/1/2010 8:26,1.00,333,UK',
        '',
      ].join('\n'),
    );
    await expect(run(file)).rejects.toThrow(FileError);
    await expect(run(file)).rejects.toThrow(
      /unclosed\.csv: line 3: a quoted field starting on this line is never closed/,
    );
  });

  it('reports the line a record starts on, with a BOM, CRLF and a quoted newline', async () => {
    const rows = [
      HEAD,
      '900002,A,"HEART, T-LIGHT",2,12/1/2010 8:26,2.50,222,UK',
      '900002,B,"MULTI',
      'LINE",1,12/1/2010 8:26,1.00,222,UK',
      '900003,A,BAD,1,12/1/2010 8:26,1;5,222,UK',
    ];
    for (const eol of ['\n', '\r\n']) {
      const r = await run(write('bom.csv', `\uFEFF${rows.join(eol)}${eol}`));
      expect(lines(r), JSON.stringify(eol)).toEqual([[5, 'UNPARSABLE_AMOUNT']]);
      expect(r.summary.events).toEqual({ PLACED: 1 });
    }
  });

  it('NDJSON: a leading byte-order mark is not part of line 1', async () => {
    const file = write(
      'bom.ndjson',
      '\uFEFF{"InvoiceNo":"1","Quantity":1,"InvoiceDate":"12/1/2010 8:26","UnitPrice":1.5,"CustomerID":"9"}\r\n' +
        '{"InvoiceNo":"2","Quantity":1,"InvoiceDate":"12/1/2010 8:26","UnitPrice":2,"CustomerID":"9"}\r\n',
    );
    const r = await importFile({ kind: 'orders', file, mapping: { ...mapping, format: 'ndjson' }, now: NOW });
    expect(r.rejects).toEqual([]);
    expect(r.summary.events).toEqual({ PLACED: 2 });
  });
});

describe('mapping problems', () => {
  it('several: a one-line summary first, then one line each; one: just that line', () => {
    expect(mappingProblemLines('x.yaml', ['x.yaml: customer: required', 'x.yaml: custmer: unknown setting'])).toEqual([
      'mapping x.yaml: 2 problems',
      'x.yaml: customer: required',
      'x.yaml: custmer: unknown setting',
    ]);
    expect(mappingProblemLines('x.yaml', ['x.yaml: customer: required'])).toEqual(['x.yaml: customer: required']);
  });
});
