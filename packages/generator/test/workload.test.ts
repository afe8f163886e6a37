import { type InputEvent, KNOWN_CURRENCIES, topicOf, validateInput } from '@tierstream/contracts';
import { describe, expect, it } from 'vitest';
import { customerId, generateWorkload, PROFILES, Rng, seasonality, summarize } from '../src/index';

const END = Date.parse('2026-06-30T23:59:59Z');
const DAY = 86_400_000;
const demo = [...generateWorkload('demo')];
const tiny = [...generateWorkload('tiny')];

describe('Rng', () => {
  it('is deterministic per seed and differs across seeds', () => {
    const draw = (seed: number) => {
      const r = new Rng(seed);
      return Array.from({ length: 5 }, () => r.nextU32());
    };
    expect(draw(1)).toEqual(draw(1));
    expect(draw(1)).not.toEqual(draw(2));
  });

  it('has roughly uniform output and the right lognormal median', () => {
    const r = new Rng(123);
    const n = 20_000;
    let below = 0;
    const logs: number[] = [];
    for (let i = 0; i < n; i++) {
      if (r.next() < 0.25) below++;
      logs.push(r.lognormal(50, 1));
    }
    expect(below / n).toBeGreaterThan(0.23);
    expect(below / n).toBeLessThan(0.27);
    logs.sort((a, b) => a - b);
    expect(logs[n / 2]).toBeGreaterThan(45);
    expect(logs[n / 2]).toBeLessThan(55);
  });
});

