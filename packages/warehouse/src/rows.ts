/**
 * Pure mapping from contract records to warehouse rows (JSONEachRow objects). Maps become sorted parallel arrays, so
 * the same record always gives byte-identical rows (re-inserts are true duplicates), and days are computed in UTC here
 * rather than with the server's time zone.
 */
import type { IdentityEvent, TierChange, TierCutPoints, TierTransition } from '@tierstream/contracts';
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
  /**
   * Hash of the aggregate configuration (fx rates) the metrics were computed with; left out when the record has none
   * (the column's default '' applies, and a table migrated before 0004 still takes the row).
   */
  aggregate_config?: string;
}

/** A tier_current row: the state, and the UTC day its metrics are as of (the evaluated day). */
export interface TierCurrentRow extends TierStateRow {
  metrics_day: string;
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
  aggregate_config?: string;
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
  aggregate_config?: string;
  /** Identity transitions: the other customer of the merge; left out otherwise (the column's default ''). */
  related_customer_id?: string;
}

/**
 * An identity_events row (migration 0006): an identity event as received (RECEIVED, rank 0) or as refused by the
 * identity graph (REJECTED with the dead letter's reason, rank 1: it replaces the first under FINAL).
 */
export interface IdentityEventRow {
  event_id: string;
  type: string;
  customer_id: string;
  anonymous_id: string;
  merged_customer_id: string;
  source: string;
  occurred_at: number;
  occurred_day: string;
  status: 'RECEIVED' | 'REJECTED';
  reason: string;
  status_rank: number;
  written_at: number;
}

/** A cutpoint_history row: one scoring key of one cut-point version. */
export interface CutPointRow {
  version: string;
  rules_version: string;
  cut_key: string;
  dimension: string;
  metric: string;
  better: string;
  groups: string[];
  cuts: number[];
  anchor_day: string | null;
  measured_day: string | null;
  effective_from: string;
  rules_seq: number | null;
  population: number | null;
  aggregate_config: string;
  computed_at: number;
  emitted_at: number;
}

