import calculateSlot from 'cluster-key-slot';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { customerHashTag } from '../src/redis';

/** Redis Cluster's rule: the slot key is the text between the first `{` and the next `}`, if that is non-empty. */
function hashedPart(key: string): string {
  const open = key.indexOf('{');
  if (open < 0) return key;
  const close = key.indexOf('}', open + 1);
  if (close < 0 || close === open + 1) return key;
  return key.slice(open + 1, close);
}

describe('customerHashTag', () => {
  it('keeps ids without braces or % unchanged', () => {
    expect(customerHashTag('C000001')).toBe('{C000001}');
    expect(customerHashTag('客户-张伟😀')).toBe('{客户-张伟😀}');
  });

  it('puts every key of one customer in one slot, whatever the id (braces included)', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('{', '}', '%', 'a', '7', 'é', ':'), minLength: 1 }), (id) => {
        const tag = customerHashTag(id);
        const keys = [`ts:${tag}:agg`, `ts:${tag}:tier`, `ts:${tag}:attrs`];
        expect(new Set(keys.map((k) => calculateSlot(k))).size).toBe(1);
        // (Customer ids are never empty: validation rejects blank ids.) The whole escaped id is the hashed part (never a prefix of it, never the whole key).
        expect(hashedPart(keys[0]!)).toBe(tag.slice(1, -1));
      }),
    );
    // The raw id `}x` gives an empty tag: Redis hashes the whole key, so agg and tier would be in different slots
    // (and cluster-key-slot, which ioredis uses to route, computes yet another slot for it than Redis does).
    expect(hashedPart('ts:{}x}:agg')).toBe('ts:{}x}:agg');
    expect(hashedPart(`ts:${customerHashTag('}x')}:agg`)).toBe('%7Dx');
  });

  it('is injective', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom('{', '}', '%', '7', 'B', 'D') }),
        fc.string({ unit: fc.constantFrom('{', '}', '%', '7', 'B', 'D') }),
        (a, b) => {
          fc.pre(a !== b);
          expect(customerHashTag(a)).not.toBe(customerHashTag(b));
        },
      ),
    );
  });
});
