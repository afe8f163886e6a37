import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from '../src/breaker';
import { TokenBucket } from '../src/rate-limit';
import { backoffMs, DeliveryError, errorOfResponse, nextStep, parseRetryAfter } from '../src/retry-policy';

const policy = { initialMs: 100, maxMs: 10_000, maxAttempts: 5 };

describe('retry policy', () => {
  it('retries 408, 429 and 5xx; dead-letters other 4xx and 3xx at once with status and body excerpt', () => {
    for (const s of [408, 429, 500, 502, 503]) expect(errorOfResponse(s, '', undefined, 0)?.retriable).toBe(true);
    for (const s of [301, 400, 401, 404, 410, 422]) {
      const err = errorOfResponse(s, 'x'.repeat(2_000), undefined, 0)!;
      expect(err.retriable).toBe(false);
      expect(nextStep(err, 1, policy, () => 0.5)).toEqual({
        kind: 'dead-letter',
        reason: 'NON_RETRIABLE_STATUS',
        status: s,
        bodyExcerpt: 'x'.repeat(512),
        message: `HTTP ${s}`,
      });
    }
    expect(errorOfResponse(200, '', undefined, 0)).toBeNull();
    expect(errorOfResponse(204, '', undefined, 0)).toBeNull();
  });

  it('parses Retry-After as seconds or an HTTP date, and honours it over a shorter backoff', () => {
    expect(parseRetryAfter('2', 0)).toBe(2_000);
    expect(parseRetryAfter(new Date(5_000).toUTCString(), 1_000)).toBe(4_000);
    expect(parseRetryAfter('soon', 0)).toBeUndefined();
    const err = errorOfResponse(429, '', '3', 0)!;
    expect(err.retryAfterMs).toBe(3_000);
    expect(nextStep(err, 1, policy, () => 0)).toEqual({ kind: 'retry', delayMs: 3_000 });
    // capped at maxMs
    expect(nextStep(errorOfResponse(429, '', '3600', 0), 1, policy, () => 0)).toEqual({
      kind: 'retry',
      delayMs: 10_000,
    });
  });

  it('backs off exponentially with jitter within [step/2, step], capped', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.double({ min: 0, max: 0.999999, noNaN: true }), (a, r) => {
        const step = Math.min(policy.maxMs, policy.initialMs * 2 ** (a - 1));
        const d = backoffMs(a, policy, () => r);
        expect(d).toBeGreaterThanOrEqual(Math.floor(step / 2));
        expect(d).toBeLessThanOrEqual(step);
      }),
    );
    expect(backoffMs(1, policy, () => 0)).toBe(50);
    expect(backoffMs(4, policy, () => 0.999999)).toBe(800);
  });

  it('dead-letters a retriable failure after maxAttempts attempts', () => {
    const err = new DeliveryError('connect ECONNREFUSED', true);
    expect(nextStep(err, 4, policy, () => 0).kind).toBe('retry');
    expect(nextStep(err, 5, policy, () => 0)).toMatchObject({ kind: 'dead-letter', reason: 'ATTEMPTS_EXHAUSTED' });
    expect(nextStep(null, 5, policy, () => 0)).toEqual({ kind: 'delivered' });
  });
});

describe('CircuitBreaker', () => {
  it('opens after N consecutive failures, lets one probe through after openMs, closes on its success', () => {
    const b = new CircuitBreaker(3, 1_000);
    b.failure(0);
    b.failure(1);
    b.success();
    b.failure(2);
    b.failure(3);
    expect(b.stateAt(3)).toBe('closed');
    b.failure(10);
    expect(b.stateAt(10)).toBe('open');
    expect(b.acquire(500)).toBe(510);
    expect(b.stateAt(1_010)).toBe('half-open');
    expect(b.acquire(1_010)).toBe(0);
    expect(b.acquire(1_011)).toBeGreaterThan(0); // one probe at a time
    b.failure(1_020);
    expect(b.stateAt(1_500)).toBe('open');
    expect(b.acquire(2_020)).toBe(0);
    b.success();
    expect(b.stateAt(2_021)).toBe('closed');
    expect(b.acquire(2_021)).toBe(0);
  });
});

describe('TokenBucket', () => {
  it('starts at most rate requests per second after the burst', () => {
    const bucket = new TokenBucket(10, 0);
    let taken = 0;
    for (let t = 0; t <= 2_000; t += 5) if (bucket.take(t) === 0) taken++;
    expect(taken).toBeGreaterThanOrEqual(29);
    expect(taken).toBeLessThanOrEqual(31);
    expect(new TokenBucket(0, 0).take(0)).toBe(0);
    const b = new TokenBucket(1, 0);
    expect(b.take(0)).toBe(0);
    expect(b.take(0)).toBe(1_000);
  });
});
