import {
  type AggregateConfig,
  type AggregateStore,
  AggregateTimeline,
  aggregateConfigIdentity,
  firstActivityDay,
  type IdentityRecord,
  metricsAt,
} from '@tierstream/aggregates';
import type { AvroSerde, TierChange, TierCutPoints, TierTransition } from '@tierstream/contracts';
import type { OutgoingRecord, RecordProducer } from '@tierstream/kafka';
import type { ServiceMetrics } from '@tierstream/observability';
import {
  type Attributes,
  CLV_PREDICTION_METRICS,
  type CutPoints,
  compareCutPoints,
  computeCutPoints,
  cutMetricNames,
  cutPointsInForce,
  evaluateTiers,
  finalMergedState,
  inheritedState,
  type Metrics,
  mergedTransitions,
  metricDrift,
  nextDueDay,
  populationCacheSupported,
  populationEntry,
  type Rules,
  ruleMetricNames,
  sameRecord,
  type TierState,
  unannouncedMerges,
} from '@tierstream/tiering';
import { type CommitItem, dayOf, endOfDay, isoDay, type TierStateStore } from '@tierstream/tierstate';
import type { Logger } from 'pino';
import type { ClvModels } from './clv';
import { CutPointPublisher } from './cutpoint-publisher';
import { type IdentityReader, identityFacts, statesToInherit } from './identity';
import { chunkBatches, projectMetrics, ROW_METRICS, rowMetricNames, SEND_CHUNK_BYTES } from './rows';

/** Without events, how many candidate days the engine looks ahead in memory before it schedules a Redis wake-up. */
const MAX_SKIP_AHEAD = 64;

export interface EngineDeps {
  aggregates: AggregateStore;
  aggregateConfig: AggregateConfig;
  tierState: TierStateStore;
  producer: RecordProducer;
  serde: AvroSerde;
  /** `cutpoints`: where each cut-point version is published for the warehouse (cutpoint_history). */
  topics: { transitions: string; changes: string; snapshots: string; cutpoints: string };
  logger: Logger;
  metrics?: ServiceMetrics;
  cutPointsEveryDays: number;
  numPartitions: number;
  wallClock?: () => number;
  /** The CLV model versions (issue 15): the predictions of rules that use them come from the model in force. */
  clv?: ClvModels;
  /** The identity graph (design-decisions §22): merged customers end with MERGED_INTO, survivors announce MERGED. */
  identity?: IdentityReader;
  /** Which of these customers are erased and suppressed (docs/security.md "Erasure"): they are not evaluated. */
  suppressed?: (customerIds: string[]) => Promise<Set<string>>;
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
  /** Re-evaluated because cut points moved (counted: rechecks that changed the tier state). */
  recheck?: boolean;
}

/**
 * The tier engine's core: evaluates customers with the pure tiering package over aggregates read from Redis,
 * produces transitions and tier changes, then stores the new state and the next due instant (outputs first:
 * a crash in between re-produces the same transitions, with the same ids, which consumers drop).
 */
export class TierEngine {
  private currentRules!: Rules;
  /** Metrics the cut points are computed from, cached per customer; null when they cannot be (see population.ts). */
  populationNames: string[] | null = null;
  /** Whether any condition tests a customer attribute (else the attributes are not read). */
  private usesAttributes = true;
  /** Whether the rules read a CLV prediction (p_alive, expected_*, clv_365d): then metrics carry them. */
  private usesClv = false;
  /** Metrics with the CLV predictions, per timeline (one per evaluation) and day. */
  private readonly predicted = new WeakMap<AggregateTimeline, Map<number, Metrics>>();
  /** Whether a customer's metric path must include web roll-off days (a cut metric is a web window count). */
  private pathWithWeb = false;
  /** Every cut-point version known, in `compareCutPoints` order (measured day, then rules changes by apply). */
  private cutPointsHistory: CutPoints[] = [];
  private readonly wallClock: () => number;
  /** Metrics stored in the rows (ROW_METRICS and those the rules read), and those of them that only step. */
  private rowMetrics: readonly string[] = ROW_METRICS;
  private stepRowMetrics: readonly string[] = [];
  /** Hash of the aggregate configuration, on every row (the warehouse's aggregate_configs holds the rates). */
  private readonly aggregateConfig: { hash: string; json: string };
  /** Sends each cut-point version to the warehouse once. */
  private readonly publisher: CutPointPublisher;

