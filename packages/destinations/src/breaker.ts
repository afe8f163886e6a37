/**
 * A circuit breaker per destination (pure: the caller passes the clock). closed → open after `failureThreshold`
 * consecutive failed requests; open pauses every request for `openMs`; then half-open lets exactly one probe through:
 * its success closes the breaker, its failure opens it again for another `openMs`. Items are not dropped while it is
 * open: callers wait (`waitMs`) and keep their queue.
 */
export type BreakerState = 'closed' | 'open' | 'half-open';

/** Gauge values of the states (tierstream_destination_breaker_state). */
export const BREAKER_STATE_VALUE: Record<BreakerState, number> = { closed: 0, 'half-open': 1, open: 2 };

export class CircuitBreaker {
  private state: BreakerState = 'closed';
  private failures = 0;
  private openedAt = 0;
  private probing = false;

  constructor(
    private readonly failureThreshold: number,
    private readonly openMs: number,
  ) {}

  /** The state at `nowMs` (an open breaker whose pause is over reads half-open). */
  stateAt(nowMs: number): BreakerState {
    if (this.state === 'open' && nowMs - this.openedAt >= this.openMs) return 'half-open';
    return this.state;
  }

  /**
   * Asks to send one request at `nowMs`: 0 = go (the caller must then report success or failure), otherwise the ms
   * to wait before asking again. In half-open only one probe is let through until it reports.
   */
  acquire(nowMs: number): number {
    const state = this.stateAt(nowMs);
    if (state === 'closed') return 0;
    if (state === 'open') return this.openMs - (nowMs - this.openedAt);
    if (this.probing) return Math.max(1, Math.min(100, this.openMs));
    this.state = 'half-open';
    this.probing = true;
    return 0;
  }

  /** A request succeeded: the breaker closes and the failure count restarts. */
  success(): void {
    this.state = 'closed';
    this.failures = 0;
    this.probing = false;
  }

  /** A request failed (retriable error): counts towards opening; a failed probe re-opens at once. */
  failure(nowMs: number): void {
    this.failures++;
    if (this.state === 'half-open' || this.failures >= this.failureThreshold) {
      this.state = 'open';
      this.openedAt = nowMs;
      this.probing = false;
    }
  }
}
