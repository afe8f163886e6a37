import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { type AggregateConfig, AggregateStore, type Metrics, metricsAt, RETENTION_DAYS } from '@tierstream/aggregates';
import {
  type ClvModel,
  clvModelFor,
  clvPredictions,
  parseRules,
  type Rules,
  type TierState,
} from '@tierstream/tiering';
import { ClvModelStore, dayOf, isoDay, TierStateStore } from '@tierstream/tierstate';
import { QUERIES_DIR, runNamedQuery } from '@tierstream/warehouse';
import type { Clients } from '../clients';
import { REPO_ROOT } from '../supervisor';

const DAY_MS = 86_400_000;

/** A demotion held by grace: the tier the customer goes to if the candidate holds until `until_day` (ISO days). */
export interface PendingDemotion {
  tier: string;
  since_day: string;
  /** since_day + the dimension's grace_days: the day the demotion applies if it still holds; null: rules unknown. */
  until_day: string | null;
}

/**
 * One customer's tiers and metrics on one instant, as `tierctl customer` (and the console) shows them.
 * - current (no as-of): tiers, decided_by and pending from the live tier state in Redis; metrics as of `as_of` (now).
 * - as of an instant: tiers from ClickHouse `tier_history` (the row with the greatest valid_from ≤ the day); metrics
 *   of the same day, from the Redis aggregates when they are exact on that day, else from `metric_history`.
 */
export interface CustomerView {
  customer_id: string;
  /** The instant asked for (ISO-8601) and its UTC day. */
  as_of: string;
  day: string;
  tiers: Record<string, string> | null;
  /** 'tier_state' (Redis, current) or 'tier_history' (ClickHouse); tiers null: `note` says why. */
  tiers_source: 'tier_state' | 'tier_history';
  /** The day the shown tiers took effect (history) or were last evaluated (current); null without tiers. */
  tiers_from: string | null;
  decided_by: Record<string, string> | null;
  metrics: Metrics | null;
  metrics_source: 'aggregates' | 'metric_history' | null;
  /** Demotions held by grace per dimension; null when not known for that day (history keeps no pending state). */
  pending: Record<string, PendingDemotion> | null;
  /** Why something is missing, in a reader's words (no history row on that day, ...). */
  notes: string[];
  /** The raw tier state (current view only). */
  tier_state: TierState | null;
}

/**
 * Metrics with the CLV predictions (p_alive, expected_*, clv_365d) under the model in force on `day` (the newest
 * fitted at the close of an earlier day; null predictions without one). Pure.
 */
export function withClv(metrics: Metrics, models: readonly ClvModel[], day: number): Metrics {
  return { ...metrics, ...clvPredictions(clvModelFor(models, day), metrics) };
}

/** The customer was found nowhere: no aggregates in Redis and no history in ClickHouse. */
export class UnknownCustomerError extends Error {
  constructor(customerId: string, prefix: string, where: string) {
    super(`customer ${customerId} has no aggregates (prefix ${prefix}) and ${where}`);
    this.name = 'UnknownCustomerError';
  }
}

/**
 * Pending demotions of a tier state as ISO days; `until_day` = since_day + grace_days of the dimension in `rules`
 * (null when `rules` is null or does not have the dimension). Pure.
 */
export function pendingDemotions(state: TierState, rules: Rules | null): Record<string, PendingDemotion> {
  const out: Record<string, PendingDemotion> = {};
  for (const [dimension, p] of Object.entries(state.pending ?? {})) {
    const grace = rules?.dimensions.find((d) => d.id === dimension)?.grace_days;
    out[dimension] = {
      tier: p.tier,
      since_day: isoDay(p.since_day),
      until_day: grace === undefined ? null : isoDay(p.since_day + grace),
    };
  }
  return out;
}

/** Rows of the SQL pack's customer_on_day query (kind 'tier' or 'metric'). */
export interface CustomerOnDayRow {
  kind: string;
  name: string;
  value: string;
  valid_from: string;
  basis_day: string;
}

/**
 * Splits customer_on_day rows into tiers (with the day they took effect) and metrics (numbers; recency_days derived
 * from last_order_at on `day`, the only way it is exact on a day without its own row — infra/clickhouse/README.md).
 * Pure.
 */
export function fromHistoryRows(
  rows: readonly CustomerOnDayRow[],
  day: number,
): {
  tiers: Record<string, string> | null;
  tiersFrom: string | null;
  metrics: Metrics | null;
} {
  const tierRows = rows.filter((r) => r.kind === 'tier');
  const metricRows = rows.filter((r) => r.kind === 'metric');
  const tiers = tierRows.length > 0 ? Object.fromEntries(tierRows.map((r) => [r.name, r.value])) : null;
  let metrics: Metrics | null = null;
  if (metricRows.length > 0) {
    metrics = Object.fromEntries(metricRows.map((r) => [r.name, Number(r.value)]));
    const last = metrics.last_order_at;
    if (typeof last === 'number' && Number.isFinite(last) && 'recency_days' in metrics)
      metrics.recency_days = day - Math.floor(last / DAY_MS);
  }
  return { tiers, tiersFrom: tierRows[0] ? String(tierRows[0].valid_from).slice(0, 10) : null, metrics };
}

