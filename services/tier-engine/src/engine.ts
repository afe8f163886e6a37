import {
  type AggregateConfig,
  type AggregateState,
  type AggregateStore,
  AggregateTimeline,
  metricsAt,
} from '@tierstream/aggregates';
import type { AvroSerde, TierChange, TierTransition } from '@tierstream/contracts';
import type { OutgoingRecord, RecordProducer } from '@tierstream/kafka';
import type { ServiceMetrics } from '@tierstream/observability';
import {
  type Attributes,
  type CutPoints,
  computeCutPoints,
  evaluateTiers,
  type Metrics,
  nextDueDay,
  type Rules,
  type TierState,
} from '@tierstream/tiering';
import { dayOf, endOfDay, isoDay, type TierStateStore } from '@tierstream/tierstate';
import type { Logger } from 'pino';

/** Metrics copied into tier-change and snapshot rows (the warehouse columns analysts use). */
export const ROW_METRICS = [
  'revenue_lifetime',
  'revenue_365d',
  'revenue_90d',
  'margin_365d',
  'orders_lifetime',
  'orders_365d',
  'aov_lifetime',
  'recency_days',
  'tenure_days',
  'first_order_at',
  'last_order_at',
  'engagement_score',
  'complaints_90d',
  'escalations_90d',
  'csat_avg_90d',
  'open_tickets',
] as const;

/** Without events, how many candidate days the engine looks ahead in memory before it schedules a Redis wake-up. */
const MAX_SKIP_AHEAD = 64;

export interface EngineDeps {
  aggregates: AggregateStore;
  aggregateConfig: AggregateConfig;
  tierState: TierStateStore;
  producer: RecordProducer;
  serde: AvroSerde;
  topics: { transitions: string; changes: string; snapshots: string };
  logger: Logger;
  metrics?: ServiceMetrics;
  snapshotsEnabled: boolean;
  cutPointsEveryDays: number;
  numPartitions: number;
  wallClock?: () => number;
}

export interface EvaluationRequest {
  customerId: string;
  /** Day the evaluation is as of (raised to the customer's last evaluated day: no time travel). */
  day: number;
  /** Instant stamped on transitions (end of `day` for day-close evaluations, the wall time for live signals). */
  at: number;
  /** The due score this evaluation consumes, or null for a signal-driven (live) evaluation. */
  processedDueAt: number | null;
  touch: string;
  rulesChanged?: boolean;
}

/** First day a cut-point version applies to: the day after the day it was computed at the close of. */
export function effectiveFrom(cutPoints: CutPoints): number {
  return cutPoints.version.startsWith('cp-') ? dayOf(cutPoints.computed_at) + 1 : Number.NEGATIVE_INFINITY;
}

/**
 * The first day this customer has any activity in its aggregates; -Infinity when old activity was already folded
 * out of the day buckets (the customer certainly existed), null when there is none.
 */
export function firstActivityDay(agg: AggregateState, timeline: AggregateTimeline): number | null {
  if (
    agg.orderBase.count !== 0 ||
    agg.orderBase.lastPlacedAt !== null ||
    agg.webBaseLastSeenAt !== null ||
    agg.ticketBase.lastTicketAt !== null
  ) {
    return Number.NEGATIVE_INFINITY;
  }
  return timeline.firstEventDayAfter(Number.NEGATIVE_INFINITY);
}

export function projectMetrics(metrics: Metrics): Record<string, number> {
  const out: Record<string, number> = {};
  for (const name of ROW_METRICS) {
    const v = metrics[name];
    if (v !== null && v !== undefined && Number.isFinite(v)) out[name] = v;
  }
  return out;
}

/**
 * The tier engine's core: evaluates customers with the pure tiering package over aggregates read from Redis,
 * produces transitions and tier changes, then stores the new state and the next due instant (outputs first:
 * a crash in between re-produces the same transitions, with the same ids, which consumers drop).
 */
export class TierEngine {
  rules: Rules;
  /** Every cut-point version known, by the first day it applies to (ascending). */
  private cutPointsHistory: CutPoints[] = [];
  private readonly wallClock: () => number;

  constructor(
    private readonly deps: EngineDeps,
    rules: Rules,
    cutPoints: CutPoints,
  ) {
    this.rules = rules;
    this.cutPoints = cutPoints;
    this.wallClock = deps.wallClock ?? Date.now;
  }

