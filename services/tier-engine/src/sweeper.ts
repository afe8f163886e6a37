import { randomBytes } from 'node:crypto';
import type { RedisClient } from '@tierstream/config';
import type { ServiceMetrics } from '@tierstream/observability';
import {
  CLV_FIT_INPUTS,
  type CutPointSchedule,
  type CutPoints,
  clvPredictions,
  cutMetricNames,
  entryMetricsAt,
  isCutPointDay,
  type Metrics,
  type MovedBoundary,
  movedBoundaries,
  nextCutPointDay,
  type PopulationEntry,
  recheckDay,
} from '@tierstream/tiering';
import { dayOf, endOfDay, isoDay, type RulesVersion, type TierStateStore } from '@tierstream/tierstate';
import type { Logger } from 'pino';
import type { ClvModels } from './clv';
import type { TierEngine } from './engine';
import type { DayProgress } from './progress';
import { RulesChange } from './rules-change';

export interface SweeperOptions {
  engine: TierEngine;
  tierState: TierStateStore;
  redis: RedisClient;
  mode: 'live' | 'replay';
  /** `topic:partition` of every input partition: the replay clock is the minimum of their watermarks. */
  inputPartitions: string[];
  numPartitions: number;
  batchSize: number;
  /**
   * Which day closes recompute the cut points (tiering's schedule.ts, the same function as the oracle's): decided
   * from the cut points in force on the day, which the barrier makes the same for every partition.
   */
  cutPointsSchedule: CutPointSchedule;
  /** The optional periodic full snapshot (kind SNAPSHOT): never, at every day close, or at each month's last day. */
  snapshotPeriod: 'off' | 'day' | 'month';
  rulesReevaluationRate: number;
  /** How often the active rules version is read while no change is in progress (ms). */
  rulesPollMs?: number;
  /** After this instance switched to a new active rules version. */
  onRulesSwitched?: (active: RulesVersion) => void;
  logger: Logger;
  metrics?: ServiceMetrics;
  /** Day-close progress per owned partition (metrics, and /health/ready when a partition is stuck). */
  progress?: DayProgress;
  /** The population CLV model (issue 15): fitted at cut-point days when its settings say so. */
  clv?: ClvModels;
}

/**
 * Drives time: per owned signal partition it closes days in order — evaluate every customer due by the day's end
 * (the due index: O(customers due), never a scan), emit the day's snapshot, and on cut-point days hand the
 * population to the cut-point barrier — then evaluates what is due so far in the open day.
 * All work on a partition runs under that partition's lock, shared with the signal handler: one writer per customer.
 */
/**
 * How long a partition lease lives without renewal. It is renewed on every sweep and every closed day; it only runs
 * out when its holder died (kill -9), which costs the next owner at most this long — about the consumer group's
 * session timeout, after which Kafka itself reassigns the dead member's partitions.
 */
export const PARTITION_LEASE_MS = 20_000;

// Acquire or renew: free, or already ours → (re)set with the TTL. 1 = ours now, 0 = held by another instance.
const LEASE_ACQUIRE = `local v = redis.call('GET', KEYS[1])
if v == false or v == ARGV[1] then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
return 0`;
const LEASE_RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

export class Sweeper {
  readonly owned = new Set<number>();
  private readonly locks = new Map<number, Promise<unknown>>();
  private stopped = false;
  private loop: Promise<void> | null = null;
  /**
   * Partitions whose Redis lease this instance holds. Kafka's assignment says which partitions an instance SHOULD
   * sweep, but during a rebalance the previous owner may still be closing a day when the new owner starts: the
   * lease makes the new owner wait until the old one has finished and released it (one writer per customer).
   */
  private readonly leased = new Set<number>();
  private readonly leaseToken = `${process.pid}-${randomBytes(6).toString('hex')}`;
  /** Per partition: the population cache entries read at the last cut-point day (the recheck's input). */
  private readonly recheckBasis = new Map<number, { day: number; entries: Map<string, PopulationEntry> }>();
  /**
   * Per partition: the customers rechecked after the last cut-point recompute, and the day each is rechecked on
   * (`full`: everyone on `day`, no usable population cache).
   */
  private readonly rechecks = new Map<number, { day: number; ids: Map<string, number>; full: boolean }>();

