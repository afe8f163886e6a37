import {
  type InputEvent,
  type OrderEvent,
  type TicketEvent,
  KNOWN_CURRENCIES as VALID_CURRENCIES,
} from '@tierstream/contracts';
import { describe, expect, it } from 'vitest';
import { DEFAULT_AGGREGATE_CONFIG, KNOWN_CURRENCIES, parseAggregateConfig, toReportingMinor } from '../src/config';
import { encodeEvent } from '../src/keyspace';
import { emptyState, eventDaysAfter, metricsAt, rollOffDays } from '../src/metrics';
import { oracleMetrics } from '../src/oracle';
import { decodeState } from '../src/state-decode';

const DAY = 86_400_000;
const D = 20_000; // as-of day used by the hand-computed examples
const at = (day: number, hour = 12) => day * DAY + hour * 3_600_000;
const cfg = DEFAULT_AGGREGATE_CONFIG;

let n = 0;
const order = (type: OrderEvent['type'], day: number, amount: number, extra: Partial<OrderEvent> = {}): InputEvent => ({
  kind: 'order',
  event: {
    event_id: `o${n++}`,
    customer_id: 'c',
    order_id: 'x',
    type,
    amount_minor: amount,
    currency: 'USD',
    margin_minor: null,
    channel: null,
    items: null,
    occurred_at: at(day),
    original_placed_at: null,
    attributes: null,
    ...extra,
  },
});
const web = (type: 'PAGE_VIEW' | 'ADD_TO_CART', occurredAt: number): InputEvent => ({
  kind: 'web',
  event: {
    event_id: `w${n++}`,
    customer_id: 'c',
    anonymous_id: null,
    type,
    url: null,
    content_id: null,
    occurred_at: occurredAt,
  },
});
const ticket = (
  ticketId: string,
  type: TicketEvent['type'],
  occurredAt: number,
  extra: Partial<TicketEvent> = {},
): InputEvent => ({
  kind: 'ticket',
  event: {
    event_id: `t${n++}`,
    customer_id: 'c',
    ticket_id: ticketId,
    type,
    category: 'GENERAL',
    priority: 'LOW',
    csat: null,
    occurred_at: occurredAt,
    ...extra,
  },
});

describe('config', () => {
  it('defaults, partial weights and validation', () => {
    const c = parseAggregateConfig({ weights: { PAGE_VIEW: 3 } });
    expect(c.weights.PAGE_VIEW).toBe(3);
    expect(c.weights.SALES_MEETING).toBe(25);
    expect(c.halfLifeDays).toBe(14);
    expect(() => parseAggregateConfig({ weights: { PAGE_VIEW: -1 } })).toThrow();
    expect(() => parseAggregateConfig({ reportingCurrency: 'usd' })).toThrow(/3-letter/);
    expect(() => parseAggregateConfig({ fxRates: { USD: 2 } })).toThrow(/must be 1/);
    expect(() => parseAggregateConfig({ weights: { NOT_A_TYPE: 1 } })).toThrow();
    expect(KNOWN_CURRENCIES).toEqual(
      expect.arrayContaining(['USD', 'EUR', 'GBP', 'JPY', 'CNY', 'CAD', 'AUD', 'CHF', 'SEK']),
    );
  });

  it('has a default rate for every currency the validator accepts', () => {
    const missing = [...VALID_CURRENCIES].filter((c) => DEFAULT_AGGREGATE_CONFIG.fxRates[c] === undefined);
    expect(missing).toEqual([]);
  });

  it('converts with round(amount * rate)', () => {
    const c = { ...cfg, fxRates: { USD: 1, EUR: 1.5 } };
    expect(toReportingMinor(101, 'EUR', c)).toBe(152); // 151.5 rounds up
    expect(toReportingMinor(101, 'USD', c)).toBe(101);
    expect(() => toReportingMinor(1, 'XXX', c)).toThrow(/no fx rate/);
  });
});