  /** The newest cut points. */
  get cutPoints(): CutPoints {
    return this.cutPointsHistory[this.cutPointsHistory.length - 1]!;
  }

  /** Adds a cut-point version; older versions stay, for partitions that are still evaluating earlier days. */
  set cutPoints(cutPoints: CutPoints) {
    if (this.cutPointsHistory.some((c) => c.version === cutPoints.version)) return;
    this.cutPointsHistory.push(cutPoints);
    this.cutPointsHistory.sort((a, b) => effectiveFrom(a) - effectiveFrom(b));
  }

  /**
   * The cut points in force for an evaluation as of `day`: the newest computed at the close of a day before it.
   * Partitions close days independently (a taken-over partition may still be a few days behind the others), so the
   * choice depends on the evaluated day, not on what was computed last.
   */
  cutPointsFor(day: number): CutPoints {
    let chosen = this.cutPointsHistory[0]!;
    for (const c of this.cutPointsHistory) if (effectiveFrom(c) <= day) chosen = c;
    return chosen;
  }

  /** Evaluates customers of one signal partition; returns the number of transitions produced. */
  async evaluate(partition: number, requests: EvaluationRequest[]): Promise<number> {
    if (requests.length === 0) return 0;
    const ids = [...new Set(requests.map((r) => r.customerId))];
    const [aggs, states, attrs] = await Promise.all([
      this.deps.aggregates.readMany(ids, { idempotence: false }),
      this.deps.tierState.readStates(ids),
      this.deps.tierState.readAttributes(ids),
    ]);
    const transitions: TierTransition[] = [];
    const changes: TierChange[] = [];
    const commits: Parameters<TierStateStore['commit']>[1] = [];
    const evaluatedAt = this.wallClock();
    for (const req of requests) {
      const agg = aggs.get(req.customerId);
      const previous = states.get(req.customerId) ?? null;
      // Built per evaluation from the state just read: it never outlives the read (no stale metrics).
      const timeline = agg ? new AggregateTimeline(agg, this.deps.aggregateConfig) : null;
      const firstDay = agg && timeline ? firstActivityDay(agg, timeline) : null;
      const day = Math.max(req.day, previous?.last_eval_day ?? Number.NEGATIVE_INFINITY);
      if (!timeline || firstDay === null || firstDay > day) {
        // Nothing aggregated yet, or the customer's first activity is after this day (a replay's aggregator runs
        // ahead of the clock): the customer does not exist as of `day`. Wake it at its first day instead.
        const nextDueAt = firstDay === null ? null : endOfDay(firstDay);
        commits.push({
          customerId: req.customerId,
          state: previous,
          processedDueAt: req.processedDueAt,
          touch: req.touch,
          nextDueAt,
        });
        continue;
      }
      const at = day === req.day ? req.at : endOfDay(day);
      const attributes = attrs.get(req.customerId) ?? null;
      const metrics = timeline.metricsAt(endOfDay(day));
      const result = evaluateTiers({
        rules: this.rules,
        cutPoints: this.cutPointsFor(day),
        customerId: req.customerId,
        metrics,
        attributes,
        previous,
        day,
        at,
        rulesChanged: req.rulesChanged ?? false,
      });
      for (const t of result.transitions) {
        transitions.push({ ...t, evaluated_at: evaluatedAt });
        this.deps.metrics?.transitions.inc({ dimension: t.dimension, direction: t.direction });
      }
      if (!previous || result.state.version !== previous.version) {
        changes.push(this.changeRow(result.state, metrics, 'CHANGE', null, at, evaluatedAt));
      }
      commits.push({
        customerId: req.customerId,
        state: result.state,
        processedDueAt: req.processedDueAt,
        touch: req.touch,
        nextDueAt: this.nextDueAt(timeline, result.state, day, attributes),
      });
    }
    await this.produce(transitions, changes, []);
    await this.deps.tierState.commit(partition, commits);
    return transitions.length;
  }

