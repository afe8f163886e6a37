import type { RedisClient } from '@tierstream/config';
import {
  type CutPoints,
  cutMetricNames,
  cutPointsForRules,
  type Metrics,
  parseRules,
  type Rules,
} from '@tierstream/tiering';
import { dayOf, endOfDay, isoDay, type RulesVersion, type TierStateStore } from '@tierstream/tierstate';
import type { Logger } from 'pino';
import type { TierEngine } from './engine';

/**
 * A rules change across every engine instance and partition (design-decisions §20): when a new version is active,
 *   1. each partition stops closing days and reports its last closed day and its population as of that day (the new
 *      rules' cut metrics of every customer existing by then) in the change's rendezvous hash; a partition behind
 *      the latest reported day first closes the days up to it (old rules), then reports again;
 *   2. when every partition has reported the same day C, whoever completes the set computes the cut points of the
 *      new rules from the whole population (`cutPointsForRules`, as `tierctl rules diff` does) and stores the
 *      decision once (HSETNX): measured day C, wave day W (C in replay, today live), the cut points;
 *   3. each partition re-evaluates every customer as of W with the new rules and those cut points (reason
 *      RULES_CHANGED) and records the apply number in its meta; then it closes days again.
 * So the cut points of the new rules apply in the same wave as the rest of the change, on the same day everywhere.
 */

/** The decision of a rules change, stored once per apply number. */
export interface RulesChangeDecision {
  /** The last closed day of every partition (the population's day); null when no partition had started. */
  measured: number | null;
  /** The day every customer is re-evaluated as of. */
  day: number | null;
  cutPoints: CutPoints | null;
}

/** What the reports in a change's rendezvous hash say (fields `day:<partition>` = a day number or 'none'). */
export interface RulesChangeReports {
  /** Partitions that reported. */
  reported: number;
  /** The latest day reported: a partition behind may close days up to it (null: none reported a day). */
  latest: number | null;
  /** Every partition reported, all the same day (or all 'none': no partition had started). */
  decidable: boolean;
  /** When decidable: the common day (null for 'none'). */
  measured: number | null;
}

/** Reads the reports of a rules change's rendezvous hash (pure). */
export function readReports(fields: Record<string, string>, numPartitions: number): RulesChangeReports {
  let reported = 0;
  let latest: number | null = null;
  const days = new Set<string>();
  for (let q = 0; q < numPartitions; q++) {
    const d = fields[`day:${q}`];
    if (d === undefined) continue;
    reported++;
    days.add(d);
    if (d !== 'none') latest = latest === null ? Number(d) : Math.max(latest, Number(d));
  }
  const decidable = numPartitions > 0 && reported === numPartitions && days.size === 1;
  const common = decidable ? [...days][0]! : 'none';
  return { reported, latest, decidable, measured: common === 'none' ? null : Number(common) };
}

/**
 * The day a rules change re-evaluates every customer as of, given the measured (last closed) day: that day in
 * replay (its events are complete), today live (at least the day after the closed one). Pure.
 */
export function waveDay(mode: 'live' | 'replay', measured: number, today: number): number {
  return mode === 'live' ? Math.max(measured + 1, today) : measured;
}

/** A partition held by a rules change (RulesChange.closeLimit). */
export interface RulesHold {
  /** The last day the partition may close (its closed day, or the latest reported day to catch up to). */
  limit: number;
  /** The change is decided: the partition only waits for its own re-evaluation. */
  decided: boolean;
  apply: number;
  version: string;
  /** Partitions that have not reported, or reported a day behind `limit`. */
  waitingFor: number[];
}

/** How long a change's rendezvous hash is kept (`tierctl rules show` reads its progress). */
const CHANGE_TTL_SECONDS = 30 * 86_400;

export interface RulesChangeOptions {
  engine: TierEngine;
  tierState: TierStateStore;
  redis: RedisClient;
  mode: 'live' | 'replay';
  numPartitions: number;
  rulesReevaluationRate: number;
  /** The engine's clock (wall time live, the watermark in replay). */
  clock: () => Promise<number | null>;
  /** The rules version a partition whose meta names none is on: the one this process started with. */
  startVersion: string;
  logger: Logger;
  /** After this instance switched to a new active version (the RULES_FILE check runs again). */
  onSwitched?: (active: RulesVersion) => void;
  /** True once the service is stopping: a wave in progress stops (the partition does it again after a restart). */
  stopping?: () => boolean;
}

export class RulesChange {
  /** The active version this instance works towards, with its parsed rules. */
  private target: { entry: RulesVersion; rules: Rules } | null = null;
  /** Owned partitions that have not finished the target change: they close no days (except to catch up). */
  readonly pending = new Set<number>();

  constructor(private readonly o: RulesChangeOptions) {}

