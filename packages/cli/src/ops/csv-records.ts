import type { Readable } from 'node:stream';
import { CsvError, type Options, parse } from 'csv-parse';
import { parse as parseSync } from 'csv-parse/sync';

/** The file cannot be read past some point: nothing of it should be imported. */
export class FileError extends Error {}

export interface CsvRecord {
  cells: string[];
  /** The physical line (1-based, header = 1) where the record starts. */
  line: number;
  /** Why the record is malformed (a stray quote); undefined when it parsed cleanly. */
  error?: string;
}

export interface CsvReadOptions {
  /** The file name, for the FileError message. */
  source: string;
  delimiter?: string;
  quote?: string;
}

/** Line breaks inside a record's cells (only quoted cells hold any): CRLF, LF and a lone CR count one each. */
function breaksIn(cells: readonly string[]): number {
  let n = 0;
  for (const c of cells) {
    if (c.indexOf('\n') === -1 && c.indexOf('\r') === -1) continue;
    for (let i = 0; i < c.length; i++) {
      const ch = c.charCodeAt(i);
      if (ch === 10 || (ch === 13 && c.charCodeAt(i + 1) !== 10)) n += 1;
    }
  }
  return n;
}

/**
 * Reads CSV with csv-parse (RFC 4180 quoting, a leading byte-order mark dropped, empty lines skipped, any cell count)
 * and numbers each record by the physical line where it starts, for LF, CRLF and quoted fields with embedded newlines
 * alike. The line is counted here, not taken from csv-parse's `info.lines`, which counts a CRLF inside a quoted field
 * as two lines: a record starts after the previous one's line break plus the empty lines csv-parse skipped
 * (`info.empty_lines`), and spans one line more than the line breaks in its cells.
 *
 * A quoted field that is never closed (csv-parse's CSV_QUOTE_NOT_CLOSED) is a FileError naming the line its record
 * starts on, because the rest of the file cannot be told apart from the field.
 *
 * A stray quote makes its record malformed, not the file, and the record keeps its cells (a malformed row marks its
 * order partial by its order id cell). csv-parse alone cannot give that: strict, it stops the file (or, with
 * `skip_records_with_error`, drops the record's cells, and after text following a closing quote reads on as if the
 * quote were still open); with `relax_quotes` it reads the record but says nothing. So the file is read relaxed, and a
 * record whose raw text holds a quote is parsed again, alone and strictly, by csv-parse: its quote error names the cell.
 */
export async function* readCsvRecords(input: Readable, opts: CsvReadOptions): AsyncGenerator<CsvRecord> {
  const delimiter = opts.delimiter ?? ',';
  const quote = opts.quote ?? '"';
  const base = { delimiter, quote, escape: quote, skip_empty_lines: true, relax_column_count: true };
  /** Why a record with a quote in its raw text is malformed, or undefined when a strict parse reads it. */
  const strayQuote = (raw: string): string | undefined => {
    try {
      parseSync(raw, base);
      return undefined;
    } catch (err) {
      const e = err as CsvError & { column?: number };
      const cell = (e.column ?? 0) + 1;
      // csv-parse 7 names this code without its CSV_ prefix (and its typings omit it).
      if ((e.code as string) === 'INVALID_OPENING_QUOTE' || (e.code as string) === 'CSV_INVALID_OPENING_QUOTE')
        return `a quote inside the unquoted cell ${cell}`;
      if (e.code === 'CSV_INVALID_CLOSING_QUOTE') return `text after the closing quote of cell ${cell}`;
      return e.message;
    }
  };
  let next = 1; // the line after the previous record
  let emptySeen = 0;
  // on_record turns csv-parse's { record, raw } into CsvRecords, which its typing (records are what on_record gets) cannot say.
  const options: Options<CsvRecord, { record: string[]; raw: string }> = {
    ...base,
    bom: true,
    relax_quotes: true,
    raw: true,
    on_record: ({ record: cells, raw }, info) => {
      const line = next + info.empty_lines - emptySeen;
      emptySeen = info.empty_lines;
      next = line + breaksIn(cells) + 1;
      const rec: CsvRecord = { cells, line };
      const error = raw.indexOf(quote) === -1 ? undefined : strayQuote(raw);
      if (error !== undefined) rec.error = error;
      return rec;
    },
  };
  const parser = parse(options as unknown as Options);
  input.on('error', (err) => parser.destroy(err));
  input.pipe(parser);
  try {
    yield* parser as AsyncIterable<CsvRecord>;
  } catch (err) {
    if (err instanceof CsvError && err.code === 'CSV_QUOTE_NOT_CLOSED') {
      const line = next + (err as CsvError & { empty_lines: number }).empty_lines - emptySeen;
      throw new FileError(
        `${opts.source}: line ${line}: a quoted field starting on this line is never closed, so the rest of the file from line ${line} on could not be read; nothing was imported`,
      );
    }
    throw err;
  } finally {
    input.unpipe(parser);
  }
}