  constructor(
    private readonly deps: EngineDeps,
    rules: Rules,
    cutPoints: CutPoints,
  ) {
    this.aggregateConfig = aggregateConfigIdentity(deps.aggregateConfig);
    this.rules = rules;
    this.cutPoints = cutPoints;
    this.wallClock = deps.wallClock ?? Date.now;
    this.publisher = new CutPointPublisher(
      { ...deps, topic: deps.topics.cutpoints },
      this.aggregateConfig,
      this.wallClock,
    );
  }

  get rules(): Rules {
    return this.currentRules;
  }

  set rules(rules: Rules) {
    this.currentRules = rules;
    this.usesAttributes = JSON.stringify(rules).includes('"type":"attribute"');
    const read = new Set(ruleMetricNames(rules));
    this.usesClv = CLV_PREDICTION_METRICS.some((n) => read.has(n));
    const names = cutMetricNames(rules);
    this.populationNames = populationCacheSupported(names) ? names : null;
    this.rowMetrics = rowMetricNames(rules);
    this.stepRowMetrics = this.rowMetrics.filter((m) => metricDrift(m) === 'const');
    this.pathWithWeb = [...names, ...this.rowMetrics].some((n) => n.startsWith('web_'));
  }

  /** A stored cut-point version by name, if this engine knows it. */
  cutPointsByVersion(version: string): CutPoints | undefined {
    return this.cutPointsHistory.find((c) => c.version === version);
  }

  /** The newest cut points. */
  get cutPoints(): CutPoints {
    return this.cutPointsHistory[this.cutPointsHistory.length - 1]!;
  }

  /** Adds a cut-point version; older versions stay, for partitions that are still evaluating earlier days. */
  set cutPoints(cutPoints: CutPoints) {
    if (this.cutPointsHistory.some((c) => c.version === cutPoints.version)) return;
    this.cutPointsHistory.push(cutPoints);
    this.cutPointsHistory.sort(compareCutPoints);
  }

  /**
   * The cut points in force for an evaluation as of `day`: the newest computed at the close of a day before it, or a
   * rules change's in force from that day (tiering's `cutPointsInForce`). Partitions close days independently (a
   * taken-over partition may still be a few days behind the others), so the choice depends on the evaluated day, not
   * on what was computed last.
   */
  cutPointsFor(day: number): CutPoints {
    // Binary search: while the population is young or changing there is a version per day (schedule.ts).
    return cutPointsInForce(this.cutPointsHistory, day);
  }