  /** A rules change in progress (rules-change.ts): its partitions are held until they are re-evaluated. */
  private readonly rulesChange: RulesChange;
  private rulesPolledAt = 0;

  constructor(private readonly o: SweeperOptions) {
    this.rulesChange = new RulesChange({
      engine: o.engine,
      tierState: o.tierState,
      redis: o.redis,
      mode: o.mode,
      numPartitions: o.numPartitions,
      rulesReevaluationRate: o.rulesReevaluationRate,
      clock: () => this.clock(),
      startVersion: o.engine.rules.version,
      logger: o.logger,
      onSwitched: o.onRulesSwitched,
      stopping: () => this.stopped,
    });
  }

  /** Whether partition p is on new rules whose re-evaluation wave is not finished (evaluations say RULES_CHANGED). */
  reevaluating(p: number): boolean {
    return this.rulesChange.reevaluating(p);
  }

  withLock<T>(partition: number, fn: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(partition) ?? Promise.resolve();
    const next = previous.then(fn, fn);
    this.locks.set(
      partition,
      next.catch(() => undefined),
    );
    return next;
  }

  /** The engine's clock: wall time live; in replay the low watermark of the inputs (null until every input partition reported). */
  async clock(): Promise<number | null> {
    if (this.o.mode === 'live') return Date.now();
    const marks = await this.o.tierState.readWatermarks();
    let min = Number.POSITIVE_INFINITY;
    for (const key of this.o.inputPartitions) {
      const at = marks.get(key);
      if (at === undefined) return null;
      min = Math.min(min, at);
    }
    return Number.isFinite(min) ? min : null;
  }

  start(intervalMs: number): void {
    const tick = async () => {
      while (!this.stopped) {
        try {
          await this.sweepOnce();
          await this.applyRulesIfChanged();
        } catch (err) {
          this.o.logger.error({ err }, 'sweep failed; retrying');
        }
        await new Promise((r) => setTimeout(r, intervalMs));
      }
    };
    this.loop = tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
    await Promise.all([...this.locks.values()]);
    for (const p of [...this.leased]) await this.releaseLease(p).catch(() => undefined);
  }

  async sweepOnce(): Promise<void> {
    // Leases of partitions this instance no longer owns: released once their in-flight work is done (same lock).
    for (const p of [...this.leased]) {
      if (!this.owned.has(p)) await this.withLock(p, () => this.releaseLease(p));
    }
    this.o.progress?.retain(this.owned);
    const clock = await this.clock();
    if (clock === null) return;
    // Partitions wait for each other at cut-point days (the barrier): go round again while any of them moved on,
    // so a partition released by the last one's cut points does not wait for the next tick.
    // Partitions are swept concurrently (each under its own lock): one waits on Redis or Kafka while another computes.
    for (let progress = true; progress && !this.stopped; ) {
      const moved = await Promise.all(
        [...this.owned].map((p) =>
          this.withLock(p, async () => {
            if (this.stopped || !this.owned.has(p)) return false;
            if (!(await this.acquireLease(p))) {
              this.o.progress?.blocked(p, null, { kind: 'lease' }); // the previous owner is still finishing: next tick
              return false;
            }
            return this.sweepPartition(p, clock);
          }),
        ),
      );
      progress = moved.some(Boolean);
    }
  }

  private leaseKey(p: number): string {
    return `${this.o.tierState.prefix}:lease:{p${p}}`;
  }

  /** Takes or renews partition p's lease. On a fresh take, adopts the newest stored cut points (see below). */
  private async acquireLease(p: number): Promise<boolean> {
    const ok = Number(await this.o.redis.eval(LEASE_ACQUIRE, 1, this.leaseKey(p), this.leaseToken, PARTITION_LEASE_MS));
    if (ok !== 1) {
      this.leased.delete(p);
      return false;
    }
    if (!this.leased.has(p)) {
      this.leased.add(p);
      // A partition written by the previous build: its customer set joins the due index (tierstate §23 upgrade).
      await this.o.tierState.upgradePartition(p);
      // Another instance may have swept this partition past later cut-point days: the cut points in memory can be
      // stale. The stored ones are the newest computed, which is what the partition's next day needs (barrier).
      for (const stored of await this.o.tierState.getCutPointsHistory()) this.o.engine.cutPoints = stored;
      await this.o.clv?.load();
    }
    return true;
  }

