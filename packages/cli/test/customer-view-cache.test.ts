import { describe, expect, it } from 'vitest';
import { CustomerViewCache } from '../src/ops/customer-view';

describe('CustomerViewCache', () => {
  it('loads a key once per ttl, again after it, and forgets a failed load', async () => {
    let now = 1_000;
    const cache = new CustomerViewCache(1_000, () => now);
    let loads = 0;
    const load = async () => ++loads;
    expect(await cache.get('k', load)).toBe(1);
    now += 999;
    expect(await cache.get('k', load)).toBe(1);
    expect(await cache.get('other', load)).toBe(2);
    now += 1;
    expect(await cache.get('k', load)).toBe(3);
    await expect(cache.get('bad', async () => Promise.reject(new Error('redis away')))).rejects.toThrow('redis away');
    await Promise.resolve();
    expect(await cache.get('bad', load)).toBe(4);
  });
});