describe('oracle (hand-computed from the definitions)', () => {
  it('orders: windows, refunds/cancels on the original day, prev_90, aov, recency', () => {
    const events = [
      order('PLACED', D - 29, 1000, { margin_minor: 100, order_id: 'a' }), // in 30d
      order('PLACED', D - 30, 2000, { order_id: 'b' }), // just outside 30d, in 90d
      order('PLACED', D - 100, 4000, { margin_minor: 400, order_id: 'c' }), // prev_90 (D-179..D-90)
      order('REFUNDED', D - 5, 1500, { original_placed_at: at(D - 100), margin_minor: 150, order_id: 'c' }), // on D-100
      order('PLACED', D - 400, 8000, { order_id: 'd' }), // lifetime only
      order('CANCELLED', D - 1, 8000, { original_placed_at: at(D - 400), order_id: 'd' }), // cancels it on D-400
    ];
    const m = oracleMetrics(events, at(D), cfg, 0);
    expect(m.orders_lifetime).toBe(3);
    expect(m.orders_30d).toBe(1);
    expect(m.orders_90d).toBe(2);
    expect(m.orders_365d).toBe(3);
    expect(m.revenue_30d).toBe(1000);
    expect(m.revenue_90d).toBe(3000);
    expect(m.revenue_365d).toBe(5500);
    expect(m.revenue_prev_90d).toBe(2500);
    expect(m.revenue_lifetime).toBe(5500);
    expect(m.margin_lifetime).toBe(350);
    expect(m.aov_lifetime).toBeCloseTo(5500 / 3, 12);
    // d is cancelled (as of D − 1 on): it did not happen, so the first order is c (§15).
    expect(m.first_order_at).toBe(at(D - 100));
    expect(m.last_order_at).toBe(at(D - 29));
    expect(m.recency_days).toBe(29);
    expect(m.tenure_days).toBe(100);
    // As of D − 2 the cancellation has not happened yet: d still counts, time included (§8).
    const before = oracleMetrics(events, at(D - 2), cfg, 0);
    expect(before.first_order_at).toBe(at(D - 400));
    expect(before.tenure_days).toBe(398);
  });

  it('engagement: exponential decay with a 14-day half-life, rounded to 6 decimals', () => {
    const m = oracleMetrics([web('PAGE_VIEW', at(D - 14)), web('ADD_TO_CART', at(D - 7))], at(D), cfg, 0);
    // 1 × 0.5 + 5 × 0.5^0.5 = 0.5 + 3.5355339... = 4.035534
    expect(m.engagement_score).toBe(4.035534);
    expect(m.web_events_30d).toBe(2);
    expect(m.web_page_view_30d).toBe(1);
    expect(m.web_add_to_cart_365d).toBe(1);
    expect(m.days_since_last_seen).toBe(7);
  });

  it('tickets: status by latest event (event_id breaks ties), resolve hours, csat, complaints', () => {
    const t0 = at(D - 10, 0);
    const events = [
      ticket('A', 'OPENED', t0, { category: 'COMPLAINT' }),
      ticket('A', 'RESOLVED', t0 + 6 * 3_600_000),
      ticket('A', 'SATISFACTION_RATED', t0 + 7 * 3_600_000, { csat: 4 }),
      ticket('B', 'OPENED', t0),
      ticket('B', 'ESCALATED', t0 + 1),
      ticket('B', 'CLOSED', t0 + 2 * 3_600_000, { event_id: 'z1' }),
      ticket('B', 'REOPENED', t0 + 2 * 3_600_000, { event_id: 'z2' }), // same instant, larger id wins → open
      ticket('C', 'OPENED', at(D - 200)),
      ticket('C', 'SATISFACTION_RATED', at(D - 200), { csat: 1 }), // outside the 90-day csat window
    ];
    const m = oracleMetrics(events, at(D), cfg, 0);
    expect(m.open_tickets).toBe(2); // B (reopened) and C (never resolved)
    expect(m.avg_resolve_hours).toBe(4); // A: 6 h, B: 2 h
    expect(m.tickets_30d).toBe(2);
    expect(m.tickets_365d).toBe(3);
    expect(m.complaints_30d).toBe(1);
    expect(m.escalations_90d).toBe(1);
    expect(m.csat_avg_90d).toBe(4);
    expect(m.last_ticket_at).toBe(t0 + 7 * 3_600_000);
    expect(m.days_since_last_ticket).toBe(10);
  });

  it('counts an event_id once and ignores days after the as-of day', () => {
    const p = order('PLACED', D - 3, 700, { order_id: 'p' });
    const later = order('PLACED', D + 2, 900, { order_id: 'later' });
    const m = oracleMetrics([p, p, later], at(D), cfg, 0);
    expect(m.orders_lifetime).toBe(1);
    expect(m.revenue_lifetime).toBe(700);
    expect(m.last_order_at).toBe(at(D - 3));
  });

  it('never-active customer: zeros for counts and sums, null for times and averages', () => {
    const m = oracleMetrics([], at(D), cfg, 0);
    expect(m.orders_lifetime).toBe(0);
    expect(m.aov_lifetime).toBeNull();
    expect(m.first_order_at).toBeNull();
    expect(m.last_seen_at).toBeNull();
    expect(m.csat_avg_90d).toBeNull();
    expect(m.avg_resolve_hours).toBeNull();
    expect(metricsAt(emptyState('c'), at(D), cfg)).toEqual(m);
  });
});