  private async releaseLease(p: number): Promise<void> {
    this.leased.delete(p);
    await this.o.redis.eval(LEASE_RELEASE, 1, this.leaseKey(p), this.leaseToken);
  }

  /** Closes the partition's days up to the clock; true when it closed at least one. */
  private async sweepPartition(p: number, clock: number): Promise<boolean> {
    const meta = await this.o.tierState.getPartitionMeta(p);
    let closed: number;
    let start = await this.o.tierState.startDay(null);
    if (meta.closed_day !== undefined && start !== null) {
      closed = Number(meta.closed_day);
    } else {
      // Live: start closing days from yesterday, not from the first event of some old history. Replay: from the
      // day before the earliest due customer of whichever partition starts first; every partition starts there.
      const candidate = this.o.mode === 'live' ? dayOf(clock) - 1 : await this.earliestDueDayBefore();
      start = await this.o.tierState.startDay(candidate);
      if (start === null) return false;
      closed = start;
      // A new partition: every customer evaluated from now on gets a population cache entry.
      await this.o.tierState.setPartitionMeta(p, { closed_day: closed, popcache: this.populationKey() });
    }
    // A rules change holds the partition at its closed day (or lets it catch up with the others), see rules-change.ts.
    const hold = await this.rulesChange.closeLimit(p, closed);
    const limit = hold?.limit;
    this.o.progress?.closedUpTo(p, closed);
    let progress = false;
    while (
      !this.stopped &&
      this.owned.has(p) &&
      endOfDay(closed + 1) <= clock &&
      (limit === undefined || closed < limit)
    ) {
      const day = closed + 1;
      if (!(await this.cutPointsReadyFor(day, start))) {
        await this.noteBarrier(p, day);
        return progress;
      }
      await this.recheckAfterCutPoints(p, day, start);
      await this.drainDue(p, endOfDay(day));
      const collect = this.isCutPointDay(day);
      // A CLV fit day reads the population from the aggregates: the population cache holds only the cut metrics.
      const fit = this.o.clv?.isFitDay(day, collect) ?? false;
      const fromCache = collect && !fit && (await this.populationCacheUsable(p));
      const { rows, population } = await this.o.engine.snapshot(p, day, {
        emit: this.isSnapshotDay(day),
        collectPopulation: collect && !fromCache,
      });
      if (collect)
        await this.contributePopulation(p, day, fromCache ? await this.cachedPopulation(p, day) : population, fit);
      await this.o.tierState.setPartitionMeta(p, { closed_day: day });
      this.o.progress?.closedUpTo(p, day);
      await this.finishRecheck(p, day);
      closed = day;
      progress = true;
      if (!(await this.acquireLease(p))) return progress; // renew; lost only if this instance stalled past the lease
      this.o.logger.debug({ partition: p, day: isoDay(day), snapshotRows: rows }, 'closed day');
    }
    // The open day only once every day before it is closed: after a stop or a lost partition the loop ends early, and
    // draining up to the clock then would evaluate customers days ahead of the partition's closed day (skipping
    // their day closes, snapshots and cut points).
    if (limit === undefined && endOfDay(closed + 1) > clock) await this.drainDue(p, clock);
    if (endOfDay(closed + 1) > clock) this.o.progress?.caughtUp(p);
    else if (hold?.decided)
      this.o.progress?.caughtUp(p); // only its own re-evaluation wave is left: not blocked
    else if (hold && closed >= hold.limit) {
      this.o.progress?.blocked(p, closed + 1, {
        kind: 'rules-change',
        apply: hold.apply,
        version: hold.version,
        waitingFor: hold.waitingFor,
      });
    }
    this.o.metrics?.sweeperDue.set({ partition: String(p) }, await this.o.tierState.dueCount(p, clock));
    return progress;
  }