/**
 * The rules of version `version`: the active rules in Redis (`tierctl rules apply`), else the newest applied text of
 * that version in the rules history (a state evaluated before a later apply), else the file the engine starts with
 * (`file`: RULES_FILE, default rules/default.yaml); null when none has that version.
 */
async function rulesOfVersion(tierState: TierStateStore, version: string, file: string): Promise<Rules | null> {
  const active = await tierState.getActiveRules();
  if (active?.version === version) return parseRules(active.text, 'active rules');
  const applied = await tierState.rules.byVersion(version);
  if (applied) return parseRules(applied.text, `rules ${version} (apply ${applied.seq})`);
  const resolved = [file, path.join(REPO_ROOT, file)].find((f) => existsSync(f));
  if (!resolved) return null;
  try {
    const rules = parseRules(readFileSync(resolved, 'utf8'), resolved);
    return rules.version === version ? rules : null;
  } catch {
    return null;
  }
}

/**
 * The note for a view of `day` past what the tier engine has decided (`frontier`: its last closed day in replay, today
 * live; null when no partition closed a day): the tiers shown are the last known, not evaluated for `day`, while the
 * metrics are computed for it, so the two can disagree (revenue rolled off, a tier still high). Null when `day` is
 * not past the frontier. Pure; days are epoch days.
 */
export function beyondEngineNote(day: number, frontier: number | null): string | null {
  if (frontier === null)
    return 'the tier engine has not closed any day yet: the tiers shown may not be evaluated for this day';
  if (day <= frontier) return null;
  return (
    `${isoDay(day)} is after the last day the tier engine has decided (${isoDay(frontier)}): the tiers are the last ` +
    `known ones, not evaluated for ${isoDay(day)}, while the metrics are computed for ${isoDay(day)}`
  );
}

/** Partition metas looked at for the engine's last closed day (Redis only: the view must not need Kafka). */
const MAX_ENGINE_PARTITIONS = 256;

/** The last day the engine has decided: today in live mode, else the greatest closed day of its partitions. */
async function engineFrontier(clients: Clients, tierState: TierStateStore, now: number): Promise<number | null> {
  if (((await tierState.rules.clockMode()) ?? 'live') === 'live') return dayOf(now);
  const closed = await Promise.all(
    Array.from({ length: MAX_ENGINE_PARTITIONS }, (_, p) =>
      clients.redis.hget(tierState.keys.partitionMeta(p), 'closed_day'),
    ),
  );
  const days = closed.filter((d): d is string => d !== null).map(Number);
  return days.length === 0 ? null : Math.max(...days);
}

/** How long a CustomerViewCache keeps the parsed rules of one version. */
const RULES_CACHE_MS = 600_000;

/**
 * Reads of the customer view that change rarely — the CLV model history, the rules of a version, the tier engine's last
 * decided day — kept for `ttlMs` (default 1 s; the rules of a version, immutable, 10 min) so a server answering
 * hundreds of views a second reads and parses them once per interval instead of per view. A view may then lag a CLV fit
 * or a closed day by up to ttlMs.
 */
export class CustomerViewCache {
  private readonly entries = new Map<string, { until: number; value: Promise<unknown> }>();

  constructor(
    readonly ttlMs = 1_000,
    private readonly clock: () => number = Date.now,
  ) {}

  /**
   * The value under `key`, loaded by `load` when missing or older than its ttl (`ttlMs`, default the cache's); a
   * failed load is not kept.
   */
  get<T>(key: string, load: () => Promise<T>, ttlMs = this.ttlMs): Promise<T> {
    const now = this.clock();
    const hit = this.entries.get(key);
    if (hit && hit.until > now) return hit.value as Promise<T>;
    const value = load();
    this.entries.set(key, { until: now + ttlMs, value });
    value.catch(() => {
      if (this.entries.get(key)?.value === value) this.entries.delete(key);
    });
    return value;
  }
}

/**
 * The customer view (see CustomerView). `asOf` undefined: current tiers and metrics as of now. Throws
 * UnknownCustomerError when neither Redis nor the warehouse knows the customer; warehouse errors propagate.
 */
