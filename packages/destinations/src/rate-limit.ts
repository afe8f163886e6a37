/**
 * A token bucket (pure: the caller passes the clock): `ratePerSecond` tokens per second, holding at most one
 * second's worth (the burst). Rate 0 means unlimited.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly ratePerSecond: number,
    nowMs: number,
  ) {
    this.tokens = Math.max(1, ratePerSecond);
    this.last = nowMs;
  }

  /** Takes one token at `nowMs`: 0 = taken, otherwise the ms until one is available (nothing taken). */
  take(nowMs: number): number {
    if (this.ratePerSecond <= 0) return 0;
    const capacity = Math.max(1, this.ratePerSecond);
    this.tokens = Math.min(capacity, this.tokens + ((nowMs - this.last) / 1000) * this.ratePerSecond);
    this.last = nowMs;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - this.tokens) / this.ratePerSecond) * 1000);
  }
}
