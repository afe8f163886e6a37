/**
 * Per-customer ordering: one FIFO lane per key (customer id). Only a lane's head can be handed out, and only while
 * the lane is idle, so a customer's later item is never sent before an earlier one is done (delivered or
 * dead-lettered), whatever retries happen; other lanes go on meanwhile. Pure (the caller passes the clock).
 */
export class CustomerLanes<T> {
  private readonly lanes = new Map<string, { items: T[]; busy: boolean; notBefore: number }>();
  /** Lane keys in arrival order of their first item: lanes are served round-robin from here. */
  private order: string[] = [];
  private cursor = 0;
  private pending = 0;

  /** Appends `item` to the lane of `key`. */
  push(key: string, item: T): void {
    let lane = this.lanes.get(key);
    if (!lane) {
      lane = { items: [], busy: false, notBefore: 0 };
      this.lanes.set(key, lane);
      this.order.push(key);
    }
    lane.items.push(item);
    this.pending++;
  }

  /** Items not yet done (in flight included). */
  get size(): number {
    return this.pending;
  }

  /**
   * The head of an idle lane that is due at `nowMs`, marking the lane busy; undefined when none is (all empty, busy
   * or deferred). Returns the key too, for done/defer.
   */
  next(nowMs: number): { key: string; item: T } | undefined {
    const n = this.order.length;
    for (let i = 0; i < n; i++) {
      const key = this.order[(this.cursor + i) % n]!;
      const lane = this.lanes.get(key)!;
      if (lane.busy || lane.items.length === 0 || lane.notBefore > nowMs) continue;
      lane.busy = true;
      this.cursor = (this.cursor + i + 1) % n;
      return { key, item: lane.items[0]! };
    }
    return undefined;
  }

  /** The head of `key`'s lane is done (delivered or dead-lettered): the lane's next item may go. */
  done(key: string): void {
    const lane = this.lanes.get(key);
    if (!lane?.busy) throw new Error(`lane ${key} has no item in flight`);
    lane.items.shift();
    lane.busy = false;
    lane.notBefore = 0;
    this.pending--;
    if (lane.items.length === 0) {
      this.lanes.delete(key);
      this.order = this.order.filter((k) => k !== key);
      this.cursor = this.order.length === 0 ? 0 : this.cursor % this.order.length;
    }
  }

  /** The head of `key`'s lane failed and goes again at `atMs` or later; the lane's other items wait behind it. */
  defer(key: string, atMs: number): void {
    const lane = this.lanes.get(key);
    if (!lane?.busy) throw new Error(`lane ${key} has no item in flight`);
    lane.busy = false;
    lane.notBefore = atMs;
  }

  /** The earliest instant a deferred idle lane becomes due (undefined when none is deferred). */
  nextDueAt(): number | undefined {
    let at: number | undefined;
    for (const lane of this.lanes.values()) {
      if (lane.busy || lane.items.length === 0 || lane.notBefore === 0) continue;
      at = at === undefined ? lane.notBefore : Math.min(at, lane.notBefore);
    }
    return at;
  }
}
