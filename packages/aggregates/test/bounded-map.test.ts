import { describe, expect, it } from 'vitest';
import { BoundedMap } from '../src/bounded-map';

describe('BoundedMap', () => {
  it('keeps at most its capacity: a new key in a full map forgets the oldest quarter first', () => {
    const m = new BoundedMap<string, number>(8);
    for (let i = 0; i < 8; i++) m.set(`k${i}`, i);
    // An existing key: no eviction, its place kept.
    m.set('k0', 10);
    expect(m.size).toBe(8);
    expect(m.get('k0')).toBe(10);
    m.set('k8', 8);
    expect(m.size).toBe(7);
    expect(m.get('k0')).toBeUndefined();
    expect(m.get('k1')).toBeUndefined();
    expect(m.get('k2')).toBe(2);
    expect(m.get('k8')).toBe(8);
    m.delete('k8');
    expect(m.get('k8')).toBeUndefined();
  });
});
