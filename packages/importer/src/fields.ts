import { MappingError } from './mapping';

/**
 * A row as a file parser hands it over: the cells of a CSV line (read by column position after `columns()`), or the
 * object of an NDJSON line (read by key; a dotted name such as `customer.id` reads a nested value).
 */
export type Row = readonly unknown[] | Readonly<Record<string, unknown>>;
export type Getter = (row: Row) => string;

/** A cell as trimmed text: absent, null and empty are "". Numbers and booleans as JSON writes them. */
export function text(v: unknown): string {
  if (typeof v === 'string') return v.trim();
  if (v === undefined || v === null) return '';
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
}

function byPath(row: Readonly<Record<string, unknown>>, name: string): unknown {
  if (name in row) return row[name];
  let v: unknown = row;
  for (const key of name.split('.')) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  return v;
}

/**
 * Getters for mapped columns. Without columns (NDJSON) a getter reads the key; with columns (CSV header) it reads
 * the cell at the column's position, and a mapped column missing from the header is a MappingError naming the setting
 * (as is a mapped column named more than once in the header).
 */
export class Columns {
  private index: Map<string, number> | null = null;

  constructor(private readonly source: string) {}

  /** The CSV header (or the mapping's csv.columns). */
  setHeader(names: readonly string[], wanted: Array<{ setting: string; column: string }>): void {
    this.index = new Map();
    const count = new Map<string, number>();
    names.forEach((n, i) => {
      const key = n.trim().replace(/^\uFEFF/, '');
      if (!this.index!.has(key)) this.index!.set(key, i);
      count.set(key, (count.get(key) ?? 0) + 1);
    });
    // A mapped column named twice in the header: which one is meant cannot be told (unmapped duplicates are harmless).
    const duplicated = [...new Set(wanted.map((w) => w.column))].filter((c) => (count.get(c) ?? 0) > 1);
    if (duplicated.length > 0)
      throw new MappingError(
        duplicated.map(
          (c) =>
            `${this.source}: column "${c}" appears ${count.get(c)} times in the file's header; the mapping uses it, so it must be unique`,
        ),
      );
    const missing = wanted.filter((w) => !this.index!.has(w.column));
    if (missing.length > 0)
      throw new MappingError(
        missing.map(
          (w) =>
            `${this.source}: ${w.setting}: column "${w.column}" is not in the file's header (${names.slice(0, 12).join(', ')}${names.length > 12 ? ', …' : ''})`,
        ),
      );
  }

  get hasHeader(): boolean {
    return this.index !== null;
  }

  getter(column: string): Getter {
    if (this.index === null)
      return (row) => text(Array.isArray(row) ? undefined : byPath(row as Record<string, unknown>, column));
    const i = this.index.get(column)!;
    return (row) => text(Array.isArray(row) ? row[i] : byPath(row as Record<string, unknown>, column));
  }
}