  /** Evaluates customers of one signal partition; returns the number of transitions produced. */
  async evaluate(partition: number, requests: EvaluationRequest[]): Promise<number> {
    if (requests.length === 0) return 0;
    const ids = [...new Set(requests.map((r) => r.customerId))];
    // One round trip for all reads: the suppression check beside them (a suppressed customer's reads are not used).
    const [suppressed, aggs, states, attrs, identities] = await Promise.all([
      this.deps.suppressed ? this.deps.suppressed(ids) : null,
      this.deps.aggregates.readMany(ids, { idempotence: false }),
      this.deps.tierState.readStates(ids),
      this.usesAttributes ? this.deps.tierState.readAttributes(ids) : new Map<string, Attributes>(),
      this.deps.identity ? this.deps.identity.readMany(ids) : new Map<string, IdentityRecord>(),
    ]);
    const inheritable = await statesToInherit(this.deps.tierState, states, identities);
    const transitions: TierTransition[] = [];
    const changes: TierChange[] = [];
    /** METRICS points for the snapshots topic (which also gets a copy of the changes that moved a tier). */
    const history: TierChange[] = [];
    /** Per change row: did the tiers change (else only a pending demotion started or ended)? */
    const tiersMoved: boolean[] = [];
    const commits: CommitItem[] = [];
    const evaluatedAt = this.wallClock();
    /** Cut-point versions used here that this process has not published yet (their warehouse rows come first). */
    const unpublished = new Set<CutPoints>();
    for (const req of requests) {
      if (suppressed?.has(req.customerId)) {
        // Erased and suppressed: nothing is evaluated, stored or emitted; a due entry (work in flight) is consumed.
        const { customerId, processedDueAt, touch } = req;
        commits.push({ customerId, state: null, processedDueAt, touch, nextDueAt: null });
        continue;
      }
      const agg = aggs.get(req.customerId);
      const previous = states.get(req.customerId) ?? null;
      // Built per evaluation from the state just read: it never outlives the read (no stale metrics).
      const timeline = agg ? new AggregateTimeline(agg, this.deps.aggregateConfig) : null;
      const firstDay = agg && timeline ? firstActivityDay(agg, timeline) : null;
      const day = Math.max(req.day, previous?.last_eval_day ?? Number.NEGATIVE_INFINITY);
      const facts = identityFacts(identities.get(req.customerId));
      if (facts?.mergedInto) {
        // Merged into another customer (design-decisions §22): its state ends once, it is never evaluated again.
        const at = day === req.day ? req.at : endOfDay(day);
        const cutpointsVersion = this.cutPointsFor(day).version;
        const ctx = { customerId: req.customerId, at, day, rulesVersion: this.rules.version, cutpointsVersion };
        const end = finalMergedState(ctx, previous, { ...facts, mergedInto: facts.mergedInto });
        for (const t of end.transitions) transitions.push({ ...t, evaluated_at: evaluatedAt });
        if (end.changed) {
          changes.push(this.changeRow(end.state, {}, 'CHANGE', isoDay(day), at, evaluatedAt));
          tiersMoved.push(true);
        }
        commits.push({
          customerId: req.customerId,
          state: end.state,
          processedDueAt: req.processedDueAt,
          touch: req.touch,
          nextDueAt: null,
        });
        continue;
      }
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
      const metrics = this.metricsOn(timeline, day);
      const cutPoints = this.cutPointsFor(day);
      if (!this.publisher.isPublished(cutPoints)) unpublished.add(cutPoints);
      // Merges into this customer not announced yet: one MERGED each; without a state of its own it starts from the
      // merged customer's tiers (no second ENTER of a tier the person already had).
      const fresh = unannouncedMerges(previous, facts);
      const result = evaluateTiers({
        rules: this.rules,
        cutPoints,
        customerId: req.customerId,
        metrics,
        attributes,
        previous: previous ?? (fresh.length > 0 ? inheritedState(req.customerId, fresh, inheritable) : null),
        day,
        at,
        rulesChanged: req.rulesChanged ?? false,
      });
      if (previous?.merges || fresh.length > 0) {
        result.state.merges = [...(previous?.merges ?? []), ...fresh.map((m) => m.mergeId)];
        const ctx = {
          customerId: req.customerId,
          at,
          rulesVersion: this.rules.version,
          cutpointsVersion: cutPoints.version,
        };
        result.transitions.unshift(...mergedTransitions(ctx, fresh));
      }
      for (const t of result.transitions) {
        transitions.push({ ...t, evaluated_at: evaluatedAt, aggregate_config: this.aggregateConfig.hash });
        this.deps.metrics?.transitions.inc({ dimension: t.dimension, direction: t.direction });
      }
      const changed = !previous || result.state.version !== previous.version;
      if (changed) {
        changes.push(this.changeRow(result.state, metrics, 'CHANGE', isoDay(day), at, evaluatedAt));
        tiersMoved.push(!previous || !sameRecord(previous.tiers, result.state.tiers));
      }
      if (req.recheck && (changed || result.transitions.length > 0)) this.deps.metrics?.cutpointRecheckChanges.inc();
      const nextDueAt = this.nextDueAt(timeline, result.state, day, attributes);
      // The metric path from this day, as a segment: every day a window metric changes without an event, up to the
      // next evaluation already known (the next event applied, or the next due day), where the next segment starts.
      // Segments tile the timeline, so each roll-off is written once; the segment's first row only where the day
      // itself moved the metrics (new events, a roll-off) or for a new customer.
      const until = timeline.firstEventDayAfter(day);
      const pathDays = [day, ...timeline.windowChangeDays(day, { web: this.pathWithWeb })];
      const dueDay = nextDueAt === null ? null : dayOf(nextDueAt);
      const segmentEnd = until === null ? dueDay : dueDay === null ? until : Math.min(until, dueDay);
      history.push(...this.metricRows(result.state, timeline, day, segmentEnd, pathDays, !previous, at, evaluatedAt));
      const names = this.populationNames;
      commits.push({
        customerId: req.customerId,
        state: result.state,
        processedDueAt: req.processedDueAt,
        touch: req.touch,
        nextDueAt,
        population:
          names === null
            ? undefined
            : JSON.stringify(
                populationEntry({
                  names,
                  day,
                  cutPointsVersion: result.state.cutpoints_version,
                  dueDay,
                  until,
                  pathDays,
                  metricsAtDay: (d) => this.metricsOn(timeline, d),
                }),
              ),
      });
    }
    for (const cp of unpublished) await this.publishCutPoints(cp);
    // Outputs first, then the state: the commit's code lookup (its first round trip) runs beside the produce.
    const [prepared] = await Promise.all([
      this.deps.tierState.prepareCommit(commits),
      this.produce(transitions, changes, history, tiersMoved),
    ]);
    await this.deps.tierState.commit(partition, prepared);
    return transitions.length;
  }