  private isSnapshotDay(day: number): boolean {
    if (this.o.snapshotPeriod === 'day') return true;
    // The last day of a month: the next day is the 1st.
    return this.o.snapshotPeriod === 'month' && new Date(endOfDay(day) + 1).getUTCDate() === 1;
  }

  /** What the population cache entries hold (the cut metrics of the rules); '' when it cannot serve these rules. */
  private populationKey(): string {
    return this.o.engine.populationNames?.join(',') ?? '';
  }

  /**
   * Whether every customer of the partition that was evaluated has an entry for the current rules: true from the
   * partition's first day, and again once a full re-evaluation rewrote every entry (after an upgrade or a rules
   * change); until then the population is read from the aggregates.
   */
  private async populationCacheUsable(p: number): Promise<boolean> {
    const key = this.populationKey();
    return key !== '' && (await this.o.tierState.getPartitionMeta(p)).popcache === key;
  }

  private async readPopulationEntries(p: number): Promise<Map<string, PopulationEntry>> {
    const entries = new Map<string, PopulationEntry>();
    for (const [id, json] of await this.o.tierState.readPopulationCache(p)) {
      entries.set(id, JSON.parse(json) as PopulationEntry);
    }
    return entries;
  }

  /**
   * The partition's population as of `day` from the population cache (one bulk read, no aggregate), like
   * engine.snapshot would collect it: every customer evaluated by then. An entry that does not cover the day (it
   * should, see population.ts) is recomputed from the customer's aggregates.
   */
  private async cachedPopulation(p: number, day: number): Promise<Metrics[]> {
    const names = this.o.engine.populationNames!;
    const entries = await this.readPopulationEntries(p);
    this.recheckBasis.set(p, { day, entries });
    const population: Metrics[] = [];
    const stale: string[] = [];
    for (const [id, entry] of entries) {
      if (entry.e > day) continue;
      const m = entryMetricsAt(entry, names, day);
      if (m) population.push(m);
      else stale.push(id);
    }
    if (stale.length > 0) {
      this.o.logger.warn({ partition: p, day: isoDay(day), customers: stale.length }, 'population cache entries stale');
      population.push(...(await this.o.engine.populationOf(stale, day)));
    }
    return population;
  }

  /**
   * After cut points moved (at the close of the cut-point day before `day`): schedule the customers whose tiers can
   * change under the new cuts before their next due day or the next recompute, each on the first day it can
   * (population.ts says why the others cannot); or everyone on `day` when the population cache cannot tell.
   */
  private async recheckAfterCutPoints(p: number, day: number, start: number | null): Promise<void> {
    const cutDay = day - 1;
    if (!this.isCutPointDay(cutDay) || start === null || cutDay <= start) return;
    const meta = await this.o.tierState.getPartitionMeta(p);
    if (meta.recheck_day === String(cutDay)) return; // done before a restart
    const next = this.o.engine.cutPointsFor(day);
    const ids = new Map<string, number>();
    let full = false;
    let population = 0;
    if (await this.populationCacheUsable(p)) {
      // Replay: nothing evaluates the partition between the day close that read the entries and now (the sweeper
      // holds its lock; a rules change drops the copy). Live, signals rewrite entries meanwhile: read them again.
      const basis = this.o.mode === 'replay' ? this.recheckBasis.get(p) : undefined;
      const entries = basis?.day === cutDay ? basis.entries : await this.readPopulationEntries(p);
      const names = this.o.engine.populationNames!;
      const movedByVersion = new Map<string, MovedBoundary[] | null>();
      // Up to the next recompute (the question is asked again there): next day while the population is moving.
      const lastDay = nextCutPointDay(this.o.cutPointsSchedule, next, cutDay) ?? cutDay;
      for (const [id, entry] of entries) {
        population++;
        let moved = movedByVersion.get(entry.v);
        if (moved === undefined) {
          const before: CutPoints | undefined = this.o.engine.cutPointsByVersion(entry.v);
          moved = before ? movedBoundaries(this.o.engine.rules, before, next) : null;
          movedByVersion.set(entry.v, moved);
        }
        const to = entry.d === null ? lastDay : Math.min(entry.d - 1, lastDay);
        const at = moved === null ? day : recheckDay(entry, names, moved, day, to);
        if (at !== null) ids.set(id, at);
      }
    } else {
      full = true;
      for await (const page of this.o.tierState.customers(p, 1000)) for (const id of page) ids.set(id, day);
      population = ids.size;
    }
    this.recheckBasis.delete(p);
    await this.o.tierState.schedule(
      [...ids].map(([customerId, at]) => ({ customerId, partition: p, dueAt: endOfDay(at) })),
    );
    this.rechecks.set(p, { day, ids, full });
    await this.o.tierState.setPartitionMeta(p, { recheck_day: cutDay });
    this.o.logger.info(
      { partition: p, cutPoints: next.version, population, rechecked: ids.size, full },
      'cut points moved: customers rechecked',
    );
  }

