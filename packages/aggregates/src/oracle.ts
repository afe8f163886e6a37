/**
 * The oracle: a plain batch computation of the metrics from a list of events, written from the definitions in
 * README.md and docs/design-decisions.md §15 "Money semantics" (not from the Lua). Used by the property tests to
 * check the streaming Redis aggregates.
 *
 * Duplicates: an event_id is counted once (duplicates are assumed to be exact copies). The streaming store only
 * guarantees this for duplicates arriving within the dedupe horizon; later duplicates are outside the contract, so
 * `dedupeHorizonMs` does not change the oracle's result (kept in the signature so callers state their assumption).
 * Orders are identified by order_id: see `orderContributions`. `events` is in arrival order (per customer all order
 * events are in one partition, so that order is fixed): where copies of one order identity differ, the first counts.
 */
import { type InputEvent, type OrderEvent, WEB_BEHAVIOR_TYPES, type WebBehaviorType } from '@tierstream/contracts';
import { type AggregateConfig, toReportingMinor } from './config';
import type { Metrics } from './metrics';

const DAY = 86_400_000;
const day = (ms: number) => Math.floor(ms / DAY);

export function oracleMetrics(
  events: InputEvent[],
  asOfMs: number,
  config: AggregateConfig,
  _dedupeHorizonMs: number,
): Metrics {
  const D = day(asOfMs);
  const within = (d: number, n: number) => d > D - n && d <= D;
  const convert = (minor: number, currency: string) => {
    const rate = currency === config.reportingCurrency ? 1 : config.fxRates[currency];
    if (rate === undefined) throw new Error(`no rate for ${currency}`);
    return Math.round(minor * rate);
  };

  const seen = new Set<string>();
  const unique: InputEvent[] = [];
  for (const e of events) {
    if (seen.has(e.event.event_id)) continue;
    seen.add(e.event.event_id);
    unique.push(e);
  }

  // Orders: one contribution per order, on the day of its PLACED (see orderContributions).
  const orderEffects: Array<{ d: number; count: number; revenue: number; margin: number }> = [];
  // Purchase times (first/last order, recency, tenure): only orders that are not cancelled as of D (§15: a cancelled
  // order did not happen, from the cancellation's day on). A refunded order still happened: its time counts.
  const placedTimes: number[] = [];
  const contributions = orderContributions(unique, D, convert);
  for (const o of contributions) {
    orderEffects.push({ d: o.day, count: o.count, revenue: o.revenue, margin: o.margin });
    if (!o.cancelled) placedTimes.push(o.placedAt);
  }
  // Web: events per day and type.
  const webByDay = new Map<number, Map<WebBehaviorType, number>>();
  const webTimes: number[] = [];
  // Tickets.
  const ticketTimes: number[] = [];
  const ticketEvents = new Map<string, Array<{ type: string; at: number; id: string }>>();
  const service: Array<{ d: number; kind: 'ticket' | 'complaint' | 'escalation' | 'csat'; csat?: number }> = [];

  for (const input of unique) {
    if (input.kind === 'order') continue; // above
    if (input.kind === 'web') {
      const e = input.event;
      if (e.customer_id === null) continue;
      const d = day(e.occurred_at);
      if (d > D) continue;
      webTimes.push(e.occurred_at);
      let m = webByDay.get(d);
      if (!m) {
        m = new Map();
        webByDay.set(d, m);
      }
      m.set(e.type, (m.get(e.type) ?? 0) + 1);
    } else {
      const e = input.event;
      const d = day(e.occurred_at);
      if (d <= D) ticketTimes.push(e.occurred_at);
      if (e.type === 'OPENED') {
        service.push({ d, kind: 'ticket' });
        if (e.category === 'COMPLAINT') service.push({ d, kind: 'complaint' });
      } else if (e.type === 'ESCALATED') service.push({ d, kind: 'escalation' });
      else if (e.type === 'SATISFACTION_RATED' && e.csat !== null) service.push({ d, kind: 'csat', csat: e.csat });
      let list = ticketEvents.get(e.ticket_id);
      if (!list) {
        list = [];
        ticketEvents.set(e.ticket_id, list);
      }
      list.push({ type: e.type, at: e.occurred_at, id: e.event_id });
    }
  }

  const m: Metrics = {};
  // --- orders
  const sum = (pick: (x: (typeof orderEffects)[number]) => number, keep: (d: number) => boolean) =>
    orderEffects.filter((x) => keep(x.d)).reduce((a, x) => a + pick(x), 0);
  const all = (d: number) => d <= D;
  m.orders_lifetime = sum((x) => x.count, all);
  for (const n of [30, 90, 365])
    m[`orders_${n}d`] = sum(
      (x) => x.count,
      (d) => within(d, n),
    );
  m.revenue_lifetime = sum((x) => x.revenue, all);
  for (const n of [30, 90, 365])
    m[`revenue_${n}d`] = sum(
      (x) => x.revenue,
      (d) => within(d, n),
    );
  m.revenue_prev_90d = sum(
    (x) => x.revenue,
    (d) => d >= D - 179 && d <= D - 90,
  );
  m.margin_lifetime = sum((x) => x.margin, all);
  m.margin_365d = sum(
    (x) => x.margin,
    (d) => within(d, 365),
  );
  const orders = m.orders_lifetime;
  m.aov_lifetime = orders > 0 ? (m.revenue_lifetime as number) / orders : null;
  const placedUpTo = placedTimes.filter((t) => day(t) <= D);
  m.first_order_at = placedUpTo.length ? Math.min(...placedUpTo) : null;
  m.last_order_at = placedUpTo.length ? Math.max(...placedUpTo) : null;
  m.recency_days = m.last_order_at === null ? null : D - day(m.last_order_at);
  m.tenure_days = m.first_order_at === null ? null : D - day(m.first_order_at);
  Object.assign(m, oracleClvInputs(contributions, D));

  // --- web
  let score = 0;
  for (const d of [...webByDay.keys()].sort((a, b) => a - b)) {
    if (!within(d, 365)) continue;
    const counts = webByDay.get(d)!;
    let weighted = 0;
    for (const t of WEB_BEHAVIOR_TYPES) weighted += config.weights[t] * (counts.get(t) ?? 0);
    score += weighted * 0.5 ** ((D - d) / config.halfLifeDays);
  }
  m.engagement_score = Math.round(score * 1e6) / 1e6;
  const webCount = (n: number, t?: WebBehaviorType) => {
    let c = 0;
    for (const [d, counts] of webByDay) {
      if (!within(d, n)) continue;
      for (const [type, k] of counts) if (t === undefined || t === type) c += k;
    }
    return c;
  };
  m.web_events_30d = webCount(30);
  m.web_events_90d = webCount(90);
  for (const t of WEB_BEHAVIOR_TYPES) for (const n of [30, 90, 365]) m[`web_${t.toLowerCase()}_${n}d`] = webCount(n, t);
  m.last_seen_at = webTimes.length ? Math.max(...webTimes) : null;
  m.days_since_last_seen = m.last_seen_at === null ? null : D - day(m.last_seen_at);

  // --- service
  let open = 0;
  let resolveSum = 0;
  let resolveCount = 0;
  for (const list of ticketEvents.values()) {
    const opened = list.filter((e) => e.type === 'OPENED').map((e) => e.at);
    const resolved = list.filter((e) => e.type === 'RESOLVED' || e.type === 'CLOSED').map((e) => e.at);
    const statusEvents = list
      .filter((e) => ['OPENED', 'REOPENED', 'RESOLVED', 'CLOSED'].includes(e.type))
      .sort((a, b) => a.at - b.at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const latest = statusEvents[statusEvents.length - 1];
    // As of an earlier day: the ticket's current status counts only once its status event's day has come.
    if (latest && (latest.type === 'OPENED' || latest.type === 'REOPENED') && day(latest.at) <= D) open++;
    if (opened.length && resolved.length) {
      const o = Math.min(...opened);
      const r = Math.min(...resolved);
      if (day(o) <= D && day(r) <= D) {
        resolveSum += r - o;
        resolveCount++;
      }
    }
  }
  m.open_tickets = open;
  const svc = (kind: string, n: number) => service.filter((s) => s.kind === kind && within(s.d, n)).length;
  for (const n of [30, 90, 365]) m[`tickets_${n}d`] = svc('ticket', n);
  for (const n of [30, 90, 365]) m[`complaints_${n}d`] = svc('complaint', n);
  for (const n of [30, 90, 365]) m[`escalations_${n}d`] = svc('escalation', n);
  const csat = service.filter((s) => s.kind === 'csat' && within(s.d, 90));
  m.csat_avg_90d = csat.length ? csat.reduce((a, s) => a + s.csat!, 0) / csat.length : null;
  m.avg_resolve_hours = resolveCount ? resolveSum / resolveCount / 3_600_000 : null;
  m.last_ticket_at = ticketTimes.length ? Math.max(...ticketTimes) : null;
  m.days_since_last_ticket = m.last_ticket_at === null ? null : D - day(m.last_ticket_at);
  return m;
}

/** The contribution of one placed order as of a day (design-decisions §15). */
export interface OrderContribution {
  orderId: string;
  /** Day of its PLACED: where the order and all its reversals land. */
  day: number;
  placedAt: number;
  /** Cancelled as of the day asked for (its cancellation's day has come): it contributes nothing, not even its time. */
  cancelled: boolean;
  /** 1, or 0 once cancelled. */
  count: number;
  /** amount − refunds, never below 0; 0 once cancelled. */
  revenue: number;
  /** margin − refunded margins, kept between 0 and the order's margin; 0 once cancelled. */
  margin: number;
  /** Refunded beyond the order's amount (an anomaly; it has no revenue effect). */
  refundExcess: number;
}

/**
 * Money semantics, from the definitions (docs/design-decisions.md §15), as of the close of day `asOfDay`:
 * - `events` is in arrival order; of several copies of one identity, the first in arrival order counts, later ones
 *   are duplicates and ignored even when their amount or time differs (the streaming store can do no better);
 * - an order is its order_id; its PLACED counts once (copies under new event ids are retries of the same order);
 * - a cancellation (order_id, CANCELLED) makes the order count 0 orders, 0 revenue, 0 margin and drops its time
 *   (first/last order, recency, tenure) from the earliest cancellation copy's day on;
 * - refunds count once per identity (order_id, refund_id), or per event_id when refund_id is null; their sum is
 *   capped at the order's amount (the rest is refund excess), refunded margins keep the margin between 0 and the
 *   order's margin;
 * - a reversal counts only as of its own day (§8) and only once its order's PLACED exists (before that it waits);
 * - only orders whose PLACED day is ≤ asOfDay are returned (orders placed later do not exist yet).
 * `convert` takes amounts to the reporting currency. `events` must already be unique by event_id.
 */
export function orderContributions(
  events: InputEvent[],
  asOfDay: number,
  convert: (minor: number, currency: string) => number,
): OrderContribution[] {
  const byOrder = new Map<string, OrderEvent[]>();
  for (const input of events) {
    if (input.kind !== 'order') continue;
    let list = byOrder.get(input.event.order_id);
    if (!list) {
      list = [];
      byOrder.set(input.event.order_id, list);
    }
    list.push(input.event);
  }
  const out: OrderContribution[] = [];
  for (const [orderId, list] of byOrder) {
    // The first PLACED in arrival order is the order (later copies are duplicates, whatever they carry).
    const placed = list.find((e) => e.type === 'PLACED');
    if (!placed || day(placed.occurred_at) > asOfDay) continue;
    const amount = convert(placed.amount_minor, placed.currency);
    const margin = placed.margin_minor === null ? 0 : convert(placed.margin_minor, placed.currency);
    // Copies of the cancellation are one cancellation: the earliest day counts (that does not depend on arrival).
    const cancelled = list.some((e) => e.type === 'CANCELLED' && day(e.occurred_at) <= asOfDay);
    // Refund identities are deduplicated in arrival order first (the first copy counts), then known from their day.
    const refundIds = new Set<string>();
    let refunded = 0;
    let refundedMargin = 0;
    for (const e of list) {
      if (e.type !== 'REFUNDED') continue;
      const identity = e.refund_id ? `r:${e.refund_id}` : `e:${e.event_id}`;
      if (refundIds.has(identity)) continue;
      refundIds.add(identity);
      if (day(e.occurred_at) > asOfDay) continue;
      refunded += convert(e.amount_minor, e.currency);
      if (e.margin_minor !== null) refundedMargin += convert(e.margin_minor, e.currency);
    }
    const marginLeft = margin - refundedMargin;
    out.push({
      orderId,
      day: day(placed.occurred_at),
      placedAt: placed.occurred_at,
      cancelled,
      count: cancelled ? 0 : 1,
      revenue: cancelled ? 0 : amount - Math.min(amount, refunded),
      margin: cancelled ? 0 : Math.min(Math.max(marginLeft, Math.min(0, margin)), Math.max(0, margin)),
      refundExcess: Math.max(0, refunded - amount),
    });
  }
  return out;
}

/** Lifetime refund excess as of `asOfMs` (minor units of the reporting currency): Σ over orders of refunds − amount. */
export function oracleRefundExcess(events: InputEvent[], asOfMs: number, config: AggregateConfig): number {
  const seen = new Set<string>();
  const unique = events.filter((e) => !seen.has(e.event.event_id) && seen.add(e.event.event_id));
  const convert = (minor: number, currency: string) => toReportingMinor(minor, currency, config);
  return orderContributions(unique, day(asOfMs), convert).reduce((a, o) => a + o.refundExcess, 0);
}

/**
 * The CLV model inputs as of day D (README "CLV inputs"; BG/NBD: Fader, Hardie & Lee 2005; Gamma-Gamma: Fader &
 * Hardie 2013), from the orders' contributions as of D: purchase days = the days of orders not cancelled as of D
 * (same-day orders merge); x = purchase days − 1; t_x = (last − first purchase day) / 7 and T = (D − first purchase
 * day) / 7, in weeks; zbar = Σ spend of the purchase days after the first / x, a day's spend being the revenue of its
 * orders as of D (minor units; null when x = 0). All null without a purchase day.
 */
export function oracleClvInputs(contributions: OrderContribution[], D: number): Metrics {
  const spend = new Map<number, number>();
  const purchaseDays = new Set<number>();
  for (const o of contributions) {
    if (o.day > D) continue;
    spend.set(o.day, (spend.get(o.day) ?? 0) + o.revenue);
    if (!o.cancelled) purchaseDays.add(o.day);
  }
  if (purchaseDays.size === 0) return { clv_x: null, clv_t_x_weeks: null, clv_T_weeks: null, clv_zbar: null };
  const days = [...purchaseDays].sort((a, b) => a - b);
  const first = days[0]!;
  const x = days.length - 1;
  let repeatSpend = 0;
  for (const d of days.slice(1)) repeatSpend += spend.get(d)!;
  return {
    clv_x: x,
    clv_t_x_weeks: (days[x]! - first) / 7,
    clv_T_weeks: (D - first) / 7,
    clv_zbar: x > 0 ? repeatSpend / x : null,
  };
}
