import type { ServiceMetrics } from '@tierstream/observability';
import { DAY_MS, isoDay } from '@tierstream/tierstate';

/** Why a partition cannot close its next day. */
export type Blocker =
  /** The cut points of `day` (a cut-point day) are not computed: the barrier lacks the population of `missing`. */
  | { kind: 'barrier'; day: number; missing: number[] }
  /** Another instance holds the partition's lease (it is still finishing, or died and the lease has not run out). */
  | { kind: 'lease' }
  /** A rules change (rules-change.ts) holds the partition until `waitingFor` have reported the same closed day. */
  | { kind: 'rules-change'; apply: number; version: string; waitingFor: number[] };

interface PartitionState {
  closedDay: number | null;
  /** Since when (ms) the partition has had a day due that it did not close; null when it is caught up. */
  blockedSince: number | null;
  /** The day it cannot close (null: not known, e.g. lease not held). */
  blockedDay: number | null;
  blocker: Blocker | null;
}

/**
 * Day-close progress of the signals partitions this engine instance owns: the last closed day, whether a partition
 * has a day due (its end before the clock) that it cannot close, and why (the cut-point barrier, the lease). Feeds
 * the metrics (tierstream_last_closed_day_seconds, tierstream_engine_stuck_seconds, tierstream_cutpoint_barrier_*)
 * and /health/ready: a partition blocked longer than `limitMs` makes the engine not ready, naming the partition,
 * the day and the blocker. Pure bookkeeping (no I/O): the sweeper reports, the health check reads.
 */
export class DayProgress {
  private readonly parts = new Map<number, PartitionState>();

  constructor(
    private readonly opts: {
      /** ENGINE_STUCK_LIMIT_MS: how long a partition may be blocked before the engine is not ready. */
      limitMs: number;
      numPartitions: number;
      metrics?: ServiceMetrics;
      now?: () => number;
    },
  ) {}

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  private state(p: number): PartitionState {
    let s = this.parts.get(p);
    if (!s) {
      s = { closedDay: null, blockedSince: null, blockedDay: null, blocker: null };
      this.parts.set(p, s);
    }
    return s;
  }

  /** Partition `p` has closed every day up to `day` (a day close, or the stored closed day at a sweep's start). */
  closedUpTo(p: number, day: number): void {
    const s = this.state(p);
    if (s.closedDay !== null && day <= s.closedDay) return;
    s.closedDay = day;
    // Progress: whatever blocked the partition before does not any more.
    s.blockedSince = null;
    s.blockedDay = null;
    s.blocker = null;
    this.opts.metrics?.lastClosedDay.set({ partition: String(p) }, (day * DAY_MS) / 1000);
    this.publish();
  }

  /** Partition `p` has day `day` (null: unknown) due and cannot close it because of `blocker`. */
  blocked(p: number, day: number | null, blocker: Blocker): void {
    const s = this.state(p);
    if (s.blockedSince === null) s.blockedSince = this.now();
    s.blockedDay = day ?? s.blockedDay;
    s.blocker = blocker;
    this.publish();
  }

  /** Partition `p` has no day due (caught up with the clock, or nothing to close yet). */
  caughtUp(p: number): void {
    const s = this.state(p);
    if (s.blockedSince === null) return;
    s.blockedSince = null;
    s.blockedDay = null;
    s.blocker = null;
    this.publish();
  }

  /** Forgets the partitions this instance no longer owns (their gauges are removed). */
  retain(owned: ReadonlySet<number>): void {
    let changed = false;
    for (const p of [...this.parts.keys()]) {
      if (owned.has(p)) continue;
      this.parts.delete(p);
      changed = true;
      const labels = { partition: String(p) };
      for (const g of ['lastClosedDay', 'stuckSeconds', 'barrierWaiting', 'barrierDay'] as const)
        this.opts.metrics?.[g].remove(labels);
    }
    if (changed) this.publish();
  }

  /**
   * The readiness problems: one per owned partition blocked for longer than the limit, e.g. `tier-engine: partition
   * 1 has not closed 2026-03-02 for 612 s (limit 600 s): the cut-point barrier of 2026-03-01 waits for partitions 2
   * (no live engine instance has contributed their population)`. Also refreshes the stuck-seconds gauge.
   */
  problems(): string[] {
    this.publish();
    const out: string[] = [];
    const now = this.now();
    for (const [p, s] of [...this.parts].sort((a, b) => a[0] - b[0])) {
      if (s.blockedSince === null || now - s.blockedSince <= this.opts.limitMs) continue;
      const what = s.blockedDay === null ? 'has not closed a day' : `has not closed ${isoDay(s.blockedDay)}`;
      out.push(
        `tier-engine: partition ${p} ${what} for ${Math.round((now - s.blockedSince) / 1000)} s ` +
          `(limit ${Math.round(this.opts.limitMs / 1000)} s): ${describe(s.blocker)}`,
      );
    }
    return out;
  }

  private publish(): void {
    const m = this.opts.metrics;
    if (!m) return;
    const now = this.now();
    const missing = new Set<number>();
    for (const [p, s] of this.parts) {
      const labels = { partition: String(p) };
      m.stuckSeconds.set(labels, s.blockedSince === null ? 0 : (now - s.blockedSince) / 1000);
      const barrier = s.blocker?.kind === 'barrier' ? s.blocker : null;
      m.barrierWaiting.set(labels, barrier ? 1 : 0);
      m.barrierDay.set(labels, barrier ? (barrier.day * DAY_MS) / 1000 : 0);
      for (const q of barrier?.missing ?? []) missing.add(q);
    }
    for (let q = 0; q < this.opts.numPartitions; q++)
      m.barrierMissing.set({ partition: String(q) }, missing.has(q) ? 1 : 0);
  }
}

function describe(blocker: Blocker | null): string {
  if (blocker === null) return 'unknown';
  if (blocker.kind === 'lease')
    return 'its lease is held by another instance (still finishing, or died and the lease has not run out)';
  if (blocker.kind === 'rules-change')
    return (
      `the rules change to ${blocker.version} (apply ${blocker.apply}) holds it until partitions ` +
      `${blocker.waitingFor.join(', ')} report the same closed day (is every signals partition owned by a running engine?)`
    );
  const parts = blocker.missing.length === 1 ? 'partition' : 'partitions';
  return (
    `the cut-point barrier of ${isoDay(blocker.day)} waits for ${parts} ${blocker.missing.join(', ')} ` +
    '(no live engine instance has contributed their population: is every signals partition owned by a running engine?)'
  );
}
