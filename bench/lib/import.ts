/**
 * Bench phase `import`: `tierctl import` end to end on a generated 1,000,000-row invoice-line CSV (the shape of
 * examples/import/online-retail.sample.csv, read with the shipped online-retail mapping): stream + parse (csv-parse)
 * + convert (packages/importer) + sort + Avro-encode + produce to orders.v1. Measured, not pass/fail (goal ≥ 50,000
 * rows/s). It resets tierstream's data first (the bench owns the stack) so the orders land in empty topics.
 */
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bootstrapPipeline, importFile, REPO_ROOT, resetPipelineData } from '@tierstream/cli';
import { Rng } from '@tierstream/generator';
import { parseMapping } from '@tierstream/importer';
import type { BenchContext } from './phases';

export interface ImportBenchResult {
  rows: number;
  fileBytes: number;
  events: Record<string, number>;
  produced: Record<string, number>;
  rejected: number;
  /** Stream + parse + convert + sort. */
  readSeconds: number;
  /** Avro-encode + produce (acks=all, idempotent producer). */
  produceSeconds: number;
  /** rows / (read + produce): the import rate end to end. */
  rowsPerSec: number;
  /** rows / read alone. */
  parseRowsPerSec: number;
}

const MAPPING = path.join(REPO_ROOT, 'examples', 'import', 'online-retail.mapping.yaml');

/**
 * Writes `rows` invoice lines: invoices of 1–7 lines for 50,000 customers over a year (2010-12-01 … 2011-11-30,
 * Europe/London wall time), about 2 % credit invoices ("C" prefix, negative quantities) of an earlier invoice's
 * customer. Returns the row count written.
 */
export function writeInvoiceCsv(file: string, rows: number, seed = 20260630): number {
  const r = new Rng(seed);
  const rand = () => r.next();
  const fd = openSync(file, 'w');
  const start = Date.UTC(2010, 11, 1, 8);
  const span = 364 * 86_400_000;
  let buf = 'InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n';
  let written = 0;
  let invoice = 536_365;
  const recent: number[] = [];
  while (written < rows) {
    const credit = recent.length > 0 && rand() < 0.02;
    const customer = credit ? recent[Math.floor(rand() * recent.length)]! : 12_000 + Math.floor(rand() * 50_000);
    const t = new Date(start + Math.floor((written / rows) * span) + Math.floor(rand() * 3_600_000));
    const date = `${t.getUTCMonth() + 1}/${t.getUTCDate()}/${t.getUTCFullYear()} ${t.getUTCHours()}:${String(t.getUTCMinutes()).padStart(2, '0')}`;
    const lines = credit ? 1 : 1 + Math.floor(rand() * 7);
    const id = credit ? `C${invoice}` : String(invoice);
    invoice += 1;
    for (let l = 0; l < lines && written < rows; l++) {
      const qty = 1 + Math.floor(rand() * 24);
      const pence = 10 + Math.floor(rand() * 1_500);
      buf += `${id},${84_000 + Math.floor(rand() * 900)},ITEM,${credit ? -1 : qty},${date},${Math.floor(pence / 100)}.${String(pence % 100).padStart(2, '0')},${customer},United Kingdom\n`;
      written += 1;
    }
    if (!credit) {
      recent.push(customer);
      if (recent.length > 1_000) recent.shift();
    }
    if (buf.length > 1 << 20) {
      writeSync(fd, buf);
      buf = '';
    }
  }
  writeSync(fd, buf);
  closeSync(fd);
  return written;
}

export async function phaseImport(ctx: BenchContext, rows: number): Promise<ImportBenchResult> {
  const { clients } = ctx;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tierstream-import-bench-'));
  try {
    const file = path.join(dir, 'invoices.csv');
    const genStarted = Date.now();
    writeInvoiceCsv(file, rows);
    const fileBytes = statSync(file).size;
    ctx.log(
      `  wrote ${rows.toLocaleString('en')} rows (${(fileBytes / 2 ** 20).toFixed(0)} MB) in ${((Date.now() - genStarted) / 1000).toFixed(1)} s`,
    );
    ctx.log('  resetting tierstream data (the import lands in empty topics)');
    await resetPipelineData(clients);
    await bootstrapPipeline(clients);
    await clients.resetProducer();
    const producer = await clients.producer();
    await clients.serde.schemaIdOf('orders.v1');
    const mapping = parseMapping(readFileSync(MAPPING, 'utf8'), MAPPING);
    const started = Date.now();
    const result = await importFile({
      kind: 'orders',
      file,
      mapping,
      producer: { producer, serde: clients.serde },
    });
    const seconds = (Date.now() - started) / 1000;
    const rejected = result.rejects.length;
    const out: ImportBenchResult = {
      rows: result.summary.rowsRead,
      fileBytes,
      events: result.summary.events,
      produced: result.produced,
      rejected,
      readSeconds: result.seconds.read,
      produceSeconds: result.seconds.produce,
      rowsPerSec: result.summary.rowsRead / seconds,
      parseRowsPerSec: result.summary.rowsRead / result.seconds.read,
    };
    ctx.log(
      `  imported ${out.rows.toLocaleString('en')} rows → ${JSON.stringify(out.events)} (${rejected} rejected) in ${seconds.toFixed(1)} s = ${Math.round(out.rowsPerSec).toLocaleString('en')} rows/s (read+convert ${out.readSeconds.toFixed(1)} s, produce ${out.produceSeconds.toFixed(1)} s)`,
    );
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
