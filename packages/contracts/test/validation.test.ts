import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  customerIdOf,
  DLQ_REASONS,
  KNOWN_CURRENCIES,
  type OrderEvent,
  type TicketEvent,
  TOPICS,
  type ValidateOptions,
  validateInput,
  type WebBehaviorEvent,
} from '../src/index';

const NOW = Date.UTC(2026, 5, 30, 12, 0, 0);
const opts = { now: NOW, knownCurrencies: KNOWN_CURRENCIES };

const order = (o: Partial<Record<keyof OrderEvent, unknown>> = {}) => ({
  event_id: 'e-1',
  customer_id: 'C000001',
  order_id: 'O-1',
  type: 'PLACED',
  amount_minor: 12_34,
  currency: 'USD',
  margin_minor: 300,
  channel: 'web',
  items: 2,
  occurred_at: NOW - 1000,
  original_placed_at: null,
  attributes: null,
  ...o,
});
const web = (o: Partial<Record<keyof WebBehaviorEvent, unknown>> = {}) => ({
  event_id: 'w-1',
  customer_id: 'C000001',
  anonymous_id: null,
  type: 'PAGE_VIEW',
  url: '/',
  content_id: null,
  occurred_at: NOW - 1000,
  ...o,
});
const ticket = (o: Partial<Record<keyof TicketEvent, unknown>> = {}) => ({
  event_id: 't-1',
  customer_id: 'C000001',
  ticket_id: 'T-1',
  type: 'OPENED',
  category: 'BILLING',
  priority: 'NORMAL',
  csat: null,
  occurred_at: NOW - 1000,
  ...o,
});

function reasonOf(topic: string, value: unknown, o: ValidateOptions = opts) {
  const r = validateInput(topic, value, o);
  return r.ok ? 'OK' : r.reason;
}

