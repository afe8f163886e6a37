import type { TierTransition } from '@tierstream/contracts';
import { describe, expect, it } from 'vitest';
import { passesFilter } from '../src/filter';

const t = (over: Partial<TierTransition>): TierTransition => ({
  transition_id: 't1',
  customer_id: 'c1',
  dimension: 'value',
  from_tier: 'GOLD',
  to_tier: 'PLATINUM',
  direction: 'UP',
  reason: 'METRIC_CROSSED',
  rule_id: 'r1',
  rules_version: 'v1',
  cutpoints_version: 'cp1',
  metrics: {},
  occurred_at: 0,
  evaluated_at: 0,
  ...over,
});

describe('passesFilter', () => {
  it('passes everything with an empty filter', () => {
    expect(passesFilter({}, t({}))).toBe(true);
  });
  it('only UP moves into PLATINUM, skipping RULES_CHANGED', () => {
    const f = { directions: ['UP' as const], entered: ['PLATINUM'], exclude_reasons: ['RULES_CHANGED'] };
    expect(passesFilter(f, t({}))).toBe(true);
    expect(passesFilter(f, t({ direction: 'DOWN', from_tier: 'DIAMOND' }))).toBe(false);
    expect(passesFilter(f, t({ to_tier: 'GOLD', from_tier: 'SILVER' }))).toBe(false);
    expect(passesFilter(f, t({ reason: 'RULES_CHANGED' }))).toBe(false);
  });
  it('entered OR left, dimensions and reasons', () => {
    const f = { entered: ['PLATINUM'], left: ['PLATINUM'] };
    expect(passesFilter(f, t({ from_tier: 'PLATINUM', to_tier: 'GOLD', direction: 'DOWN' }))).toBe(true);
    expect(passesFilter(f, t({ from_tier: 'SILVER', to_tier: 'GOLD' }))).toBe(false);
    expect(passesFilter({ left: ['GOLD'] }, t({ from_tier: null, direction: 'ENTER' }))).toBe(false);
    expect(passesFilter({ dimensions: ['engagement'] }, t({}))).toBe(false);
    expect(passesFilter({ reasons: ['METRIC_CROSSED'] }, t({}))).toBe(true);
    expect(passesFilter({ reasons: ['GRACE_EXPIRED'] }, t({}))).toBe(false);
  });
});