describe('generateWorkload', () => {
  it('is deterministic: same seed, same events (ids included); another seed, other events', () => {
    expect([...generateWorkload('tiny')]).toEqual(tiny);
    const other = [...generateWorkload('tiny', 8)];
    expect(other.map((e) => e.event.event_id)).not.toEqual(tiny.map((e) => e.event.event_id));
    expect(other.map((e) => e.event.occurred_at)).not.toEqual(tiny.map((e) => e.event.occurred_at));
  });

  it('emits events in ascending event time, inside the window ending at the profile end', () => {
    for (const events of [tiny, demo]) {
      for (let i = 1; i < events.length; i++) {
        expect(events[i]!.event.occurred_at >= events[i - 1]!.event.occurred_at).toBe(true);
      }
      expect(events.at(-1)!.event.occurred_at).toBeLessThanOrEqual(END);
    }
    expect(tiny[0]!.event.occurred_at).toBeGreaterThanOrEqual(END + 1000 - 120 * DAY);
    expect(demo[0]!.event.occurred_at).toBeGreaterThanOrEqual(END + 1000 - 365 * DAY);
  });

  it('respects a configurable end instant and overrides', () => {
    const end = Date.parse('2024-01-31T23:59:59Z');
    const events = [...generateWorkload({ customers: 30, days: 20, seed: 3, end })];
    expect(events.length).toBeGreaterThan(0);
    expect(events.every((e) => e.event.occurred_at <= end && e.event.occurred_at > end - 20 * DAY)).toBe(true);
    const ids = new Set(events.map((e) => e.event.customer_id).filter((c) => c !== null));
    expect(ids.size).toBeLessThanOrEqual(30);
    expect([...ids].every((c) => /^C\d{6}$/.test(c!))).toBe(true);
  });

  it('gives unique, seed-derived event ids', () => {
    const ids = demo.map((e) => e.event.event_id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids[0]).toMatch(/^E42-/);
  });

  it('passes validateInput for every event', () => {
    for (const events of [tiny, demo]) {
      for (const input of events) {
        const r = validateInput(topicOf(input), input.event, { now: END, knownCurrencies: KNOWN_CURRENCIES });
        if (!r.ok) throw new Error(`${r.reason}: ${r.message} in ${JSON.stringify(input)}`);
        expect(r.event).toEqual(input);
      }
    }
  });

  it('has the profile sizes', () => {
    const t = summarize(tiny);
    expect(t.customers).toBeGreaterThan(180);
    expect(t.customers).toBeLessThanOrEqual(PROFILES.tiny.customers);
    expect(t.events).toBeGreaterThan(2_000);
    expect(t.events).toBeLessThan(10_000);
    const d = summarize(demo);
    expect(d.customers).toBeGreaterThan(1_900);
    expect(d.customers).toBeLessThanOrEqual(PROFILES.demo.customers);
    expect(d.events).toBeGreaterThanOrEqual(50_000);
    expect(d.events).toBeLessThanOrEqual(100_000);
    expect(PROFILES.standard).toMatchObject({ customers: 100_000, days: 365, seed: 20260630 });
  });

  it('is realistic: every topic and type, prospects, anonymous traffic, currencies, B2B, refunds with their order', () => {
    const s = summarize(demo);
    expect(Object.keys(s.byTopic).sort()).toEqual(['orders.v1', 'tickets.v1', 'web-behavior.v1']);
    for (const key of ['order:REFUNDED', 'order:CANCELLED', 'ticket:SATISFACTION_RATED', 'web:DEMO_REQUESTED']) {
      expect(s.byType[key], key).toBeGreaterThan(0);
    }
    expect(s.buyers).toBeLessThan(s.customers * 0.9); // prospects who never buy
    expect(s.buyers).toBeGreaterThan(s.customers * 0.7);
    expect(s.anonymousWebEvents).toBeGreaterThan(0);
    expect(Object.keys(s.grossRevenueMinor).sort()).toEqual(['EUR', 'GBP', 'USD']);
    expect(s.grossRevenueMinor.USD!).toBeGreaterThan(s.grossRevenueMinor.EUR! + s.grossRevenueMinor.GBP!);

    const orders = demo
      .filter((e): e is Extract<InputEvent, { kind: 'order' }> => e.kind === 'order')
      .map((e) => e.event);
    expect(orders.some((o) => o.attributes !== null && o.attributes.company_size !== null)).toBe(true);
    const placed = new Map(orders.filter((o) => o.type === 'PLACED').map((o) => [o.order_id, o]));
    for (const o of orders.filter((o) => o.type !== 'PLACED')) {
      const original = placed.get(o.order_id);
      expect(original, o.order_id).toBeDefined();
      expect(o.original_placed_at).toBe(original!.occurred_at);
      expect(o.amount_minor).toBeLessThanOrEqual(original!.amount_minor);
      expect(o.customer_id).toBe(original!.customer_id);
    }
    // Some customers churn: a real share of early buyers places no order in the last 120 days.
    const lastOrder = new Map<string, number>();
    const firstOrder = new Map<string, number>();
    for (const o of placed.values()) {
      lastOrder.set(o.customer_id, o.occurred_at);
      if (!firstOrder.has(o.customer_id)) firstOrder.set(o.customer_id, o.occurred_at);
    }
    const early = [...firstOrder].filter(([, t]) => t < END - 240 * DAY).map(([c]) => c);
    const silent = early.filter((c) => lastOrder.get(c)! < END - 120 * DAY);
    expect(silent.length / early.length).toBeGreaterThan(0.1);
    // Complaints come with low satisfaction on average.
    const tickets = demo
      .filter((e) => e.kind === 'ticket')
      .map((e) => e.event as Extract<InputEvent, { kind: 'ticket' }>['event']);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const rated = tickets.filter((t) => t.csat !== null);
    const complaintCsat = mean(rated.filter((t) => t.category === 'COMPLAINT').map((t) => t.csat!));
    const otherCsat = mean(rated.filter((t) => t.category !== 'COMPLAINT').map((t) => t.csat!));
    expect(complaintCsat).toBeLessThan(otherCsat - 1);
  });

  it("anonymous engagement precedes a customer's first order", () => {
    const firstAnon = new Map<string, number>();
    const firstOrder = new Map<string, number>();
    for (const e of demo) {
      if (e.kind === 'web' && e.event.customer_id === null && e.event.anonymous_id) {
        const c = customerId(Number(e.event.anonymous_id.split('-')[1]));
        if (!firstAnon.has(c)) firstAnon.set(c, e.event.occurred_at);
      }
      if (e.kind === 'order' && !firstOrder.has(e.event.customer_id))
        firstOrder.set(e.event.customer_id, e.event.occurred_at);
    }
    let checked = 0;
    for (const [c, t] of firstAnon) {
      const o = firstOrder.get(c);
      if (o !== undefined) {
        expect(t).toBeLessThan(o);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(100);
  });

  it('is heavy-tailed: the top 20% of buyers by revenue hold at least 60% of it (demo)', () => {
    const usd: Record<string, number> = { USD: 1, EUR: 1.08, GBP: 1.27 };
    const revenue = new Map<string, number>();
    for (const e of demo) {
      if (e.kind !== 'order') continue;
      const o = e.event;
      const v = (o.type === 'PLACED' ? 1 : -1) * o.amount_minor * usd[o.currency]!;
      revenue.set(o.customer_id, (revenue.get(o.customer_id) ?? 0) + v);
    }
    const values = [...revenue.values()].sort((a, b) => b - a);
    const total = values.reduce((a, b) => a + b, 0);
    const top = values.slice(0, Math.ceil(values.length * 0.2)).reduce((a, b) => a + b, 0);
    expect(top / total).toBeGreaterThanOrEqual(0.6);
  });

  it('has weekly and yearly seasonality in order placement', () => {
    expect(seasonality(Date.UTC(2025, 11, 13))).toBeGreaterThan(seasonality(Date.UTC(2025, 5, 18))); // Sat Dec vs Wed Jun
    const byDow = new Array(7).fill(0);
    for (const e of demo)
      if (e.kind === 'order' && e.event.type === 'PLACED') byDow[new Date(e.event.occurred_at).getUTCDay()]++;
    expect(byDow[6]).toBeGreaterThan(byDow[1]); // Saturday vs Monday
  });
});