describe('validateInput', () => {
  it('accepts well-formed events of every input topic and fills absent optional fields with null', () => {
    const r = validateInput(TOPICS.orders, { ...order(), margin_minor: undefined, attributes: undefined }, opts);
    expect(r.ok).toBe(true);
    if (r.ok) {
      expect(r.event.kind).toBe('order');
      expect(r.event.event).toMatchObject({ amount_minor: 1234, margin_minor: null, attributes: null });
    }
    expect(reasonOf(TOPICS.web, web())).toBe('OK');
    expect(reasonOf(TOPICS.tickets, ticket())).toBe('OK');
    expect(reasonOf(TOPICS.tickets, ticket({ type: 'SATISFACTION_RATED', csat: 5 }))).toBe('OK');
    expect(reasonOf(TOPICS.orders, order({ attributes: { industry: 'retail', company_size: 40, region: 'EU' } }))).toBe(
      'OK',
    );
  });

  it('drops unknown fields from the validated event', () => {
    const r = validateInput(TOPICS.web, { ...web(), extra: 1 }, opts);
    expect(r.ok && 'extra' in r.event.event).toBe(false);
  });

  it('classifies a missing customer id', () => {
    expect(reasonOf(TOPICS.orders, order({ customer_id: undefined }))).toBe('MISSING_CUSTOMER_ID');
    expect(reasonOf(TOPICS.orders, order({ customer_id: null }))).toBe('MISSING_CUSTOMER_ID');
    expect(reasonOf(TOPICS.orders, order({ customer_id: '' }))).toBe('MISSING_CUSTOMER_ID');
    expect(reasonOf(TOPICS.tickets, ticket({ customer_id: '   ' }))).toBe('MISSING_CUSTOMER_ID');
    expect(reasonOf(TOPICS.web, web({ customer_id: null, anonymous_id: null }))).toBe('MISSING_CUSTOMER_ID');
    expect(reasonOf(TOPICS.web, web({ customer_id: null, anonymous_id: '' }))).toBe('MISSING_CUSTOMER_ID');
  });

  it('accepts anonymous web events without a customer, and customerIdOf says so', () => {
    const r = validateInput(TOPICS.web, web({ customer_id: null, anonymous_id: 'A-9' }), opts);
    expect(r.ok).toBe(true);
    if (r.ok) expect(customerIdOf(r.event)).toBeNull();
    const known = validateInput(TOPICS.web, web(), opts);
    if (known.ok) expect(customerIdOf(known.event)).toBe('C000001');
  });

  it('classifies empty and too long ids', () => {
    expect(reasonOf(TOPICS.orders, order({ event_id: '' }))).toBe('EMPTY_ID');
    expect(reasonOf(TOPICS.orders, order({ order_id: ' ' }))).toBe('EMPTY_ID');
    expect(reasonOf(TOPICS.tickets, ticket({ ticket_id: '' }))).toBe('EMPTY_ID');
    expect(reasonOf(TOPICS.web, web({ customer_id: '' }))).toBe('EMPTY_ID');
    expect(reasonOf(TOPICS.orders, order({ customer_id: 'C'.repeat(257) }))).toBe('ID_TOO_LONG');
    expect(reasonOf(TOPICS.orders, order({ customer_id: 'C'.repeat(256) }))).toBe('OK');
    expect(reasonOf(TOPICS.orders, order({ event_id: 'e'.repeat(11) }), { ...opts, maxIdLength: 10 })).toBe(
      'ID_TOO_LONG',
    );
  });

  it('classifies amounts', () => {
    expect(reasonOf(TOPICS.orders, order({ amount_minor: -1 }))).toBe('NEGATIVE_AMOUNT');
    expect(reasonOf(TOPICS.orders, order({ amount_minor: 0 }))).toBe('OK');
    expect(reasonOf(TOPICS.orders, order({ amount_minor: 1.5 }))).toBe('INVALID_VALUE');
    expect(reasonOf(TOPICS.orders, order({ amount_minor: 2 ** 60 }))).toBe('INVALID_VALUE');
    expect(reasonOf(TOPICS.orders, order({ amount_minor: 1e13 }))).toBe('INVALID_VALUE');
    expect(reasonOf(TOPICS.orders, order({ amount_minor: '100' }))).toBe('INVALID_VALUE');
    expect(reasonOf(TOPICS.orders, order({ margin_minor: -500 }))).toBe('OK');
    expect(reasonOf(TOPICS.orders, order({ items: -1 }))).toBe('INVALID_VALUE');
  });

  it('classifies currencies against the known set', () => {
    expect(reasonOf(TOPICS.orders, order({ currency: 'XXY' }))).toBe('UNKNOWN_CURRENCY');
    expect(reasonOf(TOPICS.orders, order({ currency: 'usd' }))).toBe('UNKNOWN_CURRENCY');
    expect(reasonOf(TOPICS.orders, order({ currency: 'EUR' }))).toBe('OK');
    expect(reasonOf(TOPICS.orders, order({ currency: 'EUR' }), { ...opts, knownCurrencies: new Set(['USD']) })).toBe(
      'UNKNOWN_CURRENCY',
    );
  });

  it('classifies timestamps beyond the allowed skew', () => {
    const hour = 3_600_000;
    expect(reasonOf(TOPICS.orders, order({ occurred_at: NOW + hour }))).toBe('OK');
    expect(reasonOf(TOPICS.orders, order({ occurred_at: NOW + hour + 1 }))).toBe('FUTURE_TIMESTAMP');
    expect(reasonOf(TOPICS.web, web({ occurred_at: NOW + 365 * 24 * hour }))).toBe('FUTURE_TIMESTAMP');
    expect(reasonOf(TOPICS.tickets, ticket({ occurred_at: NOW + 10 }), { ...opts, maxFutureSkewMs: 5 })).toBe(
      'FUTURE_TIMESTAMP',
    );
    expect(reasonOf(TOPICS.orders, order({ occurred_at: -5 }))).toBe('INVALID_VALUE');
    // Old history (CDNOW is from 1997) is fine.
    expect(reasonOf(TOPICS.orders, order({ occurred_at: Date.UTC(1997, 0, 1) }))).toBe('OK');
  });

  it('requires original_placed_at on refunds and cancellations, not after the event', () => {
    expect(reasonOf(TOPICS.orders, order({ type: 'REFUNDED' }))).toBe('MISSING_ORIGINAL_PLACED_AT');
    expect(reasonOf(TOPICS.orders, order({ type: 'CANCELLED', original_placed_at: null }))).toBe(
      'MISSING_ORIGINAL_PLACED_AT',
    );
    expect(reasonOf(TOPICS.orders, order({ type: 'REFUNDED', original_placed_at: NOW - 86_400_000 }))).toBe('OK');
    expect(reasonOf(TOPICS.orders, order({ type: 'REFUNDED', original_placed_at: NOW }))).toBe('INVALID_VALUE');
  });

  it('accepts an optional refund_id (absent: null), refuses an empty one', () => {
    const refund = { type: 'REFUNDED', original_placed_at: NOW - 86_400_000 } as const;
    const r = validateInput(TOPICS.orders, order({ ...refund, refund_id: 'RF-7' }), opts);
    expect(r.ok && r.event.kind === 'order' && r.event.event.refund_id).toBe('RF-7');
    const absent = validateInput(TOPICS.orders, order(refund), opts);
    expect(absent.ok && absent.event.kind === 'order' && absent.event.event.refund_id).toBeNull();
    expect(reasonOf(TOPICS.orders, order({ ...refund, refund_id: ' ' }))).toBe('INVALID_VALUE');
  });

  it('classifies csat outside 1..5', () => {
    for (const csat of [0, 6, -1, 2.5]) {
      expect(reasonOf(TOPICS.tickets, ticket({ type: 'SATISFACTION_RATED', csat }))).toBe('INVALID_CSAT');
    }
    expect(reasonOf(TOPICS.tickets, ticket({ type: 'SATISFACTION_RATED', csat: null }))).toBe('INVALID_CSAT');
    expect(reasonOf(TOPICS.tickets, ticket({ type: 'SATISFACTION_RATED', csat: 1 }))).toBe('OK');
  });

  it('classifies anything else as INVALID_VALUE', () => {
    expect(reasonOf(TOPICS.orders, null)).toBe('INVALID_VALUE');
    expect(reasonOf(TOPICS.orders, [order()])).toBe('INVALID_VALUE');
    expect(reasonOf(TOPICS.orders, order({ type: 'RETURNED' }))).toBe('INVALID_VALUE');
    expect(reasonOf(TOPICS.web, web({ type: 'CLICK' }))).toBe('INVALID_VALUE');
    expect(reasonOf(TOPICS.tickets, ticket({ priority: 'P1' }))).toBe('INVALID_VALUE');
    expect(reasonOf(TOPICS.orders, order({ attributes: { company_size: -3 } }))).toBe('INVALID_VALUE');
  });

  it('refuses to validate output topics (a programming error)', () => {
    expect(() => validateInput(TOPICS.signals, {}, opts)).toThrow(/not an input topic/);
  });

  it('never throws on arbitrary input and always gives a known reason', () => {
    fc.assert(
      fc.property(fc.constantFrom(TOPICS.orders, TOPICS.web, TOPICS.tickets), fc.anything(), (topic, value) => {
        const r = validateInput(topic, value, opts);
        if (!r.ok) expect(DLQ_REASONS).toContain(r.reason);
      }),
      { numRuns: 500 },
    );
    // Mutating one field of a valid order to an arbitrary value never yields an "ok" event with a wrong type.
    fc.assert(
      fc.property(fc.constantFrom(...Object.keys(order())), fc.anything(), (key, v) => {
        const r = validateInput(TOPICS.orders, { ...order(), [key]: v }, opts);
        if (r.ok && r.event.kind === 'order') {
          const e = r.event.event;
          expect(Number.isSafeInteger(e.amount_minor) && e.amount_minor >= 0).toBe(true);
          expect(typeof e.customer_id === 'string' && e.customer_id.trim() !== '').toBe(true);
          expect(KNOWN_CURRENCIES.has(e.currency)).toBe(true);
        }
      }),
      { numRuns: 500 },
    );
  });
});