  /** After `day` closed: a full recheck rewrote every entry, so the population cache serves the next cut points. */
  private async finishRecheck(p: number, day: number): Promise<void> {
    const recheck = this.rechecks.get(p);
    if (!recheck?.full || recheck.day !== day) return;
    this.rechecks.delete(p);
    if (this.populationKey() !== '') {
      await this.o.tierState.setPartitionMeta(p, { popcache: this.populationKey() });
    }
  }

  /**
   * Replay: the day before the earliest due customer over ALL partitions (not only this one: every partition must
   * start on the same day, or the first days and cut points of the others would be skipped). Everything with event
   * time up to the clock is scheduled before the watermark moves, so this is the first day of the history.
   */
  private async earliestDueDayBefore(): Promise<number | null> {
    let earliest: number | null = null;
    for (let q = 0; q < this.o.numPartitions; q++) {
      const at = await this.o.tierState.earliestDue(q);
      if (at !== null && (earliest === null || at < earliest)) earliest = at;
    }
    return earliest === null ? null : dayOf(earliest) - 1;
  }

  /** Evaluates every customer due at or before `upTo`, page by page, until none is left. */
  private async drainDue(p: number, upTo: number): Promise<void> {
    const recheck = this.rechecks.get(p);
    for (;;) {
      const due = await this.o.tierState.due(p, upTo, this.o.batchSize);
      if (due.length === 0) return;
      const requests = due.map((d) => ({
        customerId: d.customerId,
        day: dayOf(d.dueAt),
        at: d.dueAt,
        processedDueAt: d.dueAt,
        touch: d.touch,
        recheck: recheck?.ids.get(d.customerId) === dayOf(d.dueAt),
      }));
      await this.o.engine.evaluate(p, requests);
      this.o.metrics?.cutpointRechecks.inc(requests.filter((r) => r.recheck).length);
      this.o.metrics?.sweeperEvaluated.inc(due.length);
    }
  }

  /**
   * Whether the close of `day` recomputes the cut points. Every partition answers alike: the cut points in force on
   * `day` were computed at an earlier cut-point day that every partition passed (the barrier), and this instance
   * loaded them before it closed the day after that one (cutPointsReadyFor, or at start / lease take-over).
   */
  private isCutPointDay(day: number): boolean {
    return isCutPointDay(this.o.cutPointsSchedule, this.o.engine.cutPointsFor(day), day);
  }

  /**
   * Day `day` may only be evaluated once the cut points computed at the close of the previous cut-point day exist
   * (unless that day was before the engine's first closed day: nobody computed cut points then).
   */
  private async cutPointsReadyFor(day: number, startDay: number | null): Promise<boolean> {
    const required = day - 1;
    if (!this.isCutPointDay(required) || startDay === null || required <= startDay) return true;
    const want = `cp-${isoDay(required)}`;
    if (this.o.engine.cutPoints.version >= want && this.o.engine.cutPoints.version.startsWith('cp-')) return true;
    // Load every stored version (not only the newest): other instances may have computed several meanwhile. The CLV
    // model of that day close was stored before its cut points.
    for (const stored of await this.o.tierState.getCutPointsHistory()) this.o.engine.cutPoints = stored;
    await this.o.clv?.load();
    return this.o.engine.cutPoints.version.startsWith('cp-') && this.o.engine.cutPoints.version >= want;
  }

