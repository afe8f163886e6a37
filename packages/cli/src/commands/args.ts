import { InvalidArgumentError } from 'commander';

/** Prints one line to stdout. */
export const print = (s: string) => process.stdout.write(`${s}\n`);
/** Prints a value as indented JSON. */
export const printJson = (v: unknown) => print(JSON.stringify(v, null, 2));

/** An ISO-8601 instant or epoch millis (argument parser; InvalidArgumentError otherwise). */
export function parseInstant(v: string): number {
  const t = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(t))
    throw new InvalidArgumentError(
      `expected an ISO-8601 instant (e.g. 1998-06-30T23:59:59.999Z) or epoch millis, got "${v}"`,
    );
  return t;
}

export function parsePositiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`expected a positive integer, got "${v}"`);
  return n;
}

export function collectParam(v: string, acc: Record<string, string>): Record<string, string> {
  const i = v.indexOf('=');
  if (i <= 0) throw new InvalidArgumentError(`expected --param name=value, got "${v}"`);
  acc[v.slice(0, i)] = v.slice(i + 1);
  return acc;
}
