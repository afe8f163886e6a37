import type { Attributes, Metrics } from './metrics';
import type { Condition } from './types';

/** Comparison semantics shared by metric and attribute conditions. A null/missing operand makes a comparison false. */
function compareNumbers(op: string, x: number, y: number): boolean {
  switch (op) {
    case 'gt':
      return x > y;
    case 'gte':
      return x >= y;
    case 'lt':
      return x < y;
    case 'lte':
      return x <= y;
    case 'eq':
      return x === y;
    case 'neq':
      return x !== y;
    default:
      return false;
  }
}

export function evalCondition(
  c: Condition,
  metrics: Metrics,
  attributes: Attributes | null | undefined,
  tiers: Record<string, string>,
): boolean {
  switch (c.type) {
    case 'all':
      return c.of.every((x) => evalCondition(x, metrics, attributes, tiers));
    case 'any':
      return c.of.some((x) => evalCondition(x, metrics, attributes, tiers));
    case 'not':
      return !evalCondition(c.of, metrics, attributes, tiers);
    case 'tier': {
      const t = tiers[c.dimension];
      return t !== undefined && c.in.includes(t);
    }
    case 'metric': {
      const v = metrics[c.metric] ?? null;
      if (c.op === 'is_null') return v === null;
      if (c.op === 'not_null') return v !== null;
      if (v === null) return false;
      if (c.op === 'between') return c.range !== null && v >= c.range[0] && v <= c.range[1];
      const rhs = c.ref !== null ? (metrics[c.ref] ?? null) : c.value;
      if (rhs === null) return false;
      return compareNumbers(c.op, v, rhs);
    }
    case 'attribute': {
      const v = attributes?.[c.attribute] ?? null;
      if (c.op === 'is_null') return v === null;
      if (c.op === 'not_null') return v !== null;
      if (v === null) return false;
      if (c.op === 'in') return (c.value as unknown[]).includes(v);
      if (c.op === 'not_in') return !(c.value as unknown[]).includes(v);
      if (c.op === 'eq') return v === c.value;
      if (c.op === 'neq') return v !== c.value;
      if (typeof v !== 'number') return false;
      if (c.op === 'between') {
        const [lo, hi] = c.value as [number, number];
        return v >= lo && v <= hi;
      }
      return compareNumbers(c.op, v, c.value as number);
    }
  }
}

/** Metric names a condition reads (left-hand sides and metric right-hand sides), in first-seen order. */
export function conditionMetrics(c: Condition | null, out: string[] = []): string[] {
  if (c === null) return out;
  const add = (m: string) => {
    if (!out.includes(m)) out.push(m);
  };
  switch (c.type) {
    case 'all':
    case 'any':
      for (const x of c.of) conditionMetrics(x, out);
      break;
    case 'not':
      conditionMetrics(c.of, out);
      break;
    case 'metric':
      add(c.metric);
      if (c.ref) add(c.ref);
      break;
    default:
      break;
  }
  return out;
}

export type MetricComparison = Extract<Condition, { type: 'metric' }>;

/** Every metric comparison inside a condition (for due-day computation). */
export function metricComparisons(c: Condition | null, out: MetricComparison[] = []): MetricComparison[] {
  if (c === null) return out;
  if (c.type === 'all' || c.type === 'any') for (const x of c.of) metricComparisons(x, out);
  else if (c.type === 'not') metricComparisons(c.of, out);
  else if (c.type === 'metric') out.push(c);
  return out;
}

const OP_TEXT: Record<string, string> = { gt: '>', gte: '≥', lt: '<', lte: '≤', eq: '=', neq: '≠' };

/**
 * A condition as one line for people (the console's rules tables): `orders_365d ≥ 4 and recency_days ≤ 60`,
 * `revenue_365d between 100 and 500`, `industry in [retail, food]`, `value_tier in [GOLD, PLATINUM]`,
 * `not (…)`. Nested groups are parenthesised; numbers are the rules file's (money in minor units).
 */
export function describeCondition(c: Condition, nested = false): string {
  const group = (parts: string[], word: string) => {
    const text = parts.join(` ${word} `);
    return nested && parts.length > 1 ? `(${text})` : text;
  };
  const list = (v: unknown) => (Array.isArray(v) ? `[${v.map(String).join(', ')}]` : JSON.stringify(v));
  switch (c.type) {
    case 'all':
      return group(
        c.of.map((x) => describeCondition(x, true)),
        'and',
      );
    case 'any':
      return group(
        c.of.map((x) => describeCondition(x, true)),
        'or',
      );
    case 'not':
      return `not (${describeCondition(c.of)})`;
    case 'tier':
      return `${c.dimension} in ${list(c.in)}`;
    case 'metric':
      if (c.op === 'is_null' || c.op === 'not_null') return `${c.metric} ${c.op === 'is_null' ? 'is' : 'is not'} null`;
      if (c.op === 'between') return `${c.metric} between ${c.range?.[0]} and ${c.range?.[1]}`;
      return `${c.metric} ${OP_TEXT[c.op] ?? c.op} ${c.ref ?? c.value}`;
    case 'attribute': {
      const a = c.attribute;
      if (c.op === 'is_null' || c.op === 'not_null') return `${a} ${c.op === 'is_null' ? 'is' : 'is not'} null`;
      if (c.op === 'in' || c.op === 'not_in') return `${a} ${c.op === 'in' ? 'in' : 'not in'} ${list(c.value)}`;
      if (c.op === 'between') {
        const [lo, hi] = c.value as [unknown, unknown];
        return `${a} between ${lo} and ${hi}`;
      }
      return `${a} ${OP_TEXT[c.op] ?? c.op} ${typeof c.value === 'string' ? c.value : JSON.stringify(c.value)}`;
    }
  }
}
