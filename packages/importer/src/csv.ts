/**
 * A streaming CSV reader (RFC 4180 quoting) that numbers records by the physical line where they start (header =
 * line 1), for LF, CRLF and quoted fields with embedded newlines alike. A leading UTF-8 byte-order mark is dropped,
 * empty lines are skipped. A quote inside an unquoted field or text after a closing quote makes the record
 * malformed (it is still returned, with `error`); a quoted field that is never closed is a FileError, because the
 * rest of the file cannot be told apart from the field.
 */

/** The file cannot be read past some point: nothing of it should be imported. */
export class FileError extends Error {}

export interface CsvRecord {
  cells: string[];
  /** The physical line (1-based) where the record starts. */
  line: number;
  /** Why the record is malformed (quoting); undefined when it parsed cleanly. */
  error?: string;
}

export class CsvReader {
  private line = 1;
  private afterCR = false;
  private first = true;
  private cells: string[] = [];
  private field = '';
  /** outside: at the start or in an unquoted field; quoted: inside quotes; closing: a quote seen inside quotes. */
  private state: 'outside' | 'quoted' | 'closing' = 'outside';
  private fieldStarted = false;
  private recordLine = 1;
  private recordStarted = false;
  private quoteLine = 0;
  private error: string | undefined;

  constructor(
    private readonly source: string,
    private readonly delimiter = ',',
    private readonly quote = '"',
  ) {}

  /** Feeds a chunk of text; returns the records completed by it. */
  push(chunk: string): CsvRecord[] {
    const out: CsvRecord[] = [];
    let i = 0;
    if (this.first && chunk.length > 0) {
      this.first = false;
      if (chunk.charCodeAt(0) === 0xfeff) i = 1;
    }
    const { delimiter, quote } = this;
    for (; i < chunk.length; i++) {
      const ch = chunk[i]!;
      const cr = this.afterCR;
      this.afterCR = false;
      if (ch === '\n' && cr) {
        // The LF of a CRLF: the line was counted at the CR.
        if (this.state === 'quoted') this.field += ch;
        continue;
      }
      if (!this.recordStarted) {
        if (ch === '\n' || ch === '\r') {
          // An empty line.
          this.line += 1;
          if (ch === '\r') this.afterCR = true;
          continue;
        }
        this.recordStarted = true;
        this.recordLine = this.line;
      }
      if (this.state === 'quoted') {
        if (ch === quote) this.state = 'closing';
        else {
          this.field += ch;
          if (ch === '\n' || ch === '\r') {
            this.line += 1;
            if (ch === '\r') this.afterCR = true;
          }
        }
        continue;
      }
      if (this.state === 'closing') {
        if (ch === quote) {
          this.field += quote;
          this.state = 'quoted';
          continue;
        }
        this.state = 'outside';
        if (ch !== delimiter && ch !== '\n' && ch !== '\r') {
          this.error ??= `text after the closing quote of cell ${this.cells.length + 1}`;
          this.field += ch;
          continue;
        }
      }
      if (ch === delimiter) {
        this.cells.push(this.field);
        this.field = '';
        this.fieldStarted = false;
      } else if (ch === '\n' || ch === '\r') {
        this.line += 1;
        if (ch === '\r') this.afterCR = true;
        out.push(this.endRecord());
      } else if (ch === quote && !this.fieldStarted) {
        this.state = 'quoted';
        this.fieldStarted = true;
        this.quoteLine = this.line;
      } else {
        if (ch === quote) this.error ??= `a quote inside the unquoted cell ${this.cells.length + 1}`;
        this.field += ch;
        this.fieldStarted = true;
      }
    }
    return out;
  }

  /** Ends the input: the last record (if any). Throws FileError when a quoted field is still open. */
  end(): CsvRecord[] {
    if (this.state === 'quoted')
      throw new FileError(
        `${this.source}: line ${this.quoteLine}: a quoted field starting on this line is never closed, so the rest of the file from line ${this.quoteLine} on could not be read; nothing was imported`,
      );
    this.state = 'outside';
    return this.recordStarted ? [this.endRecord()] : [];
  }

  private endRecord(): CsvRecord {
    this.cells.push(this.field);
    const rec: CsvRecord = { cells: this.cells, line: this.recordLine };
    if (this.error !== undefined) rec.error = this.error;
    this.cells = [];
    this.field = '';
    this.fieldStarted = false;
    this.recordStarted = false;
    this.error = undefined;
    return rec;
  }
}

/** All records of a text at once (tests and small inputs). */
export function readCsv(text: string, source = 'input.csv', delimiter = ',', quote = '"'): CsvRecord[] {
  const reader = new CsvReader(source, delimiter, quote);
  return [...reader.push(text), ...reader.end()];
}
