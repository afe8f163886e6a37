/**
 * Pure mapping from contract records to warehouse rows (JSONEachRow objects). Maps become sorted parallel arrays, so
 * the same record always gives byte-identical rows (re-inserts are true duplicates), and days are computed in UTC here
 * rather than with the server's time zone.
 */
import type { TierChange, TierTransition } from '@tierstream/contracts';
import { WarehouseError } from './errors';

export interface TierStateRow {
  customer_id: string;
  state_version: number;
  dims: string[];
  tiers: string[];
  metric_names: string[];
  metric_values: number[];
  rules_version: string;
  cutpoints_version: string;
  as_of: number;
  emitted_at: number;
}

export interface TierSnapshotRow extends TierStateRow {
  snapshot_day: string;
}

/** A tier_history row: the tier state from `valid_from` (the CHANGE's snapshot_day) until the customer's next row. */
export interface TierHistoryRow extends TierStateRow {
  valid_from: string;
}

/** A metric_history row: a point of a customer's metric path (a METRICS record). */
export interface MetricHistoryRow {
  customer_id: string;
  basis_day: string;
  valid_from: string;
  metric_names: string[];
  metric_values: number[];
  as_of: number;
  emitted_at: number;
}

export interface TierTransitionRow {
  occurred_day: string;
  transition_id: string;
  customer_id: string;
  dimension: string;
  from_tier: string | null;
  to_tier: string;
  direction: string;
  reason: string;
  rule_id: string;
  rules_version: string;
  cutpoints_version: string;
  metric_names: string[];
  metric_values: number[];
  occurred_at: number;
  evaluated_at: number;
}

function epochMs(value: number, field: string, who: string): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new WarehouseError(`${who}: ${field} must be a non-negative integer (epoch ms / version), got ${value}`);
  }
  return value;
}

/** Keys in code-unit order; producers usually send the same key order, so check before sorting (hot path). */
function sortedKeys(map: Record<string, unknown>): string[] {
  const keys = Object.keys(map);
  for (let i = 1; i < keys.length; i++) {
    if ((keys[i - 1] as string) > (keys[i] as string)) return keys.sort();
  }
  return keys;
}

/** Non-finite metric values (NaN, ±Infinity) cannot be written as JSON; they are dropped and reported. */
export function metricArrays(metrics: Record<string, number>): {
  names: string[];
  values: number[];
  dropped: string[];
} {
  const names: string[] = [];
  const values: number[] = [];
  const dropped: string[] = [];
  for (const name of sortedKeys(metrics)) {
    const value = metrics[name];
    if (typeof value === 'number' && Number.isFinite(value)) {
      names.push(name);
      values.push(value as number);
    } else {
      dropped.push(name);
    }
  }
  return { names, values, dropped };
}

export function utcDay(epochMillis: number): string {
  return new Date(epochMillis).toISOString().slice(0, 10);
}

const DAY_RE = /^\d{4}-\d{2}-\d{2}$/;

export function toStateRow(c: TierChange): TierStateRow {
  const who = `tier change of customer ${c.customer_id}`;
  if (typeof c.customer_id !== 'string' || c.customer_id === '')
    throw new WarehouseError(`${who}: customer_id is empty`);
  const dims = sortedKeys(c.tiers);
  const m = metricArrays(c.metrics);
  return {
    customer_id: c.customer_id,
    state_version: epochMs(c.state_version, 'state_version', who),
    dims,
    tiers: dims.map((d) => c.tiers[d] as string),
    metric_names: m.names,
    metric_values: m.values,
    rules_version: c.rules_version,
    cutpoints_version: c.cutpoints_version,
    as_of: epochMs(c.as_of, 'as_of', who),
    emitted_at: epochMs(c.emitted_at, 'emitted_at', who),
  };
}

/** Days already checked (a snapshot batch has one or two distinct days; parsing each row's day is measurable). */
const validDays = new Set<string>();

function isValidDay(day: string | null): day is string {
  if (day === null) return false;
  if (validDays.has(day)) return true;
  const ok =
    DAY_RE.test(day) && !Number.isNaN(Date.parse(`${day}T00:00:00Z`)) && utcDay(Date.parse(`${day}T00:00:00Z`)) === day;
  if (ok) {
    if (validDays.size > 10_000) validDays.clear();
    validDays.add(day);
  }
  return ok;
}

export function toSnapshotRow(c: TierChange): TierSnapshotRow {
  if (c.kind !== 'SNAPSHOT')
    throw new WarehouseError(`snapshot of customer ${c.customer_id}: kind must be SNAPSHOT, got ${c.kind}`);
  const day = c.snapshot_day;
  if (!isValidDay(day)) {
    throw new WarehouseError(
      `snapshot of customer ${c.customer_id}: snapshot_day must be a date 'YYYY-MM-DD', got ${JSON.stringify(day)}`,
    );
  }
  // snapshot_day first: the column order of the table (cosmetic, JSONEachRow matches by name).
  return Object.assign({ snapshot_day: day }, toStateRow(c));
}

