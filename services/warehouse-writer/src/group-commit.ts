import type { ServiceMetrics } from '@tierstream/observability';
import { type RoutedRow, RowBuffer, type WarehouseTable, type WarehouseWriter } from '@tierstream/warehouse';

interface Waiter {
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * Group commit for ClickHouse: every consumed partition batch adds its rows (already mapped and validated, each tagged
 * with its table) and waits; one INSERT per table carries the rows of all waiting batches once the buffer holds
 * `maxRows` or its oldest row is `maxAgeMs` old. Only then do the batches return and their offsets get committed.
 * Memory is bounded by backpressure: a batch does not return (so its partition fetches nothing more) until its rows
 * are in ClickHouse. A failed INSERT (after the writer's own retries with backoff) fails every waiting batch; the
 * consumer re-fetches them and tries again.
 */
export class GroupCommit {
  private readonly buffer: RowBuffer<RoutedRow>;
  private waiters: Waiter[] = [];
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();
  /** Rows in the buffer per table (the `table` label of tierstream_buffered_rows). */
  private readonly buffered = new Map<WarehouseTable, number>();

  constructor(
    private readonly writer: WarehouseWriter,
    opts: { maxRows: number; maxAgeMs: number },
    private readonly metrics?: ServiceMetrics,
  ) {
    this.buffer = new RowBuffer({ maxRows: opts.maxRows, maxAgeMs: opts.maxAgeMs });
  }

  add(rows: readonly RoutedRow[]): Promise<void> {
    if (rows.length === 0) return Promise.resolve();
    this.buffer.push(...rows);
    for (const r of rows) this.buffered.set(r.table, (this.buffered.get(r.table) ?? 0) + 1);
    for (const [table, n] of this.buffered) this.metrics?.bufferedRows.set({ table }, n);
    const done = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    this.arm();
    return done;
  }

  private arm(): void {
    const wait = this.buffer.msUntilDue();
    if (wait === undefined) return;
    if (wait === 0) {
      this.flushNow();
      return;
    }
    if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.flushNow();
      }, wait);
    }
  }

  private flushNow(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    const rows = this.buffer.take();
    const waiters = this.waiters;
    this.waiters = [];
    if (rows.length === 0) return;
    for (const table of this.buffered.keys()) this.metrics?.bufferedRows.set({ table }, 0);
    this.buffered.clear();
    // Inserts run one after another: rows of a customer reach ClickHouse in the order they were consumed.
    this.flushing = this.flushing.then(async () => {
      try {
        await this.insert(rows);
        for (const w of waiters) w.resolve();
      } catch (err) {
        for (const w of waiters) w.reject(err);
      }
    });
  }

  private async insert(rows: RoutedRow[]): Promise<void> {
    await this.writer.insertRouted(rows, (table) => this.metrics?.clickhouseLatency.startTimer({ table }));
  }

  /** Flushes what is buffered and waits for every insert in flight (graceful shutdown). */
  async drain(): Promise<void> {
    this.flushNow();
    await this.flushing;
  }
}