export async function customerView(
  clients: Clients,
  customerId: string,
  opts: {
    asOf?: number;
    aggregateConfig: AggregateConfig;
    rulesFile: string;
    now?: number;
    /** Keeps the reads that rarely change between calls (a server answering many views); default none. */
    cache?: CustomerViewCache;
  },
): Promise<CustomerView> {
  const tierState = new TierStateStore(clients.redis, clients.redisPrefix);
  const store = new AggregateStore(clients.redis, { prefix: clients.redisPrefix, config: opts.aggregateConfig });
  const cached = <T>(key: string, load: () => Promise<T>, ttlMs?: number): Promise<T> =>
    opts.cache ? opts.cache.get(`${clients.redisPrefix}|${key}`, load, ttlMs) : load();
  const [aggregates, states, clvModels] = await Promise.all([
    store.readState(customerId),
    tierState.readStates([customerId]),
    // The CLV predictions (issue 15) under the model in force on the day, beside the metrics they come from.
    cached('clv', () => new ClvModelStore(clients.redis, clients.redisPrefix).history()),
  ]);
  const state = states.get(customerId) ?? null;
  const asOf = opts.asOf ?? opts.now ?? Date.now();
  const day = dayOf(asOf);
  const notes: string[] = [];
  const rules = state
    ? await cached(
        `rules:${state.rules_version}`,
        () => rulesOfVersion(tierState, state.rules_version, opts.rulesFile),
        // A version's text does not change once applied, and parsing it blocks for milliseconds: keep it longer.
        RULES_CACHE_MS,
      )
    : null;
  const now = opts.now ?? Date.now();
  const beyond = beyondEngineNote(
    day,
    await cached(`frontier:${dayOf(now)}`, () => engineFrontier(clients, tierState, now)),
  );
  if (beyond && (state || aggregates)) notes.push(beyond);
  if (state && Object.keys(state.pending ?? {}).length > 0 && !rules)
    notes.push(`rules version ${state.rules_version} not found: pending until_day unknown`);

  if (opts.asOf === undefined) {
    if (!aggregates && !state) throw new UnknownCustomerError(customerId, clients.redisPrefix, 'no tier state');
    if (!state) notes.push('no tiers yet (the tier engine has not evaluated this customer)');
    return {
      customer_id: customerId,
      as_of: new Date(asOf).toISOString(),
      day: isoDay(day),
      tiers: state?.tiers ?? null,
      tiers_source: 'tier_state',
      tiers_from: state ? isoDay(state.last_eval_day) : null,
      decided_by: state?.decided_by ?? null,
      metrics: aggregates ? withClv(metricsAt(aggregates, asOf, opts.aggregateConfig), clvModels, day) : null,
      metrics_source: aggregates ? 'aggregates' : null,
      pending: state ? pendingDemotions(state, rules) : null,
      notes,
      tier_state: state,
    };
  }

  const { rows } = await runNamedQuery(clients.clickhouse, {
    dir: QUERIES_DIR,
    name: 'customer_on_day',
    params: { customer_id: customerId, day: isoDay(day) },
    database: clients.endpoints.clickhouseDatabase,
    format: 'json',
  });
  const history = fromHistoryRows(rows as unknown as CustomerOnDayRow[], day);
  if (!history.tiers) notes.push(`no tier_history row for ${customerId} on or before ${isoDay(day)}`);
  // The Redis aggregates give exact metrics back to (last event day − (RETENTION_DAYS − 365)) (metricsAt).
  const exactFrom =
    aggregates?.maxEventAt != null ? dayOf(aggregates.maxEventAt) - (RETENTION_DAYS - 365) : Number.NEGATIVE_INFINITY;
  let metrics: Metrics | null = null;
  let metricsSource: CustomerView['metrics_source'] = null;
  if (aggregates && day >= exactFrom) {
    metrics = withClv(metricsAt(aggregates, asOf, opts.aggregateConfig), clvModels, day);
    metricsSource = 'aggregates';
  } else if (history.metrics) {
    metrics = history.metrics;
    metricsSource = 'metric_history';
  } else notes.push(`no metric_history row for ${customerId} on or before ${isoDay(day)}`);
  if (!aggregates && !state && !history.tiers && !history.metrics)
    throw new UnknownCustomerError(customerId, clients.redisPrefix, `no history on or before ${isoDay(day)}`);
  // The live state is the state on `day` when its last evaluation is on or before it and history agrees on the tiers.
  const liveHolds =
    state !== null &&
    state.last_eval_day <= day &&
    history.tiers !== null &&
    Object.entries(state.tiers).every(([d, t]) => history.tiers?.[d] === t);
  if (!liveHolds) notes.push('pending demotions are known for the current state only (history keeps none)');
  return {
    customer_id: customerId,
    as_of: new Date(asOf).toISOString(),
    day: isoDay(day),
    tiers: history.tiers,
    tiers_source: 'tier_history',
    tiers_from: history.tiersFrom,
    decided_by: null,
    metrics,
    metrics_source: metricsSource,
    pending: liveHolds && state ? pendingDemotions(state, rules) : null,
    notes,
    tier_state: null,
  };
}
