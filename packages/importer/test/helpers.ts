import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ImportOptions, type ImportResult, importRows, type Mapping, parseMapping } from '../src/index';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const NOW = Date.parse('2026-06-30T23:59:59Z');

export function exampleMapping(name: string): Mapping {
  const file = path.join(REPO_ROOT, 'examples', 'import', `${name}.mapping.yaml`);
  return parseMapping(readFileSync(file, 'utf8'), file);
}

export function yamlMapping(text: string): Mapping {
  return parseMapping(text, 'test.mapping.yaml');
}

/** Lines of a simple delimited text (no quoting) as a header and rows numbered as in the file (header = line 1). */
export function splitCsv(
  text: string,
  delimiter = ',',
): { header: string[]; rows: Array<{ row: string[]; line: number }> } {
  const lines = text.split('\n');
  const header = lines[0]!.split(delimiter);
  const rows = lines
    .slice(1)
    .map((l, i) => ({ row: l.split(delimiter), line: i + 2 }))
    .filter((r) => r.row.join('') !== '');
  return { header, rows };
}

export function importCsv(
  mapping: Mapping,
  text: string,
  opts: Partial<ImportOptions> & { delimiter?: string } = {},
): ImportResult {
  const { header, rows } = splitCsv(text, opts.delimiter ?? mapping.csv.delimiter);
  return importRows(mapping.kind, mapping, rows, {
    source: opts.source ?? 'test.csv',
    now: opts.now ?? NOW,
    trackLines: opts.trackLines ?? true,
    header,
  });
}
