/**
 * Query-string validation of the console's JSON routes: zod schemas for days, dimensions, tiers and limits, and
 * `parseQuery`, which turns the first problem into a 400 naming the parameter (`from: expected a day YYYY-MM-DD, got
 * "yesterday"`).
 */
import { z } from 'zod';
import { daysBetween } from '../tier-views';
import { HttpError } from '../types';

const DAY_RE = /^(\d{4})-(\d{2})-(\d{2})$/;

function isCalendarDay(s: string): boolean {
  const m = DAY_RE.exec(s);
  if (!m) return false;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return d.toISOString().slice(0, 10) === s && s >= '1970-01-01' && s <= '2105-12-31';
}

/** A UTC day 'YYYY-MM-DD' between 1970-01-01 and 2105-12-31 (the range of ClickHouse's Date). */
export const day = z.string().refine(isCalendarDay, {
  error: (issue) => `expected a day YYYY-MM-DD between 1970-01-01 and 2105-12-31, got ${JSON.stringify(issue.input)}`,
});

/**
 * A dimension id as the rules file allows it (packages/tiering: letters, digits and _, starting with a letter; upper
 * case too), at most 128 characters.
 */
export const dimension = z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,127}$/, {
  error: 'expected a dimension id (letters, digits, underscore, starting with a letter)',
});

/** A tier name (a rules identifier; at most 128 characters), or `(none)`. */
export const tier = z
  .string()
  .regex(/^(?:\(none\)|[A-Za-z0-9_][A-Za-z0-9_.:-]{0,127})$/, { error: 'expected a tier name or (none)' });

/** A metric name (revenue_365d, revenue_lifetime, ...). */
export const metric = z
  .string()
  .regex(/^[a-z][a-z0-9_]{0,63}$/, { error: 'expected a metric name (lower case letters, digits, underscore)' });

/** An integer from `min` to `max` given as a query-string value, `fallback` when absent. */
export function intParam(fallback: number, min: number, max: number) {
  return z.coerce
    .number({ error: 'expected an integer' })
    .int({ error: 'expected an integer' })
    .min(min, { error: `expected at least ${min}` })
    .max(max, { error: `expected at most ${max}` })
    .default(fallback);
}

/** The longest date range a chart or list accepts (about ten years of days). */
export const MAX_RANGE_DAYS = 3660;

/** The query string parsed by `schema`; HttpError 400 naming the first bad parameter. */
export function parseQuery<S extends z.ZodType>(schema: S, query: unknown): z.output<S> {
  const given = (query ?? {}) as Record<string, unknown>;
  // A repeated parameter (?from=a&from=b) arrives as an array: say so, rather than a type error.
  for (const [name, value] of Object.entries(given))
    if (Array.isArray(value)) throw new HttpError(400, `${name}: expected one value, got ${value.length}`);
  const r = schema.safeParse(given);
  if (r.success) return r.data;
  const issue = r.error.issues[0] as z.core.$ZodIssue;
  const name = issue.path.length > 0 ? issue.path.join('.') : 'query';
  // zod does not report the input by default: look at the query itself to tell "missing" from "wrong".
  const missing = issue.path.length > 0 && given[String(issue.path[0])] === undefined;
  const message =
    issue.code === 'invalid_type' && missing
      ? 'is required'
      : issue.code === 'invalid_type' && /number/.test(issue.expected)
        ? 'expected an integer'
        : issue.message.replace(/^Invalid /, '');
  throw new HttpError(400, `${name}: ${message}`);
}

/** `from`..`to` must be in order and at most MAX_RANGE_DAYS long; HttpError 400 otherwise. */
export function checkRange(from: string, to: string): void {
  const n = daysBetween(from, to);
  if (n < 0) throw new HttpError(400, `from: ${from} is after to (${to})`);
  if (n + 1 > MAX_RANGE_DAYS)
    throw new HttpError(400, `to: the range ${from}..${to} has ${n + 1} days; at most ${MAX_RANGE_DAYS}`);
}

/** `dimension` must be one the console knows; HttpError 400 listing the known ones. */
export function checkDimension(id: string, known: ReadonlyArray<{ id: string }>): void {
  if (!known.some((d) => d.id === id))
    throw new HttpError(
      400,
      `dimension: unknown dimension '${id}' (known: ${known.map((d) => d.id).join(', ') || 'none'})`,
    );
}