  /** Whether partition p was switched to the new rules but not every customer was re-evaluated yet. */
  reevaluating(p: number): boolean {
    return this.pending.has(p) && this.target !== null && this.o.engine.rules.version === this.target.entry.version;
  }

  /**
   * Reads the active version; returns the owned partitions that must still take part in its change (pending).
   * A partition is done with apply n when its meta says `rules_seq` n, or, before any meta named an apply number,
   * when it is on the same version (the file this process started with, or an active version of an older engine).
   */
  async poll(owned: readonly number[]): Promise<number[]> {
    const active = await this.o.tierState.getActiveRules();
    if (!active) return [];
    if (this.target?.entry.seq !== active.seq) {
      this.target = { entry: active, rules: parseRules(active.text, `redis:${this.o.tierState.keys.rules()}`) };
      this.pending.clear();
    }
    for (const p of [...this.pending]) if (!owned.includes(p)) this.pending.delete(p);
    const todo: number[] = [];
    for (const p of [...owned].sort((a, b) => a - b)) {
      const meta = await this.o.tierState.getPartitionMeta(p);
      if (meta.rules_seq === undefined && (meta.rules_version ?? this.o.startVersion) === active.version) {
        await this.o.tierState.setPartitionMeta(p, { rules_seq: active.seq, rules_version: active.version });
        continue;
      }
      if (meta.rules_seq === String(active.seq)) {
        this.pending.delete(p);
        continue;
      }
      if (!this.pending.has(p)) {
        this.o.logger.info(
          { partition: p, version: active.version, apply: active.seq, source: active.source },
          'rules change: holding the partition for the new rules version',
        );
      }
      this.pending.add(p);
      todo.push(p);
    }
    return todo;
  }

  /**
   * While partition p's change is pending: the last day p may close (the latest day another partition reported,
   * to catch up, or `closed` itself: hold), whether the change is decided (p only waits for its own wave), and the
   * partitions the rendezvous waits for (not reported, or behind the latest day). Undefined when none is pending.
   */
  async closeLimit(p: number, closed: number): Promise<RulesHold | undefined> {
    if (!this.pending.has(p) || !this.target) return undefined;
    const { seq: apply, version } = this.target.entry;
    const h = await this.o.redis.hgetall(this.o.tierState.rules.keys.change(apply));
    if (h.decided !== undefined) return { limit: closed, decided: true, apply, version, waitingFor: [] };
    const { latest } = readReports(h, this.o.numPartitions);
    const limit = latest === null ? closed : Math.max(closed, latest);
    const waitingFor: number[] = [];
    for (let q = 0; q < this.o.numPartitions; q++) {
      const d = h[`day:${q}`];
      if (d === undefined || d === 'none' || Number(d) < limit) waitingFor.push(q);
    }
    return { limit, decided: false, apply, version, waitingFor };
  }

  /**
   * One step of partition p's change, under p's lock: report (or report again after catching up), decide when every
   * partition reported the same day, and once decided re-evaluate the partition. Returns whether p is done.
   */
  async step(p: number, partitionClosed: number | null): Promise<boolean> {
    const target = this.target;
    if (!target || !this.pending.has(p)) return true;
    const { seq, version } = target.entry;
    const key = this.o.tierState.rules.keys.change(seq);
    let h = await this.o.redis.hgetall(key);
    if (h.decided === undefined) {
      const reported = partitionClosed === null ? 'none' : String(partitionClosed);
      if (h[`day:${p}`] !== reported) {
        const population =
          partitionClosed === null ? [] : await this.o.engine.rulesChangePopulation(p, partitionClosed);
        const names = cutMetricNames(target.rules);
        const rows = population.map((m) => names.map((n) => m[n] ?? null));
        const results = await this.o.redis
          .multi()
          .hset(key, `day:${p}`, reported, `pop:${p}`, JSON.stringify(rows))
          .expire(key, CHANGE_TTL_SECONDS)
          .hgetall(key)
          .exec();
        h = (results?.[2]?.[1] ?? {}) as Record<string, string>;
        this.o.logger.info(
          { partition: p, version, apply: seq, closedDay: reported === 'none' ? null : isoDay(partitionClosed!) },
          'rules change: partition reported its population',
        );
      }
      if (h.decided === undefined) {
        const decision = await this.decide(target.rules, seq, h);
        if (!decision) return false;
        await this.o.redis.hsetnx(key, 'decided', JSON.stringify(decision));
        h = await this.o.redis.hgetall(key);
        const parts = Object.keys(h).filter((f) => f.startsWith('pop:'));
        if (parts.length > 0) await this.o.redis.hdel(key, ...parts);
      }
    }
    const decision = JSON.parse(h.decided!) as RulesChangeDecision;
    return this.reevaluate(p, target, decision);
  }