  /** Reports partition p waiting at the barrier for the cut points of `day - 1`, and whose populations are missing. */
  private async noteBarrier(p: number, day: number): Promise<void> {
    if (!this.o.progress) return;
    const parts = new Set(
      (await this.o.redis.hkeys(`${this.o.tierState.prefix}:population:${isoDay(day - 1)}`)).map(Number),
    );
    const missing = [...Array(this.o.numPartitions).keys()].filter((q) => !parts.has(q));
    this.o.progress.blocked(p, day, { kind: 'barrier', day: day - 1, missing });
  }

  /**
   * The cut-point barrier: each partition adds its population (metrics as of `day`) to a Redis hash; the writer of
   * the last part computes the cut points from all of it and stores them. Each partition then rechecks its own
   * customers before it closes the next day (recheckAfterCutPoints). On a CLV fit day (`fit`, the same on every
   * partition) the parts also carry the CLV inputs, and the last part fits the CLV model before the cut points.
   */
  private async contributePopulation(p: number, day: number, population: Metrics[], fit = false): Promise<void> {
    const key = `${this.o.tierState.prefix}:population:${isoDay(day)}`;
    const names = fit
      ? [...cutMetricNames(this.o.engine.rules), ...CLV_FIT_INPUTS]
      : cutMetricNames(this.o.engine.rules);
    const compact = population.map((m) => names.map((n) => m[n] ?? null));
    // HSET and HGETALL in one transaction: two partitions finishing at the same moment may both see every part
    // (both compute the same cut points), but neither can read the hash after the other deleted it.
    const results = await this.o.redis.multi().hset(key, String(p), JSON.stringify(compact)).hgetall(key).exec();
    const parts = (results?.[1]?.[1] ?? {}) as Record<string, string>;
    if (Object.keys(parts).length < this.o.numPartitions) return;
    const all: Metrics[] = [];
    for (const json of Object.values(parts)) {
      for (const row of JSON.parse(json) as Array<Array<number | null>>) {
        all.push(Object.fromEntries(names.map((n, i) => [n, row[i] ?? null])));
      }
    }
    const model = fit ? await this.o.clv?.fitAndStore(all, day) : null;
    // The cut points of a new model's day are measured with its predictions (the model in force from day + 1 on).
    const measured = model ? all.map((m) => ({ ...m, ...clvPredictions(model, m) })) : all;
    const cutPoints = this.o.engine.recomputeCutPoints(measured, day);
    // Outputs first (the warehouse's cutpoint_history): a crash before the store computes and publishes it again.
    await this.o.engine.publishCutPoints(cutPoints);
    await this.o.tierState.setCutPoints(cutPoints);
    await this.o.redis.del(key);
    this.o.engine.cutPoints = cutPoints;
    this.o.logger.info({ version: cutPoints.version, population: measured.length }, 'recomputed cut points');
  }

  /**
   * After `tierctl rules apply` (or a rollback): the rules change of rules-change.ts for the owned partitions, each
   * step under the partition's lock and lease. The active version is read every `rulesPollMs` while no change is in
   * progress, every tick while one is.
   */
  async applyRulesIfChanged(): Promise<void> {
    const now = Date.now();
    if (this.rulesChange.pending.size === 0 && now - this.rulesPolledAt < (this.o.rulesPollMs ?? 0)) return;
    this.rulesPolledAt = now;
    for (const p of await this.rulesChange.poll([...this.owned])) {
      await this.withLock(p, async () => {
        if (this.stopped || !this.owned.has(p) || !this.leased.has(p)) return;
        this.recheckBasis.delete(p);
        const meta = await this.o.tierState.getPartitionMeta(p);
        await this.rulesChange.step(p, meta.closed_day === undefined ? null : Number(meta.closed_day));
      });
    }
  }
}