function dayField(c: TierChange, field: 'snapshot_day' | 'basis_day', who: string): string {
  const day = c[field] ?? null;
  if (!isValidDay(day)) {
    throw new WarehouseError(`${who}: ${field} must be a date 'YYYY-MM-DD', got ${JSON.stringify(day)}`);
  }
  return day;
}

/** A CHANGE copy on the history topic → tier_history (valid from its snapshot_day). */
export function toHistoryRow(c: TierChange): TierHistoryRow {
  const who = `tier change of customer ${c.customer_id}`;
  if (c.kind !== 'CHANGE') throw new WarehouseError(`${who}: kind must be CHANGE for tier_history, got ${c.kind}`);
  const day = dayField(c, 'snapshot_day', who);
  return Object.assign({ valid_from: day }, toStateRow(c));
}

/** A METRICS record → metric_history. basis_day ≤ snapshot_day (the row's valid_from); tiers are ignored. */
export function toMetricHistoryRow(c: TierChange): MetricHistoryRow {
  const who = `metrics of customer ${c.customer_id}`;
  if (c.kind !== 'METRICS') throw new WarehouseError(`${who}: kind must be METRICS, got ${c.kind}`);
  if (typeof c.customer_id !== 'string' || c.customer_id === '')
    throw new WarehouseError(`${who}: customer_id is empty`);
  const validFrom = dayField(c, 'snapshot_day', who);
  const basis = dayField(c, 'basis_day', who);
  if (basis > validFrom) {
    throw new WarehouseError(
      `${who}: basis_day ${basis} is after snapshot_day ${validFrom} (a path starts on its basis day)`,
    );
  }
  const m = metricArrays(c.metrics);
  return {
    customer_id: c.customer_id,
    basis_day: basis,
    valid_from: validFrom,
    metric_names: m.names,
    metric_values: m.values,
    as_of: epochMs(c.as_of, 'as_of', who),
    emitted_at: epochMs(c.emitted_at, 'emitted_at', who),
  };
}

/** The tables the writer fills, and a mapped row for each. */
export type RoutedRow =
  | { table: 'tier_current'; row: TierStateRow }
  | { table: 'tier_snapshots'; row: TierSnapshotRow }
  | { table: 'tier_history'; row: TierHistoryRow }
  | { table: 'metric_history'; row: MetricHistoryRow }
  | { table: 'tier_transitions'; row: TierTransitionRow };

export type WarehouseTable = RoutedRow['table'];

/**
 * A record of the history topic (customer-tier-snapshots.v1), by kind: CHANGE → tier_history, METRICS →
 * metric_history, SNAPSHOT → tier_snapshots. Throws a WarehouseError for a record that cannot be written.
 */
export function routeHistoryRecord(c: TierChange): RoutedRow {
  switch (c.kind) {
    case 'CHANGE':
      return { table: 'tier_history', row: toHistoryRow(c) };
    case 'METRICS':
      return { table: 'metric_history', row: toMetricHistoryRow(c) };
    case 'SNAPSHOT':
      return { table: 'tier_snapshots', row: toSnapshotRow(c) };
    default:
      throw new WarehouseError(
        `record of customer ${c.customer_id}: unknown kind ${JSON.stringify((c as { kind: unknown }).kind)}`,
      );
  }
}

/** A record of the changes topic → tier_current. A METRICS record (no tiers) there is refused, not written. */
export function routeChangeRecord(c: TierChange): RoutedRow {
  if (c.kind === 'METRICS') {
    throw new WarehouseError(`tier change of customer ${c.customer_id}: kind METRICS is not a tier state`);
  }
  return { table: 'tier_current', row: toStateRow(c) };
}

export function routeTransitionRecord(t: TierTransition): RoutedRow {
  return { table: 'tier_transitions', row: toTransitionRow(t) };
}

export function toTransitionRow(t: TierTransition): TierTransitionRow {
  const who = `transition ${t.transition_id}`;
  if (typeof t.transition_id !== 'string' || t.transition_id === '')
    throw new WarehouseError(`${who}: transition_id is empty`);
  const m = metricArrays(t.metrics);
  const occurredAt = epochMs(t.occurred_at, 'occurred_at', who);
  return {
    occurred_day: utcDay(occurredAt),
    transition_id: t.transition_id,
    customer_id: t.customer_id,
    dimension: t.dimension,
    from_tier: t.from_tier,
    to_tier: t.to_tier,
    direction: t.direction,
    reason: t.reason,
    rule_id: t.rule_id,
    rules_version: t.rules_version,
    cutpoints_version: t.cutpoints_version,
    metric_names: m.names,
    metric_values: m.values,
    occurred_at: occurredAt,
    evaluated_at: epochMs(t.evaluated_at, 'evaluated_at', who),
  };
}
