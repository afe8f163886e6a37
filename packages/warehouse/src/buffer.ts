/**
 * RowBuffer: collects rows until a batch is big enough (maxRows) or old enough (maxAgeMs). No I/O and no timers: the
 * caller asks shouldFlush() (e.g. after each consumed batch and on a tick), take()s the rows and writes them.
 * isFull() is the backpressure signal: when the writer falls behind, the caller pauses consuming until a flush
 * frees room (capacity defaults to 2 × maxRows, so one batch can be in flight while the next one fills).
 */
export interface RowBufferOptions {
  maxRows: number;
  maxAgeMs: number;
  /** isFull() threshold; default 2 × maxRows. */
  capacity?: number;
  /** Clock in epoch ms; injectable for tests. */
  now?: () => number;
}

export class RowBuffer<T> {
  readonly maxRows: number;
  readonly maxAgeMs: number;
  readonly capacity: number;
  private readonly now: () => number;
  private rows: T[] = [];
  /** When the oldest buffered row arrived; undefined when empty. */
  private oldestAt: number | undefined;

  constructor(opts: RowBufferOptions) {
    if (!Number.isInteger(opts.maxRows) || opts.maxRows < 1)
      throw new RangeError(`maxRows must be an integer ≥ 1, got ${opts.maxRows}`);
    if (!(opts.maxAgeMs >= 0)) throw new RangeError(`maxAgeMs must be ≥ 0, got ${opts.maxAgeMs}`);
    const capacity = opts.capacity ?? opts.maxRows * 2;
    if (!Number.isInteger(capacity) || capacity < opts.maxRows) {
      throw new RangeError(`capacity must be an integer ≥ maxRows (${opts.maxRows}), got ${capacity}`);
    }
    this.maxRows = opts.maxRows;
    this.maxAgeMs = opts.maxAgeMs;
    this.capacity = capacity;
    this.now = opts.now ?? Date.now;
  }

  get size(): number {
    return this.rows.length;
  }

  push(...rows: T[]): void {
    if (rows.length === 0) return;
    if (this.oldestAt === undefined) this.oldestAt = this.now();
    for (const r of rows) this.rows.push(r);
  }

  /** Age of the oldest buffered row in ms (0 when empty). */
  ageMs(now = this.now()): number {
    return this.oldestAt === undefined ? 0 : Math.max(0, now - this.oldestAt);
  }

  shouldFlush(now = this.now()): boolean {
    if (this.rows.length === 0) return false;
    return this.rows.length >= this.maxRows || this.ageMs(now) >= this.maxAgeMs;
  }

  /** How long until the age limit makes shouldFlush() true; undefined when empty. Useful to arm one timer. */
  msUntilDue(now = this.now()): number | undefined {
    if (this.rows.length === 0) return undefined;
    if (this.rows.length >= this.maxRows) return 0;
    return Math.max(0, this.maxAgeMs - this.ageMs(now));
  }

  isFull(): boolean {
    return this.rows.length >= this.capacity;
  }

  /** Removes and returns up to `max` rows (default all), oldest first. */
  take(max = Number.POSITIVE_INFINITY): T[] {
    const n = Math.min(max, this.rows.length);
    const out = this.rows.slice(0, n);
    this.rows = this.rows.slice(n);
    // Rows left behind arrived no earlier than the taken ones; keeping the old timestamp errs towards flushing early.
    if (this.rows.length === 0) this.oldestAt = undefined;
    return out;
  }

  /** Puts back rows whose write failed, in front, and marks them due so the next shouldFlush() retries them. */
  requeue(rows: readonly T[]): void {
    if (rows.length === 0) return;
    this.rows = [...rows, ...this.rows];
    this.oldestAt = Number.NEGATIVE_INFINITY;
  }
}
