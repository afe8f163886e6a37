import { Readable } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type CsvRecord, FileError, readCsvRecords } from '../src/ops/csv-records';

/** All records of a text, fed to the csv-parse based reader in the given chunks (default: one). */
async function readCsv(text: string | string[], source = 'input.csv'): Promise<CsvRecord[]> {
  const chunks = (Array.isArray(text) ? text : [text]).map((t) => Buffer.from(t));
  const out: CsvRecord[] = [];
  for await (const rec of readCsvRecords(Readable.from(chunks), { source })) out.push(rec);
  return out;
}

const HEAD = 'InvoiceNo,Description,UnitPrice';
// Line 1 header, line 2 a quoted comma, lines 3–4 one record with an embedded newline, line 5 the next record.
const ROWS = ['900002,"HEART, T-LIGHT",2.50', '900002,"MULTI', 'LINE",1.00', '900003,BAD,1;5'];

describe('readCsvRecords (csv-parse)', () => {
  it('numbers records by the line they start on, for LF and CRLF alike, after a byte-order mark', async () => {
    for (const eol of ['\n', '\r\n']) {
      const recs = await readCsv(`\uFEFF${[HEAD, ...ROWS].join(eol)}${eol}`);
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

  it('counts several embedded CRLFs once each (csv-parse info.lines would count them twice)', async () => {
    const recs = await readCsv('a,b\r\n"1\r\n2\r\n3",x\r\n\r\n"4\r\n",y\r\nz,w\r\n');
    expect(recs.map((r) => [r.line, r.cells[0]])).toEqual([
      [1, 'a'],
      [2, '1\r\n2\r\n3'],
      [6, '4\r\n'],
      [8, 'z'],
    ]);
  });

  it('skips empty lines but counts them; reads a last line without a newline', async () => {
    expect((await readCsv('a,b\r\n\r\n1,2\r\n\r\n3,4')).map((r) => [r.line, ...r.cells])).toEqual([
      [1, 'a', 'b'],
      [3, '1', '2'],
      [5, '3', '4'],
    ]);
    expect((await readCsv('\n\na,b\n1,2\n\n\n3,4\n\n')).map((r) => [r.line, ...r.cells])).toEqual([
      [3, 'a', 'b'],
      [4, '1', '2'],
      [7, '3', '4'],
    ]);
  });

  it('an unclosed quote is a FileError naming the line where its record starts', async () => {
    for (const eol of ['\n', '\r\n']) {
      const text = [HEAD, '900010,"OK\nOK",1.00', '', '900011,"OPEN QUOTE,1.00', '900012,OK,1.00', ''].join(eol);
      await expect(readCsv(text, 'unclosed.csv')).rejects.toThrow(FileError);
      await expect(readCsv(text, 'unclosed.csv')).rejects.toThrow(
        /^unclosed\.csv: line 5: a quoted field starting on this line is never closed, so the rest of the file from line 5 on could not be read; nothing was imported$/,
      );
    }
  });

  it('a stray quote makes the record malformed, not the file; doubled quotes are quotes', async () => {
    const recs = await readCsv(
      `${HEAD}\n900020,5" SCREEN,1.00\n900021,"say ""hi""",1.00\n900022,"x"y,1.00\n"""q""",ok,1\n"x"y,2,3\n900023,OK,1.00\n`,
    );
    expect(recs.map((r) => [r.line, r.error ?? null])).toEqual([
      [1, null],
      [2, 'a quote inside the unquoted cell 2'],
      [3, null],
      [4, 'text after the closing quote of cell 2'],
      [5, null],
      [6, 'text after the closing quote of cell 1'],
      [7, null],
    ]);
    expect(recs[1]!.cells).toEqual(['900020', '5" SCREEN', '1.00']);
    expect(recs[2]!.cells[1]).toBe('say "hi"');
    expect(recs[4]!.cells[0]).toBe('"q"');
  });

  it('property: any split into chunks gives the same records', async () => {
    const text = `\uFEFF${[HEAD, ...ROWS].join('\r\n')}\r\n\r\n"a""b",c\r\n900020,5" SCREEN,1\r\n9,"x"y,1\r\n`;
    const bytes = Buffer.from(text);
    const whole = await readCsv(text);
    expect(whole.map((r) => r.line)).toEqual([1, 2, 3, 5, 7, 8, 9]);
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 0, max: bytes.length }), { maxLength: 8 }), async (cuts) => {
        const points = [0, ...[...cuts].sort((a, b) => a - b), bytes.length];
        const chunks: Buffer[] = [];
        for (let i = 1; i < points.length; i++) chunks.push(bytes.subarray(points[i - 1], points[i]));
        const recs: CsvRecord[] = [];
        for await (const rec of readCsvRecords(Readable.from(chunks), { source: 'x.csv' })) recs.push(rec);
        expect(recs).toEqual(whole);
      }),
    );
  });
});
