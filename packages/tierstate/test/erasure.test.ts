import { customerDigest, suppressedUntil, suppressionKey } from '@tierstream/config';
import { loadTopicsSpec } from '@tierstream/contracts';
import { describe, expect, it } from 'vitest';
import { customerTagOf, erasureRequestProblems, globEscape } from '../src/erasure';
import { compactedTopics } from '../src/erasure-ports';

const request = {
  request_id: 'r1',
  customer_id: 'C1',
  reason: 'GDPR art. 17',
  requested_by: null,
  requested_at: 1,
  suppress: true,
  suppress_days: null,
};

describe('erasure (pure parts)', () => {
  it('tells a customer key from a shared one, also for customers named like partition or rules tags', () => {
    expect(customerTagOf('ts', 'ts:{C1}:agg')).toBe('{C1}');
    expect(customerTagOf('ts', 'ts:{p1}:agg')).toBe('{p1}');
    expect(customerTagOf('ts', 'ts:{rules}:tier')).toBe('{rules}');
    expect(customerTagOf('ts', 'ts:dest:crm:{C1}:parked')).toBe('{C1}');
    expect(customerTagOf('ts', 'ts:due:{p1}')).toBeNull();
    expect(customerTagOf('ts', 'ts:{rules}:active')).toBeNull();
    expect(customerTagOf('ts', 'ts:{rules}:change:12')).toBeNull();
    expect(customerTagOf('ts', 'ts:watermarks')).toBeNull();
    expect(customerTagOf('ts', 'ts:dest:crm:due')).toBeNull();
    expect(customerTagOf('ts', 'other:{C1}:agg')).toBeNull();
  });

  it('tombstones go to the compacted topics of topics.yaml, under their configured names', () => {
    expect(compactedTopics(loadTopicsSpec())).toEqual(['customer-tier-changes.v1']);
    expect(compactedTopics(loadTopicsSpec(), { 'customer-tier-changes.v1': 'changes' })).toEqual(['changes']);
  });

  it('escapes glob characters', () => {
    expect(globEscape('a*b?[c]\\d')).toBe('a\\*b\\?\\[c\\]\\\\d');
  });

  it('refuses requests without id, customer or reason, and bad suppress_days', () => {
    expect(erasureRequestProblems(request)).toEqual([]);
    expect(
      erasureRequestProblems({ ...request, request_id: ' ', customer_id: '', reason: '', suppress_days: 0 }),
    ).toEqual([
      'request_id is empty',
      'customer_id is empty',
      'reason is empty',
      'suppress_days must be a whole number of days >= 1, got 0',
    ]);
  });

  it('digests a customer id under a secret (stable), or unlinkably without one', () => {
    const a = customerDigest('C1', 'k');
    expect(a).toEqual(customerDigest('C1', 'k'));
    expect(a.kind).toBe('hmac-sha256');
    expect(a.digest).toMatch(/^[0-9a-f]{64}$/);
    expect(a.digest).not.toBe(customerDigest('C1', 'other').digest);
    expect(a.digest).not.toContain('C1');
    const u = customerDigest('C1', '');
    expect(u.kind).toBe('unlinkable');
    expect(u.digest).not.toBe(customerDigest('C1', '').digest);
  });

  it('suppression: the marker is in the customer slot, expiring after the request days or the default', () => {
    expect(suppressionKey('ts', 'a{b}')).toBe('ts:{a%7Bb%7D}:erased');
    expect(suppressedUntil(1000, null, 30)).toBe(1000 + 30 * 86_400_000);
    expect(suppressedUntil(1000, 2, 30)).toBe(1000 + 2 * 86_400_000);
  });
});