  /** The decision once every partition reported the same day; null while not. */
  private async decide(rules: Rules, seq: number, h: Record<string, string>): Promise<RulesChangeDecision | null> {
    const reports = readReports(h, this.o.numPartitions);
    if (!reports.decidable) return null; // waiting for the other partitions, or for those behind to catch up
    if (reports.measured === null) return { measured: null, day: null, cutPoints: null };
    const measured = reports.measured;
    const names = cutMetricNames(rules);
    const population: Metrics[] = [];
    for (let q = 0; q < this.o.numPartitions; q++) {
      for (const row of JSON.parse(h[`pop:${q}`] ?? '[]') as Array<Array<number | null>>) {
        population.push(Object.fromEntries(names.map((n, i) => [n, row[i] ?? null])));
      }
    }
    for (const stored of await this.o.tierState.getCutPointsHistory()) this.o.engine.cutPoints = stored;
    const live = this.o.mode === 'live';
    const today = dayOf((await this.o.clock()) ?? Date.now());
    const cutPoints = cutPointsForRules(rules, population, {
      measuredDay: measured,
      fromDay: live ? measured + 1 : measured,
      seq,
      // The newest version measured on or before C (a scheduled recompute of C itself included): what the days
      // after C would use without the change.
      inForce: this.o.engine.cutPointsFor(measured + 1),
      // The rules in force before this apply (dimensions whose scoring is unchanged keep their cuts), as
      // `tierctl rules diff` took them: the previous apply in the history. Not the engine's current rules: an engine
      // (re)started after the apply already runs the new version, which made every dimension look unchanged and kept
      // the old cuts (a share change applied while the engines were stopped did not move anyone).
      previousRules: await this.rulesBefore(seq),
    });
    this.o.logger.info(
      { apply: seq, version: rules.version, measuredDay: isoDay(measured), population: population.length },
      'rules change: computed the cut points of the new rules',
    );
    return { measured, day: waveDay(this.o.mode, measured, today), cutPoints };
  }

  /** The rules of the newest apply before `seq` in the history; the engine's rules when there is none. */
  private async rulesBefore(seq: number): Promise<Rules> {
    const before = (await this.o.tierState.rules.history()).find((e) => e.seq < seq);
    return before ? parseRules(before.text, `rules ${before.version} (apply ${before.seq})`) : this.o.engine.rules;
  }

  /** Switches to the new rules and re-evaluates every customer of p as of the decided day (reason RULES_CHANGED). */
  private async reevaluate(
    p: number,
    target: { entry: RulesVersion; rules: Rules },
    decision: RulesChangeDecision,
  ): Promise<boolean> {
    const { engine, tierState } = this.o;
    const { seq, version } = target.entry;
    if (decision.cutPoints) {
      await tierState.setCutPoints(decision.cutPoints);
      engine.cutPoints = decision.cutPoints;
    }
    if (engine.rules !== target.rules) {
      engine.rules = target.rules;
      this.o.logger.info({ version, apply: seq, source: target.entry.source }, 'rules change: switched to new rules');
      this.o.onSwitched?.(target.entry);
    }
    // For the warehouse's cutpoint_history (once per process; described with the rules just switched to).
    if (decision.cutPoints) await engine.publishCutPoints(decision.cutPoints);
    // Until every customer is re-evaluated, the population cache holds entries of the old rules (their due days and
    // cut versions): not usable, even where the new rules rank on the same metrics.
    await tierState.setPartitionMeta(p, { popcache: '' });
    let done = 0;
    const day = decision.day;
    if (day !== null) {
      const started = Date.now();
      const rate = this.o.rulesReevaluationRate;
      for await (const ids of tierState.customers(p, Math.min(1000, rate))) {
        if (this.o.stopping?.()) {
          this.o.logger.info({ partition: p, apply: seq, customers: done }, 'rules change: wave interrupted by stop');
          return false;
        }
        await engine.evaluate(
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
        const ahead = (done / rate) * 1000 - (Date.now() - started);
        if (ahead > 0) await new Promise((r) => setTimeout(r, ahead));
      }
    }
    const popcache = engine.populationNames?.join(',') ?? '';
    // Every customer was evaluated under the new rules: the population cache holds their cut metrics again.
    await tierState.setPartitionMeta(p, { rules_version: version, rules_seq: seq, popcache });
    await this.o.redis.hset(
      tierState.rules.keys.change(seq),
      `done:${p}`,
      JSON.stringify({ customers: done, day: day === null ? null : isoDay(day), at: Date.now() }),
    );
    this.pending.delete(p);
    this.o.logger.info(
      { partition: p, version, apply: seq, customers: done, day: day === null ? null : isoDay(day) },
      'rules change applied',
    );
    return true;
  }
}