  /**
   * The next instant at which this customer's tiers could change without new input: the earliest of the next day
   * with already-applied (later) events and the pure engine's next due day. Candidate days on which an in-memory
   * evaluation shows no change are skipped, so Redis only wakes the customer when something happens.
   */
  nextDueAt(timeline: AggregateTimeline, state: TierState, day: number, attributes: Attributes | null): number | null {
    const nextEvent = timeline.firstEventDayAfter(day);
    // Memoised per day by the timeline: the searches below ask for the same days again and again.
    const metricsAtDay = (d: number) => timeline.metricsAt(endOfDay(d));
    let from = day;
    let probe = state;
    for (let i = 0; i < MAX_SKIP_AHEAD; i++) {
      const candidate = nextDueDay({
        rules: this.rules,
        cutPoints: this.cutPointsFor(from),
        state: probe,
        fromDay: from,
        metricsAtDay,
        rollOffDays: timeline.rollOffDays(from),
        eventDays: nextEvent === null ? [] : [nextEvent],
        attributes,
      });
      if (candidate === null) return nextEvent === null ? null : endOfDay(nextEvent);
      if (nextEvent !== null && nextEvent <= candidate) return endOfDay(nextEvent);
      const trial = evaluateTiers({
        rules: this.rules,
        cutPoints: this.cutPointsFor(candidate),
        customerId: state.customer_id,
        metrics: metricsAtDay(candidate),
        attributes,
        previous: probe,
        day: candidate,
        at: endOfDay(candidate),
      });
      if (trial.transitions.length > 0 || JSON.stringify(trial.state.pending) !== JSON.stringify(probe.pending)) {
        return endOfDay(candidate);
      }
      probe = trial.state;
      from = candidate;
    }
    return endOfDay(from);
  }

  changeRow(
    state: TierState,
    metrics: Metrics,
    kind: 'CHANGE' | 'SNAPSHOT',
    snapshotDay: string | null,
    asOf: number,
    emittedAt: number,
  ): TierChange {
    return {
      customer_id: state.customer_id,
      kind,
      state_version: state.version,
      snapshot_day: snapshotDay,
      tiers: state.tiers,
      metrics: projectMetrics(metrics),
      rules_version: state.rules_version,
      cutpoints_version: state.cutpoints_version,
      as_of: asOf,
      emitted_at: emittedAt,
    };
  }

  /**
   * The daily snapshot of one partition as of `day`: every customer that exists by then, with tiers from its state
   * and metrics recomputed as of the day (exact even if later events are already applied).
   * Returns the population metrics when cut points are due to be recomputed from this day.
   */
  async snapshot(
    partition: number,
    day: number,
    collectPopulation: boolean,
  ): Promise<{ rows: number; population: Metrics[] }> {
    const population: Metrics[] = [];
    let rows = 0;
    // Nothing to emit and nothing to collect: skip reading every customer of the partition.
    if (!this.deps.snapshotsEnabled && !collectPopulation) return { rows, population };
    const emittedAt = this.wallClock();
    for await (const ids of this.deps.tierState.customers(partition, 1000)) {
      const [aggs, states] = await Promise.all([
        this.deps.aggregates.readMany(ids, { idempotence: false }),
        this.deps.tierState.readStates(ids),
      ]);
      const out: TierChange[] = [];
      for (const id of ids) {
        const state = states.get(id);
        const agg = aggs.get(id);
        if (!state || !agg || state.last_eval_day > day) continue;
        const metrics = metricsAt(agg, endOfDay(day), this.deps.aggregateConfig);
        if (collectPopulation) population.push(metrics);
        if (this.deps.snapshotsEnabled)
          out.push(this.changeRow(state, metrics, 'SNAPSHOT', isoDay(day), endOfDay(day), emittedAt));
      }
      await this.produce([], [], out);
      rows += out.length;
    }
    return { rows, population };
  }

  recomputeCutPoints(population: Metrics[], day: number): CutPoints {
    return computeCutPoints(this.rules, population, `cp-${isoDay(day)}`, endOfDay(day));
  }

  private async produce(transitions: TierTransition[], changes: TierChange[], snapshots: TierChange[]): Promise<void> {
    const encode = async (topic: string, rows: Array<TierTransition | TierChange>): Promise<OutgoingRecord[]> =>
      Promise.all(rows.map(async (row) => ({ key: row.customer_id, value: await this.deps.serde.encode(topic, row) })));
    const { topics } = this.deps;
    const batches = [
      { topic: topics.transitions, records: await encode(topics.transitions, transitions) },
      { topic: topics.changes, records: await encode(topics.changes, changes) },
      { topic: topics.snapshots, records: await encode(topics.snapshots, snapshots) },
    ].filter((b) => b.records.length > 0);
    if (batches.length === 0) return;
    await this.deps.producer.sendMany(batches);
    for (const b of batches) this.deps.metrics?.recordsOut.inc({ topic: b.topic }, b.records.length);
  }
}