/** An aggregate_configs row: the configuration behind a hash (rates in parallel arrays, sorted by currency). */
export interface AggregateConfigRow {
  aggregate_config: string;
  reporting_currency: string;
  fx_currencies: string[];
  fx_rates: number[];
  config_json: string;
  emitted_at: number;
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
  const row: TierStateRow = {
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
  if (typeof c.aggregate_config === 'string') row.aggregate_config = c.aggregate_config;
  return row;
}

/**
 * A record of the changes topic → tier_current: the state, and `metrics_day`, the day its metrics are as of (the
 * evaluated day: `snapshot_day` of a CHANGE or SNAPSHOT, else the UTC day of `as_of`).
 */
export function toCurrentRow(c: TierChange): TierCurrentRow {
  const row = toStateRow(c) as TierCurrentRow;
  row.metrics_day = isValidDay(c.snapshot_day) ? c.snapshot_day : utcDay(row.as_of);
  return row;
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
  const row: MetricHistoryRow = {
    customer_id: c.customer_id,
    basis_day: basis,
    valid_from: validFrom,
    metric_names: m.names,
    metric_values: m.values,
    as_of: epochMs(c.as_of, 'as_of', who),
    emitted_at: epochMs(c.emitted_at, 'emitted_at', who),
  };
  if (typeof c.aggregate_config === 'string') row.aggregate_config = c.aggregate_config;
  return row;
}

const DAY_MS = 86_400_000;

/**
 * A cut-point version → one cutpoint_history row per scoring key and the aggregate_configs row of its configuration.
 * `effective_from` is the record's (the first day the engine evaluates with the version), else the day after
 * `measured_day`, else 1970-01-01 (`initial`). Throws a WarehouseError for a record that cannot be written.
 */
export function toCutPointRows(cp: TierCutPoints): { cuts: CutPointRow[]; config: AggregateConfigRow } {
  const who = `cut points ${JSON.stringify(cp.version)}`;
  if (typeof cp.version !== 'string' || cp.version === '') throw new WarehouseError(`${who}: version is empty`);
  const measured = cp.measured_day ?? null;
  if (measured !== null && !isValidDay(measured)) {
    throw new WarehouseError(`${who}: measured_day must be a date 'YYYY-MM-DD', got ${JSON.stringify(measured)}`);
  }
  const from = cp.effective_from ?? null;
  if (from !== null && !isValidDay(from)) {
    throw new WarehouseError(`${who}: effective_from must be a date 'YYYY-MM-DD', got ${JSON.stringify(from)}`);
  }
  // Without effective_from: the day after measured_day (a scheduled version), 1970-01-01 for `initial`.
  const effectiveFrom =
    from ?? (measured === null ? '1970-01-01' : utcDay(Date.parse(`${measured}T00:00:00Z`) + DAY_MS));
  const emittedAt = epochMs(cp.emitted_at, 'emitted_at', who);
  const cuts = cp.cuts.map((set): CutPointRow => {
    if (set.values.some((v) => !Number.isFinite(v))) {
      throw new WarehouseError(`${who}: cuts of ${set.key} must be finite numbers, got ${JSON.stringify(set.values)}`);
    }
    if (set.anchor_day !== null && !isValidDay(set.anchor_day)) {
      throw new WarehouseError(
        `${who}: anchor_day of ${set.key} must be a date, got ${JSON.stringify(set.anchor_day)}`,
      );
    }
    return {
      version: cp.version,
      rules_version: cp.rules_version,
      cut_key: set.key,
      dimension: set.dimension,
      metric: set.metric,
      better: set.better,
      groups: set.groups,
      cuts: set.values,
      anchor_day: set.anchor_day,
      measured_day: measured,
      effective_from: effectiveFrom,
      rules_seq: cp.rules_seq ?? null,
      population: cp.population === null ? null : epochMs(cp.population, 'population', who),
      aggregate_config: cp.aggregate_config,
      computed_at: epochMs(cp.computed_at, 'computed_at', who),
      emitted_at: emittedAt,
    };
  });
  const rates = metricArrays(cp.fx_rates);
  return {
    cuts,
    config: {
      aggregate_config: cp.aggregate_config,
      reporting_currency: cp.reporting_currency,
      fx_currencies: rates.names,
      fx_rates: rates.values,
      config_json: cp.aggregate_config_json,
      emitted_at: emittedAt,
    },
  };
}

/** The tables the writer fills, and a mapped row for each. */
export type RoutedRow =
  | { table: 'tier_current'; row: TierCurrentRow }
  | { table: 'cutpoint_history'; row: CutPointRow }
  | { table: 'aggregate_configs'; row: AggregateConfigRow }
  | { table: 'tier_snapshots'; row: TierSnapshotRow }
  | { table: 'tier_history'; row: TierHistoryRow }
  | { table: 'metric_history'; row: MetricHistoryRow }
  | { table: 'tier_transitions'; row: TierTransitionRow }
  | { table: 'identity_events'; row: IdentityEventRow };

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
  return { table: 'tier_current', row: toCurrentRow(c) };
}

/** A record of the cut-points topic → its cutpoint_history rows and its aggregate_configs row. */
export function routeCutPointsRecord(cp: TierCutPoints): RoutedRow[] {
  const { cuts, config } = toCutPointRows(cp);
  return [
    { table: 'aggregate_configs', row: config },
    ...cuts.map((row) => ({ table: 'cutpoint_history' as const, row })),
  ];
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
  const row: TierTransitionRow = {
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
  if (typeof t.aggregate_config === 'string') row.aggregate_config = t.aggregate_config;
  if (typeof t.related_customer_id === 'string') row.related_customer_id = t.related_customer_id;
  return row;
}

/**
 * A record of identities.v1 (rejected: of identities.v1.dlq, with the dead letter's reason) → identity_events.
 * Throws a WarehouseError for a record that cannot be written. `writtenAt`: epoch ms of the write.
 */
export function routeIdentityRecord(
  e: IdentityEvent,
  rejected: { reason: string } | null,
  writtenAt: number,
): RoutedRow {
  const who = `identity event ${e.event_id}`;
  if (typeof e.event_id !== 'string' || e.event_id === '') throw new WarehouseError(`${who}: event_id is empty`);
  const occurredAt = epochMs(e.occurred_at, 'occurred_at', who);
  return {
    table: 'identity_events',
    row: {
      event_id: e.event_id,
      type: e.type,
      customer_id: e.customer_id,
      anonymous_id: e.anonymous_id ?? '',
      merged_customer_id: e.merged_customer_id ?? '',
      source: e.source ?? '',
      occurred_at: occurredAt,
      occurred_day: utcDay(occurredAt),
      status: rejected ? 'REJECTED' : 'RECEIVED',
      reason: rejected?.reason ?? '',
      status_rank: rejected ? 1 : 0,
      written_at: writtenAt,
    },
  };
}
