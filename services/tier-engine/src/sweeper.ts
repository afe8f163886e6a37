import { randomBytes } from 'node:crypto';
import type { RedisClient } from '@tierstream/config';
import type { ServiceMetrics } from '@tierstream/observability';
import { KNOWN_METRICS, type Metrics, parseRules } from '@tierstream/tiering';
import { dayOf, endOfDay, isoDay, type TierStateStore } from '@tierstream/tierstate';
import type { Logger } from 'pino';
import type { TierEngine } from './engine';

export interface SweeperOptions {
  engine: TierEngine;
  tierState: TierStateStore;
  redis: RedisClient;
  mode: 'live' | 'replay';
  /** `topic:partition` of every input partition: the replay clock is the minimum of their watermarks. */
  inputPartitions: string[];
  numPartitions: number;
  batchSize: number;
  cutPointsEveryDays: number;
  rulesReevaluationRate: number;
  logger: Logger;
  metrics?: ServiceMetrics;
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

  constructor(private readonly o: SweeperOptions) {}

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
    const clock = await this.clock();
    if (clock === null) return;
    for (const p of [...this.owned].sort((a, b) => a - b)) {
      if (this.stopped || !this.owned.has(p)) continue;
      await this.withLock(p, async () => {
        if (!(await this.acquireLease(p))) return; // the previous owner is still finishing: next tick
        await this.sweepPartition(p, clock);
      });
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
      // Another instance may have swept this partition past later cut-point days: the cut points in memory can be
      // stale. The stored ones are the newest computed, which is what the partition's next day needs (barrier).
      for (const stored of await this.o.tierState.getCutPointsHistory()) this.o.engine.cutPoints = stored;
    }
    return true;
  }

  private async releaseLease(p: number): Promise<void> {
    this.leased.delete(p);
    await this.o.redis.eval(LEASE_RELEASE, 1, this.leaseKey(p), this.leaseToken);
  }

  private async sweepPartition(p: number, clock: number): Promise<void> {
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
      if (start === null) return;
      closed = start;
      await this.o.tierState.setPartitionMeta(p, { closed_day: closed });
    }
    while (!this.stopped && this.owned.has(p) && endOfDay(closed + 1) <= clock) {
      const day = closed + 1;
      if (!(await this.cutPointsReadyFor(day, start))) return;
      await this.drainDue(p, endOfDay(day));
      const collect = this.isCutPointDay(day);
      const { rows, population } = await this.o.engine.snapshot(p, day, collect);
      if (collect) await this.contributePopulation(p, day, population);
      await this.o.tierState.setPartitionMeta(p, { closed_day: day });
      closed = day;
      if (!(await this.acquireLease(p))) return; // renew; lost only if this instance stalled past the lease
      this.o.logger.debug({ partition: p, day: isoDay(day), snapshotRows: rows }, 'closed day');
    }
    // The open day only once every day before it is closed: after a stop or a lost partition the loop ends early, and
    // draining up to the clock then would evaluate customers days ahead of the partition's closed day (skipping
    // their day closes, snapshots and cut points).
    if (endOfDay(closed + 1) > clock) await this.drainDue(p, clock);
    this.o.metrics?.sweeperDue.set({ partition: String(p) }, await this.o.tierState.dueCount(p, clock));
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
    for (;;) {
      const due = await this.o.tierState.due(p, upTo, this.o.batchSize);
      if (due.length === 0) return;
      await this.o.engine.evaluate(
        p,
        due.map((d) => ({
          customerId: d.customerId,
          day: dayOf(d.dueAt),
          at: d.dueAt,
          processedDueAt: d.dueAt,
          touch: d.touch,
        })),
      );
      this.o.metrics?.sweeperEvaluated.inc(due.length);
    }
  }

  private isCutPointDay(day: number): boolean {
    return this.o.cutPointsEveryDays > 0 && day % this.o.cutPointsEveryDays === 0;
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
    // Load every stored version (not only the newest): other instances may have computed several meanwhile.
    for (const stored of await this.o.tierState.getCutPointsHistory()) this.o.engine.cutPoints = stored;
    return this.o.engine.cutPoints.version.startsWith('cp-') && this.o.engine.cutPoints.version >= want;
  }

  /**
   * The cut-point barrier: each partition adds its population (metrics as of `day`) to a Redis hash; the writer of
   * the last part computes the cut points from all of it, stores them, and schedules every customer for the next
   * day's close (their share tiers may move with the population).
   */
  private async contributePopulation(p: number, day: number, population: Metrics[]): Promise<void> {
    const key = `${this.o.tierState.prefix}:population:${isoDay(day)}`;
    const names = referencedMetricNames(this.o.engine.rules);
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
    const cutPoints = this.o.engine.recomputeCutPoints(all, day);
    await this.o.tierState.setCutPoints(cutPoints);
    await this.o.redis.del(key);
    this.o.engine.cutPoints = cutPoints;
    let scheduled = 0;
    for (let q = 0; q < this.o.numPartitions; q++) {
      for await (const ids of this.o.tierState.customers(q, 1000)) {
        await this.o.tierState.schedule(
          ids.map((customerId) => ({ customerId, partition: q, dueAt: endOfDay(day + 1) })),
        );
        scheduled += ids.length;
      }
    }
    this.o.logger.info({ version: cutPoints.version, population: all.length, scheduled }, 'recomputed cut points');
  }

  /**
   * After `tierctl rules apply`: load the new rules and re-evaluate every customer of the owned partitions at a
   * bounded rate; the transitions carry reason RULES_CHANGED. Progress is per partition, so a restart resumes.
   */
  async applyRulesIfChanged(): Promise<void> {
    const active = await this.o.tierState.getActiveRules();
    if (!active) return;
    if (active.version !== this.o.engine.rules.version) {
      this.o.engine.rules = parseRules(active.text, `redis:${this.o.tierState.keys.rules()}`);
      this.o.logger.info({ version: active.version }, 'loaded new rules version');
    }
    for (const p of [...this.owned].sort((a, b) => a - b)) {
      const meta = await this.o.tierState.getPartitionMeta(p);
      if (meta.rules_version === active.version) continue;
      await this.withLock(p, async () => {
        const clock = (await this.clock()) ?? Date.now();
        const day = this.o.mode === 'live' ? dayOf(clock) : Number(meta.closed_day ?? dayOf(clock));
        let done = 0;
        const started = Date.now();
        for await (const ids of this.o.tierState.customers(p, Math.min(1000, this.o.rulesReevaluationRate))) {
          await this.o.engine.evaluate(
            p,
            ids.map((customerId) => ({
              customerId,
              day,
              at: endOfDay(day),
              processedDueAt: null,
              touch: '0',
              rulesChanged: true,
            })),
          );
          done += ids.length;
          const ahead = (done / this.o.rulesReevaluationRate) * 1000 - (Date.now() - started);
          if (ahead > 0) await new Promise((r) => setTimeout(r, ahead));
        }
        await this.o.tierState.setPartitionMeta(p, { rules_version: active.version });
        this.o.logger.info({ partition: p, version: active.version, customers: done }, 'rules change applied');
      });
    }
  }
}

/** Metric names the rules refer to (what cut points may need), in a stable order. */
export function referencedMetricNames(rules: unknown): string[] {
  const text = JSON.stringify(rules);
  return [...KNOWN_METRICS].filter((m) => text.includes(`"${m}"`)).sort();
}
