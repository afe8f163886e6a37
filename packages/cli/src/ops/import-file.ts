import { createReadStream, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { AvroSerde, InputTopicNames } from '@tierstream/contracts';
import {
  Importer,
  type ImportKind,
  type ImportSummary,
  type Mapping,
  MappingError,
  type Reject,
} from '@tierstream/importer';
import type { RecordProducer } from '@tierstream/kafka';
import { feedEvents } from '../feed';
import { readCsvRecords } from './csv-records';

/** Progress of an import: bytes read while parsing, then events produced. */
export type ImportProgress =
  | { phase: 'read'; bytes: number; totalBytes: number; rows: number }
  | { phase: 'produce'; sent: number; total: number };

export interface ImportFileOptions {
  kind: ImportKind;
  file: string;
  mapping: Mapping;
  /** Reference instant for the future-time check (epoch ms); default now. */
  now?: number;
  /** Produce here; without a producer nothing is sent (a dry run). */
  producer?: { producer: RecordProducer; serde: AvroSerde; topics?: InputTopicNames };
  onProgress?: (p: ImportProgress) => void;
}

export interface ImportFileResult {
  file: string;
  format: 'csv' | 'ndjson';
  summary: ImportSummary;
  /** Records produced per topic (empty in a dry run). */
  produced: Record<string, number>;
  rejects: Reject[];
  /** Earliest and latest event time (ISO), null without events. */
  from: string | null;
  to: string | null;
  seconds: { read: number; produce: number };
}

/** The format a file is read as: the mapping's `format`, else its extension. Throws MappingError when neither says. */
export function formatOf(file: string, mapping: Mapping): 'csv' | 'ndjson' {
  if (mapping.format) return mapping.format;
  const ext = path.extname(file).toLowerCase();
  if (['.csv', '.tsv', '.txt'].includes(ext)) return 'csv';
  if (['.ndjson', '.jsonl', '.json'].includes(ext)) return 'ndjson';
  throw new MappingError([`format: ${path.basename(file)} has no .csv/.ndjson extension: set format: csv | ndjson`]);
}

/**
 * Reads an export (streaming), converts its rows with the mapping (packages/importer), sorts the events by event
 * time and produces them (Avro, keyed by customer). Throws MappingError for a mapping that does not fit the file
 * (a mapped column missing from the header or duplicated in it) and FileError for a file that cannot be read to
 * its end (a quoted field never closed): then nothing is produced. Bad rows are rejects, not errors.
 */
export async function importFile(opts: ImportFileOptions): Promise<ImportFileResult> {
  const { file, mapping } = opts;
  const format = formatOf(file, mapping);
  const totalBytes = statSync(file).size;
  const importer = new Importer(opts.kind, mapping, { source: file, now: opts.now ?? Date.now() });
  const started = Date.now();
  const input = createReadStream(file, { highWaterMark: 1 << 20 });
  let rows = 0;
  const report = () => opts.onProgress?.({ phase: 'read', bytes: input.bytesRead, totalBytes, rows });
  if (format === 'csv') {
    const csv = mapping.csv;
    let width = 0;
    let headerPending = csv.header;
    if (!csv.header) {
      importer.setHeader(csv.columns!);
      width = csv.columns!.length;
    }
    for await (const rec of readCsvRecords(input, { source: file, delimiter: csv.delimiter, quote: csv.quote })) {
      if (headerPending) {
        headerPending = false;
        importer.setHeader(rec.cells);
        width = rec.cells.length;
        continue;
      }
      rows += 1;
      // A row the parser could not read whole still names its order when the order id cell is readable.
      if (rec.error !== undefined) importer.reject(rec.line, 'MALFORMED_ROW', rec.error, rec.cells);
      else if (rec.cells.length !== width)
        importer.reject(rec.line, 'MALFORMED_ROW', `expected ${width} cells, got ${rec.cells.length}`, rec.cells);
      else importer.add(rec.cells, rec.line);
      if ((rows & 0xffff) === 0) report();
    }
  } else {
    let line = 0;
    for await (const raw of createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY })) {
      line += 1;
      // A UTF-8 byte-order mark before the first line is not part of the JSON.
      const text = line === 1 ? raw.replace(/^\uFEFF/, '') : raw;
      if (text.trim() === '') continue;
      rows += 1;
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (err) {
        importer.reject(line, 'MALFORMED_ROW', `not JSON: ${(err as Error).message}`);
        continue;
      }
      if (value === null || typeof value !== 'object' || Array.isArray(value))
        importer.reject(line, 'MALFORMED_ROW', 'not a JSON object');
      else importer.add(value as Record<string, unknown>, line);
      if ((rows & 0xffff) === 0) report();
    }
  }
  report();
  const result = importer.finish();
  const readSeconds = (Date.now() - started) / 1000;
  const events = result.events;
  let produced: Record<string, number> = {};
  const produceStarted = Date.now();
  if (opts.producer && events.length > 0) {
    const progress = await feedEvents(opts.producer.producer, opts.producer.serde, events, {
      batchSize: 5_000,
      topics: opts.producer.topics,
      onProgress: (p) => opts.onProgress?.({ phase: 'produce', sent: p.sent, total: events.length }),
    });
    produced = progress.byTopic;
  }
  return {
    file,
    format,
    summary: result.summary,
    produced,
    rejects: result.rejects,
    from: events.length > 0 ? new Date(events[0]!.event.occurred_at).toISOString() : null,
    to: events.length > 0 ? new Date(events.at(-1)!.event.occurred_at).toISOString() : null,
    seconds: { read: readSeconds, produce: (Date.now() - produceStarted) / 1000 },
  };
}

const csvCell = (s: string) => (/[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);

/** The reject file: CSV `line,reason,message`, one row per rejected row, in line order. */
export function writeRejectFile(target: string, rejects: readonly Reject[]): void {
  const out = ['line,reason,message'];
  for (const r of rejects) out.push(`${r.line},${r.reason},${csvCell(r.message)}`);
  writeFileSync(target, `${out.join('\n')}\n`);
}
