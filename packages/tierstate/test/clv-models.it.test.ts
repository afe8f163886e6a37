import type { ClvModel } from '@tierstream/tiering';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestRedis } from '../../../test/support/stack';
import { ClvModelStore } from '../src/clv-models';

// The CLV model versions (issue 15) in the real stack's Redis.

const model = (day: number, r: number): ClvModel => ({
  version: `clv-${new Date(day * 86_400_000).toISOString().slice(0, 10)}`,
  day,
  timeUnit: 'weeks',
  bgnbd: { r, alpha: 4.4, a: 0.79, b: 2.4 },
  bgnbdLogLikelihood: -9582.4,
  sampleSize: 2357,
  gammaGamma: { p: 6.25, q: 3.74, gamma: 1544 },
  gammaGammaLogLikelihood: -4055.9,
  repeatBuyers: 946,
  margin: 1,
  monthlyDiscount: 0,
  fittedAt: 1,
  fitMs: 12.5,
});

describe('ClvModelStore', () => {
  const t = createTestRedis('clv-models');
  const store = new ClvModelStore(t.redis, 'ts');
  afterAll(() => t.cleanup());

  it('keeps every version (oldest first) and the newest by day, whatever the order they are stored in', async () => {
    expect(await store.latest()).toBeNull();
    expect(await store.history()).toEqual([]);
    await store.set(model(10_007, 0.25));
    await store.set(model(10_000, 0.24));
    expect(await store.latest()).toEqual(model(10_007, 0.25));
    expect((await store.history()).map((m) => m.version)).toEqual(['clv-1997-05-19', 'clv-1997-05-26']);
    // The same version again (a second instance that fitted the same population) replaces it.
    await store.set(model(10_007, 0.26));
    expect(await store.latest()).toEqual(model(10_007, 0.26));
    expect(await store.history()).toHaveLength(2);
  });

  it('setIfAbsent (tierctl clv fit --store) never replaces a version: engines keep the one they loaded', async () => {
    expect(await store.setIfAbsent(model(10_007, 0.3))).toBe(false);
    expect(await store.latest()).toEqual(model(10_007, 0.26));
    expect((await store.history()).find((m) => m.version === 'clv-1997-05-26')).toEqual(model(10_007, 0.26));
    // A new day's version is stored and becomes the newest; an older new one is stored without becoming it.
    expect(await store.setIfAbsent(model(10_014, 0.31))).toBe(true);
    expect(await store.setIfAbsent(model(9_993, 0.22))).toBe(true);
    expect(await store.latest()).toEqual(model(10_014, 0.31));
    expect((await store.history()).map((m) => m.day)).toEqual([9_993, 10_000, 10_007, 10_014]);
  });

  it('records failed fit attempts by day (ascending, a repeat is one), apart from the versions', async () => {
    expect(await store.failedDays()).toEqual([]);
    await store.setFailed(10_021, '3 customers with a purchase day, fewer than the 500 needed');
    await store.setFailed(10_003, 'no repeat buyer with a positive mean spend');
    await store.setFailed(10_021, 'again');
    expect(await store.failedDays()).toEqual([10_003, 10_021]);
    expect(await t.redis.hget(store.keys.failed(), '10021')).toBe('again');
    expect((await store.history()).map((m) => m.day)).toEqual([9_993, 10_000, 10_007, 10_014]);
  });
});