  /**
   * METRICS history rows of one evaluation on `day` (a segment): one on each path day before `until` (the segment's
   * end, exclusive) where a piecewise-constant row metric differs from the day before (`first`: always on `day`). A
   * row holds the metrics from its `snapshot_day` on until the next row; rows of a later `basis_day` supersede these.
   */
  private metricRows(
    state: TierState,
    timeline: AggregateTimeline,
    day: number,
    until: number | null,
    pathDays: readonly number[],
    first: boolean,
    asOf: number,
    emittedAt: number,
  ): TierChange[] {
    const rows: TierChange[] = [];
    // The day before: what the previous segment (or nothing, for a new customer) says for this day.
    let last: Metrics | null = first ? null : this.metricsOn(timeline, day - 1);
    for (const d of pathDays) {
      if (until !== null && d >= until) break;
      const m = this.metricsOn(timeline, d);
      if (last !== null && this.stepRowMetrics.every((k) => m[k] === last![k])) continue;
      last = m;
      rows.push({
        customer_id: state.customer_id,
        kind: 'METRICS',
        state_version: state.version,
        snapshot_day: isoDay(d),
        basis_day: isoDay(day),
        tiers: {},
        metrics: projectMetrics(m, this.rowMetrics),
        rules_version: state.rules_version,
        cutpoints_version: state.cutpoints_version,
        as_of: asOf,
        emitted_at: emittedAt,
        aggregate_config: this.aggregateConfig.hash,
      });
    }
    return rows;
  }

