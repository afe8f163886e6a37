import { describe, expect, it } from 'vitest';
import { DLQ_REASONS, type IdentityEvent, validateIdentityEvent } from '../src/index';

const NOW = Date.UTC(2026, 5, 30, 12, 0, 0);
const alias = (o: Partial<Record<keyof IdentityEvent, unknown>> = {}) => ({
  event_id: 'i-1',
  type: 'ALIAS',
  customer_id: 'C1',
  anonymous_id: 'anon-1',
  merged_customer_id: null,
  source: 'login',
  occurred_at: NOW - 1000,
  ...o,
});
const merge = (o: Partial<Record<keyof IdentityEvent, unknown>> = {}) =>
  alias({ type: 'MERGE', anonymous_id: null, merged_customer_id: 'C2', ...o });
const reason = (v: unknown) => {
  const r = validateIdentityEvent(v, { now: NOW });
  return r.ok ? 'OK' : r.reason;
};

describe('validateIdentityEvent', () => {
  it('accepts an ALIAS and a MERGE, with source optional', () => {
    expect(validateIdentityEvent(alias(), { now: NOW })).toEqual({ ok: true, event: alias() });
    const { source: _, ...noSource } = merge();
    expect(validateIdentityEvent(noSource, { now: NOW })).toEqual({ ok: true, event: { ...merge(), source: null } });
  });

  it('dead-letters a merge of an id into itself, and events whose fields do not fit their type', () => {
    expect(reason(merge({ merged_customer_id: 'C1' }))).toBe('SELF_MERGE');
    expect(reason(alias({ anonymous_id: null }))).toBe('INVALID_VALUE');
    expect(reason(alias({ merged_customer_id: 'C2' }))).toBe('INVALID_VALUE');
    expect(reason(merge({ merged_customer_id: null }))).toBe('INVALID_VALUE');
    expect(reason(merge({ anonymous_id: 'a' }))).toBe('INVALID_VALUE');
    expect(reason(alias({ type: 'SPLIT' }))).toBe('INVALID_VALUE');
  });

  it('dead-letters missing, blank and overlong ids, bad and future times', () => {
    expect(reason(alias({ customer_id: ' ' }))).toBe('MISSING_CUSTOMER_ID');
    expect(reason(alias({ customer_id: undefined }))).toBe('MISSING_CUSTOMER_ID');
    expect(reason(alias({ anonymous_id: '' }))).toBe('EMPTY_ID');
    expect(reason(alias({ event_id: '' }))).toBe('EMPTY_ID');
    expect(reason(merge({ merged_customer_id: 'x'.repeat(257) }))).toBe('ID_TOO_LONG');
    expect(reason(alias({ occurred_at: -1 }))).toBe('INVALID_VALUE');
    expect(reason(alias({ occurred_at: 1.5 }))).toBe('INVALID_VALUE');
    expect(reason(alias({ occurred_at: NOW + 2 * 3_600_000 }))).toBe('FUTURE_TIMESTAMP');
    expect(reason(null)).toBe('INVALID_VALUE');
  });

  it('uses only reasons of the DlqReason union', () => {
    for (const v of [merge({ merged_customer_id: 'C1' }), alias({ anonymous_id: '' }), alias({ type: 1 })]) {
      const r = validateIdentityEvent(v, { now: NOW });
      expect(r.ok).toBe(false);
      if (!r.ok) expect(DLQ_REASONS).toContain(r.reason);
    }
  });
});
