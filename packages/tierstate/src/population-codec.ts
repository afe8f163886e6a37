/**
 * The compact layout of a population cache entry (@tierstream/tiering population.ts `PopulationEntry`, handed to the
 * store as JSON) in its partition's hash, pure (docs/design-decisions.md §23):
 *
 *   1|<e>|<code of v>|<d>|<u>|<step>;<step>…   a step: its day, then one value per metric name, comma-separated
 *
 * Numbers base 36 (a minus sign for negatives), null as an empty string, `v` (a cut-point version) as a code of the
 * tier states' code table. An entry with a value that is not a safe integer stays JSON (a value starting with `{`);
 * both are read. Callers see JSON either way.
 */
import { parseBase36, UnknownCodeError } from './state-codec';

interface Entry {
  e: number;
  v: string;
  d: number | null;
  u: number | null;
  p: Array<Array<number | null>>;
}

const int = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x);
const intOrNull = (x: unknown): x is number | null => x === null || int(x);

/** The entry of `json` if this layout can hold it exactly, else null (it is then stored as JSON). */
export function populationEntryOf(json: string): Entry | null {
  let entry: unknown;
  try {
    entry = JSON.parse(json);
  } catch {
    return null;
  }
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return null;
  const { e, v, d, u, p, ...rest } = entry as Record<string, unknown>;
  if (Object.keys(rest).length > 0 || !int(e) || typeof v !== 'string' || !intOrNull(d) || !intOrNull(u)) return null;
  if (!Array.isArray(p)) return null;
  for (const step of p) {
    if (!Array.isArray(step) || step.length === 0 || !int(step[0]) || !step.every(intOrNull)) return null;
  }
  return { e, v, d, u, p } as Entry;
}

const n36 = (x: number | null) => (x === null ? '' : x.toString(36));

/** The compact value of an entry from `populationEntryOf`; `codeOf` gives the code of its `v`. */
export function encodePopulationEntry(entry: Entry, codeOf: (text: string) => number): string {
  const steps = entry.p.map((step) => step.map(n36).join(',')).join(';');
  return `1|${n36(entry.e)}|${codeOf(entry.v).toString(36)}|${n36(entry.d)}|${n36(entry.u)}|${steps}`;
}

/**
 * The JSON of a stored entry (either layout). `textOf` gives the string of a code; throws `UnknownCodeError` for a
 * code it does not know, and an Error for a malformed value.
 */
export function decodePopulationEntry(raw: string, textOf: (code: number) => string | undefined): string {
  if (raw.startsWith('{')) return raw;
  const parts = raw.split('|');
  if (parts.length !== 6 || parts[0] !== '1') throw new Error('population entry: unknown layout');
  const num = (s: string): number | null => (s === '' ? null : parseBase36(s, 'population entry'));
  const code = num(parts[2]!);
  const v = code === null ? undefined : textOf(code);
  if (v === undefined) throw new UnknownCodeError(code ?? -1);
  const entry: Entry = {
    e: num(parts[1]!)!,
    v,
    d: num(parts[3]!),
    u: num(parts[4]!),
    p: parts[5] === '' ? [] : parts[5]!.split(';').map((step) => step.split(',').map(num)),
  };
  return JSON.stringify(entry);
}