  /**
   * The next instant at which this customer's tiers could change without new input: the earliest of the next day
   * with already-applied (later) events and the pure engine's next due day. Candidate days on which an in-memory
   * evaluation shows no change are skipped, so Redis only wakes the customer when something happens.
   */
  nextDueAt(timeline: AggregateTimeline, state: TierState, day: number, attributes: Attributes | null): number | null {
    const nextEvent = timeline.firstEventDayAfter(day);
    // Memoised per day by the timeline: the searches below ask for the same days again and again.
    const metricsAtDay = (d: number) => this.metricsOn(timeline, d);
    // A new CLV model version moves the predictions of every customer: a jump day like an applied event.
    const modelDay = this.nextClvModelDay(day);
    const jumps = [...(nextEvent === null ? [] : [nextEvent]), ...(modelDay === null ? [] : [modelDay])];
    // The first jump (an applied event, a new CLV model) is a wake-up whatever an in-memory trial says: a trial on
    // the model day would still use the model in force, not the one that day's fit brings.
    const wake = jumps.length === 0 ? null : Math.min(...jumps);
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
        eventDays: jumps,
        attributes,
      });
      if (candidate === null) return wake === null ? null : endOfDay(wake);
      if (wake !== null && wake <= candidate) return endOfDay(wake);
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

  /**
   * A customer's metrics as of the close of `day`, with the CLV predictions under the model in force on `day` when
   * the rules read them; memoised per timeline and day like timeline.metricsAt (callers must not modify them).
   */
  private metricsOn(timeline: AggregateTimeline, day: number): Metrics {
    const m = timeline.metricsAt(endOfDay(day));
    if (!this.usesClv) return m;
    let byDay = this.predicted.get(timeline);
    if (!byDay) {
      byDay = new Map();
      this.predicted.set(timeline, byDay);
    }
    let out = byDay.get(day);
    if (!out) {
      out = this.withPredictions(m, day);
      byDay.set(day, out);
    }
    return out;
  }

  /** `m` (metrics as of the close of `day`) with the CLV predictions when the rules read them. */
  private withPredictions(m: Metrics, day: number): Metrics {
    return this.usesClv && this.deps.clv ? this.deps.clv.withPredictions(m, day) : m;
  }

  /** The next day a CLV model version can come into force, when the rules read predictions (ClvModels.nextModelDay). */
  private nextClvModelDay(day: number): number | null {
    return this.usesClv && this.deps.clv ? this.deps.clv.nextModelDay(day, this.cutPointsFor(day)) : null;
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
      metrics: projectMetrics(metrics, this.rowMetrics),
      rules_version: state.rules_version,
      cutpoints_version: state.cutpoints_version,
      as_of: asOf,
      emitted_at: emittedAt,
      aggregate_config: this.aggregateConfig.hash,
    };
  }

  /** The warehouse record of a cut-point version (cutpoint_history, aggregate_configs); see CutPointPublisher. */
  cutPointsRecord(cp: CutPoints): TierCutPoints {
    return this.publisher.record(cp, this.rules);
  }

  /** Publishes a cut-point version for the warehouse, once per process and rules version (CutPointPublisher). */
  async publishCutPoints(cp: CutPoints): Promise<void> {
    await this.publisher.publish(cp, this.rules);
  }

  /**
   * A full snapshot of one partition as of `day` (reads every customer): every customer that exists by then, with
   * tiers from its state and metrics recomputed as of the day (exact even if later events are already applied).
   * `emit`: send the SNAPSHOT rows (the optional periodic snapshot); `collectPopulation`: return every customer's
   * metrics (the cut-point population when the population cache cannot serve it).
   */
  async snapshot(
    partition: number,
    day: number,
    opts: { emit: boolean; collectPopulation: boolean },
  ): Promise<{ rows: number; population: Metrics[] }> {
    const population: Metrics[] = [];
    let rows = 0;
    if (!opts.emit && !opts.collectPopulation) return { rows, population };
    const emittedAt = this.wallClock();
    for await (const ids of this.deps.tierState.customers(partition, 1000)) {
      const out: TierChange[] = [];
      for (const { state, metrics } of await this.existingAsOf(ids, day)) {
        if (opts.collectPopulation) population.push(metrics);
        if (opts.emit) out.push(this.changeRow(state, metrics, 'SNAPSHOT', isoDay(day), endOfDay(day), emittedAt));
      }
      await this.produce([], [], out);
      rows += out.length;
    }
    return { rows, population };
  }

  /** Metrics as of `day` of those customers that exist by then (state evaluated on or before `day`). */
  async populationOf(customerIds: string[], day: number): Promise<Metrics[]> {
    return (await this.existingAsOf(customerIds, day)).map((c) => c.metrics);
  }

  /** Of these customers, those that exist as of `day`, with their state and metrics recomputed as of the day. */
  private async existingAsOf(ids: string[], day: number): Promise<Array<{ state: TierState; metrics: Metrics }>> {
    const [aggs, states] = await Promise.all([
      this.deps.aggregates.readMany(ids, { idempotence: false }),
      this.deps.tierState.readStates(ids),
    ]);
    const out: Array<{ state: TierState; metrics: Metrics }> = [];
    for (const id of ids) {
      const state = states.get(id);
      const agg = aggs.get(id);
      if (state && agg && state.last_eval_day <= day && state.merged_into === undefined) {
        out.push({
          state,
          metrics: this.withPredictions(metricsAt(agg, endOfDay(day), this.deps.aggregateConfig), day),
        });
      }
    }
    return out;
  }

  /**
   * A rules change's population of one partition (design-decisions §20): the metrics as of the close of `day` of
   * every customer with a tier state that exists by then (`populationMetricsAsOf`, the same as `tierctl rules diff`).
   * Read from the aggregates, not the population cache: the new rules may rank on other metrics, and customers
   * evaluated later than `day` (live signals) still count.
   */
  async rulesChangePopulation(partition: number, day: number): Promise<Metrics[]> {
    const population = await this.deps.aggregates.partitionPopulationAsOf(this.deps.tierState, partition, day);
    return population.map((metrics) => this.withPredictions(metrics, day));
  }

  /** Cut points from the population measured at the close of `day`; they replace the ones in force on it. */
  recomputeCutPoints(population: Metrics[], day: number): CutPoints {
    return computeCutPoints(this.rules, population, `cp-${isoDay(day)}`, endOfDay(day), this.cutPointsFor(day));
  }

  /**
   * Produces transitions, changes, and the history on the snapshots topic: a copy of each change whose `tiersMoved`
   * is true (tier_history needs no row where only a pending demotion changed), then `history` (METRICS points or
   * SNAPSHOT rows); one send for all.
   */
  private async produce(
    transitions: TierTransition[],
    changes: TierChange[],
    history: TierChange[],
    tiersMoved: readonly boolean[] = [],
  ): Promise<void> {
    // The synchronous path once the topic's schema is cached (no promise per row, no second validation pass).
    const { serde } = this.deps;
    const encode = async (topic: string, rows: Array<TierTransition | TierChange>): Promise<OutgoingRecord[]> =>
      Promise.all(
        rows.map(async (row) => ({
          key: row.customer_id,
          value: serde.encodeIfCached(topic, row) ?? (await serde.encode(topic, row)),
        })),
      );
    const { topics } = this.deps;
    const changeRecords = await encode(topics.changes, changes);
    // History rows start with the copies of the changes: when both topics have the same schema id (one TierChange
    // schema under two subjects), the bytes are the same too.
    const changesId = serde.cachedSchemaId(topics.changes);
    const sameSchema = changesId !== undefined && changesId === serde.cachedSchemaId(topics.snapshots);
    const historyRecords = [
      ...(sameSchema
        ? changeRecords.filter((_r, i) => tiersMoved[i])
        : await encode(
            topics.snapshots,
            changes.filter((_c, i) => tiersMoved[i]),
          )),
      ...(await encode(topics.snapshots, history)),
    ];
    const batches = [
      { topic: topics.transitions, records: await encode(topics.transitions, transitions) },
      { topic: topics.changes, records: changeRecords },
      { topic: topics.snapshots, records: historyRecords },
    ].filter((b) => b.records.length > 0);
    if (batches.length === 0) return;
    // One request per ≤ SEND_CHUNK_BYTES of values: the customers of one signal partition all land on the same
    // output partition, and a record batch over the broker's message.max.bytes (1 MB by default) is refused.
    for (const chunk of chunkBatches(batches, SEND_CHUNK_BYTES)) await this.deps.producer.sendMany(chunk);
    for (const b of batches) this.deps.metrics?.recordsOut.inc({ topic: b.topic }, b.records.length);
  }
}
