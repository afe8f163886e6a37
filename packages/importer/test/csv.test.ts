import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CsvReader, FileError, readCsv } from '../src/index';

const HEAD = 'InvoiceNo,Description,UnitPrice';
// Line 1 header, line 2 a quoted comma, lines 3–4 one record with an embedded newline, line 5 the next record.
const ROWS = ['900002,"HEART, T-LIGHT",2.50', '900002,"MULTI', 'LINE",1.00', '900003,BAD,1;5'];

describe('CsvReader', () => {
  it('numbers records by the line they start on, for LF and CRLF alike, after a byte-order mark', () => {
    for (const eol of ['\n', '\r\n']) {
      const recs = readCsv(`\uFEFF${[HEAD, ...ROWS].join(eol)}${eol}`);
      expect(
        recs.map((r) => [r.line, r.cells[0]]),
        JSON.stringify(eol),
      ).toEqual([
        [1, 'InvoiceNo'],
        [2, '900002'],
        [3, '900002'],
        [5, '900003'],
      ]);
      expect(recs[2]!.cells[1]).toBe(`MULTI${eol}LINE`);
      expect(recs[1]!.cells).toEqual(['900002', 'HEART, T-LIGHT', '2.50']);
    }
  });

  it('skips empty lines but counts them; reads a last line without a newline', () => {
    expect(readCsv('a,b\r\n\r\n1,2\n\n3,4').map((r) => [r.line, ...r.cells])).toEqual([
      [1, 'a', 'b'],
      [3, '1', '2'],
      [5, '3', '4'],
    ]);
  });

  it('an unclosed quote is a FileError naming the line where the quoted field starts', () => {
    const text = [HEAD, '900010,OK,1.00', '900011,"OPEN QUOTE,1.00', '900012,OK,1.00', '900013,OK,1.00', ''].join('\n');
    expect(() => readCsv(text, 'unclosed.csv')).toThrow(FileError);
    expect(() => readCsv(text, 'unclosed.csv')).toThrow(
      /^unclosed\.csv: line 3: a quoted field starting on this line is never closed, so the rest of the file from line 3 on could not be read/,
    );
  });

  it('a stray quote makes the record malformed, not the file; doubled quotes are quotes', () => {
    const recs = readCsv(`${HEAD}\n900020,5" SCREEN,1.00\n900021,"say ""hi""",1.00\n900022,"x"y,1.00\n`);
    expect(recs.map((r) => [r.line, r.error ?? null])).toEqual([
      [1, null],
      [2, 'a quote inside the unquoted cell 2'],
      [3, null],
      [4, 'text after the closing quote of cell 2'],
    ]);
    expect(recs[2]!.cells[1]).toBe('say "hi"');
  });

  it('property: any split into chunks gives the same records', () => {
    const text = `\uFEFF${[HEAD, ...ROWS].join('\r\n')}\r\n\r\n"a""b",c\r\n`;
    const whole = readCsv(text);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: text.length }), { maxLength: 8 }), (cuts) => {
        const points = [0, ...[...cuts].sort((a, b) => a - b), text.length];
        const reader = new CsvReader('x.csv');
        const recs = [];
        for (let i = 1; i < points.length; i++) recs.push(...reader.push(text.slice(points[i - 1], points[i])));
        recs.push(...reader.end());
        expect(recs).toEqual(whole);
      }),
    );
  });
});