describe('metricsAt over a decoded state', () => {
  // Hand-written hash as apply_events.lua stores it (see README "Keyspace").
  const hash: Record<string, string> = {
    mx: String(at(D + 5)),
    fo: String(at(D - 500)),
    ob: `2,3000,0,${at(D - 450)}`, // folded: 2 orders, 3000 revenue
    wb: String(at(D - 420)),
    tb: `${at(D - 430)},7200000,1`, // one folded ticket, resolved in 2 h
    [`o:${D - 10}`]: '1,500,50,3600000',
    [`o:${D + 5}`]: '1,900,0,3600000', // after the as-of day: ignored
    [`w:${D - 1}`]: '0,0:2,3:1', // 2 PAGE_VIEW + 1 ADD_TO_CART at 00:00
    [`t:${D - 2}`]: '60000,1,1',
    'k:T9': `${at(D - 2)},${at(D - 2) + 14_400_000},R,${at(D - 2) + 14_400_000}`,
    'q:T9': 'e9',
    'h:orders.v1:3': '42',
    'e:e9': String(at(D - 2)),
  };
  const state = decodeState('c', hash)!;

  it('adds the folded base to the buckets up to the as-of day', () => {
    const m = metricsAt(state, at(D), cfg);
    expect(m.orders_lifetime).toBe(3);
    expect(m.revenue_lifetime).toBe(3500);
    expect(m.orders_30d).toBe(1);
    expect(m.margin_365d).toBe(50);
    expect(m.first_order_at).toBe(at(D - 500));
    expect(m.last_order_at).toBe((D - 10) * DAY + 3_600_000);
    expect(m.web_events_30d).toBe(3);
    expect(m.web_page_view_30d).toBe(2);
    // (2×1 + 1×5) × 0.5^(1/14)
    expect(m.engagement_score).toBe(Math.round(7 * 0.5 ** (1 / 14) * 1e6) / 1e6);
    expect(m.last_seen_at).toBe((D - 1) * DAY);
    expect(m.tickets_30d).toBe(1);
    expect(m.complaints_30d).toBe(1);
    expect(m.avg_resolve_hours).toBe(3); // (2 h + 4 h) / 2
    expect(m.open_tickets).toBe(0);
    expect(m.last_ticket_at).toBe((D - 2) * DAY + 60_000);
    expect(state.offsets.get('orders.v1:3')).toBe('42');
    expect(state.tickets.get('T9')?.statusEventId).toBe('e9');
  });

  it('includes the later bucket once the as-of day reaches it', () => {
    expect(metricsAt(state, at(D + 5), cfg).orders_lifetime).toBe(4);
    expect(metricsAt(state, at(D + 5), cfg).recency_days).toBe(0);
  });

  it('roll-off and event days', () => {
    const s = emptyState('c');
    s.orders.set(100, { count: 1, revenue: 1, margin: 0, lastPlacedAt: 100 * DAY });
    s.web.set(110, { counts: [1], lastSeenAt: 110 * DAY });
    expect(rollOffDays(s, 120)).toEqual([130, 140, 190, 200, 280, 465, 475]);
    expect(rollOffDays(s, 200)).toEqual([280, 465, 475]);
    expect(eventDaysAfter(s, 105)).toEqual([110]);
  });
});

describe('encodeEvent', () => {
  it('converts money, puts refunds on the original day and normalises offsets', () => {
    const e = order('REFUNDED', D, 1000, { currency: 'EUR', margin_minor: 10, original_placed_at: at(D - 3) });
    const args = encodeEvent(e, 'orders.v1', 2, '007', cfg);
    expect(args).toEqual([
      'orders.v1',
      '2',
      '7',
      e.event.event_id,
      String(at(D)),
      'R',
      '1080',
      '11',
      String(at(D - 3)),
    ]);
    expect(() => encodeEvent(e, 'orders.v1', 2, '-1', cfg)).toThrow();
    const t = ticket('A', 'OPENED', at(D), { category: 'COMPLAINT' });
    expect(encodeEvent(t, 'tickets.v1', 0, '5', cfg).slice(5)).toEqual(['T', 'A', 'O', '1']);
  });
});
