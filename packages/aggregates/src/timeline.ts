/**
 * A customer's metrics on many days from one decoded state, without recomputing from the buckets each time: prefix
 * sums over the day buckets, built once (the tier engine's due search and day-by-day evaluations). Same results as
 * metricsAt (metrics.ts); timeline.test.ts checks that.
 */
import { WEB_BEHAVIOR_TYPES } from '@tierstream/contracts';
import { addClvInputs, PurchaseDays } from './clv-inputs';
import type { AggregateConfig } from './config';
import { countUpTo, hours, maxOrNull, minOrNull, sortedDays } from './math';
import {
  type AggregateState,
  dayOf,
  type Metrics,
  type OrderAdjustment,
  ROLL_OFF_OFFSETS,
  round6,
  type TicketState,
  WINDOWS,
} from './metrics';

/** `web_<type>_<30|90|365>d` per WEB_BEHAVIOR_TYPES index: built once, not per computed day. */
const WEB_TYPE_WINDOW_KEYS: Array<[string, string, string]> = WEB_BEHAVIOR_TYPES.map((t) => {
  const name = t.toLowerCase();
  return [`web_${name}_30d`, `web_${name}_90d`, `web_${name}_365d`];
});

/** Ascending, without duplicates, only values > -Infinity (what `d > fromDay` keeps in rollOffDays/eventDaysAfter). */
function sortedUnique(values: number[]): number[] {
  // Day numbers: integers within a few years of each other. Marking them in a byte map is cheaper than sorting.
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  let integers = true;
  for (const v of values) {
    if (!Number.isInteger(v)) {
      integers = false;
      break;
    }
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (integers && values.length > 0 && max - min <= 4096) {
    const seen = new Uint8Array(max - min + 1);
    for (const v of values) seen[v - min] = 1;
    const out: number[] = [];
    for (let i = 0; i < seen.length; i++) if (seen[i] === 1) out.push(min + i);
    return out;
  }
  // Otherwise a typed array sort (no comparator call per comparison; NaN last, and `v > -Infinity` drops it).
  const sorted = Float64Array.from(values).sort();
  const out: number[] = [];
  for (const v of sorted) if (v > Number.NEGATIVE_INFINITY && v !== out[out.length - 1]) out.push(v);
  return out;
}

/** Ascending days of a bucket map, and per-bucket values in that order. */
function sortedEntries<T>(m: Map<number, T>): { days: number[]; buckets: T[] } {
  const keys = [...m.keys()];
  // Map keys are unique: sortedUnique only sorts them. Anything but integer days (never written by the script) goes
  // through sortedDays, which keeps every key.
  const days = keys.every(Number.isInteger) ? sortedUnique(keys) : sortedDays(m);
  return { days, buckets: days.map((d) => m.get(d)!) };
}

/** prefix[i] = sum of value(buckets[0..i-1]); integer sums, so exact whatever the order of addition. */
function prefixSums<T>(buckets: T[], value: (b: T) => number): number[] {
  const out = new Array<number>(buckets.length + 1);
  out[0] = 0;
  for (let i = 0; i < buckets.length; i++) out[i + 1] = out[i]! + value(buckets[i]!);
  return out;
}

/** prefix[i] = max of base and the non-null value(buckets[0..i-1]), null if none. */
function prefixMax<T>(buckets: T[], base: number | null, value: (b: T) => number | null): Array<number | null> {
  const out = new Array<number | null>(buckets.length + 1);
  out[0] = base;
  for (let i = 0; i < buckets.length; i++) out[i + 1] = maxOrNull(out[i]!, value(buckets[i]!));
  return out;
}

/** prefix[i] = min of the non-null value(buckets[0..i-1]), null if none. */
function prefixMin<T>(buckets: T[], value: (b: T) => number | null): Array<number | null> {
  const out = new Array<number | null>(buckets.length + 1);
  out[0] = null;
  for (let i = 0; i < buckets.length; i++) out[i + 1] = minOrNull(out[i]!, value(buckets[i]!));
  return out;
}

/**
 * An indexed, immutable copy of one customer's AggregateState for evaluating it as of many days: the tier engine asks
 * for the metrics of dozens of days per customer (its next-due searches), and metricsAt walks every bucket each time.
 * Here the window sums come from prefix sums over the day-sorted buckets (binary search per window bound), the metrics
 * of a day are computed once, and the roll-off and event days are sorted once.
 * Results are exactly those of metricsAt / rollOffDays / eventDaysAfter (a test compares them on random states): the
 * summed quantities are integers (counts, minor units, csat 1..5) so any order of addition is exact, and the one float
 * sum (engagement_score) is accumulated over the same buckets in the same ascending day order.
 * It copies what it needs at construction: later changes to the state are not seen (build one per read of the state).
 */
export class AggregateTimeline {
  readonly customerId: string;
  private readonly firstOrderAt: number | null;
  private readonly orderBase: AggregateState['orderBase'];
  private readonly orderDays: number[];
  private readonly orderCount: number[];
  private readonly orderRevenue: number[];
  private readonly orderMargin: number[];
  private readonly orderLastPlaced: Array<number | null>;
  /** prefix min of the buckets' first live placed times (without the base: firstOrderAt is filtered by day). */
  private readonly orderFirstPlaced: Array<number | null>;
  /** Orders cancelled after their day (rare): their time counts as of the days in [day, fromDay). */
  private readonly orderCancelled: Array<{ day: number; placedAt: number; fromDay: number }>;
  private readonly adjustments: OrderAdjustment[];
  private readonly purchaseDays: PurchaseDays;
  private readonly webDays: number[];
  /** Per web bucket: Σ_type weight × count, summed in type order like metricsAt. */
  private readonly webWeighted: number[];
  /** Per type: prefix sums of the counts over webDays. */
  private readonly webTypePrefix: number[][];
  private readonly webLastSeen: Array<number | null>;
  private readonly serviceDays: number[];
  private readonly serviceTickets: number[];
  private readonly serviceComplaints: number[];
  private readonly serviceEscalations: number[];
  private readonly serviceCsatSum: number[];
  private readonly serviceCsatCount: number[];
  private readonly serviceLastTicket: Array<number | null>;
  private readonly tickets: TicketState[];
  private readonly ticketBase: AggregateState['ticketBase'];
  private readonly halfLifeDays: number;
  private readonly allRollOffDays: number[];
  /** Roll-off days of order and service buckets only (what money, order and ticket window metrics move on). */
  private readonly orderServiceRollOffDays: number[];
  private readonly allEventDays: number[];
  private readonly byDay = new Map<number, Metrics>();

  constructor(state: AggregateState, config: AggregateConfig) {
    this.customerId = state.customerId;
    this.firstOrderAt = state.firstOrderAt;
    this.orderBase = { ...state.orderBase };
    const orders = sortedEntries(state.orders);
    this.orderDays = orders.days;
    this.orderCount = prefixSums(orders.buckets, (b) => b.count);
    this.orderRevenue = prefixSums(orders.buckets, (b) => b.revenue);
    this.orderMargin = prefixSums(orders.buckets, (b) => b.margin);
    this.orderLastPlaced = prefixMax(orders.buckets, state.orderBase.lastPlacedAt, (b) => b.lastPlacedAt);
    this.orderFirstPlaced = prefixMin(orders.buckets, (b) => b.firstPlacedAt ?? b.lastPlacedAt);
    this.orderCancelled = [];
    orders.buckets.forEach((b, i) => {
      for (const c of b.cancelled ?? []) this.orderCancelled.push({ day: orders.days[i]!, ...c });
    });
    this.adjustments = state.adjustments.map((a) => ({ ...a }));
    this.purchaseDays = new PurchaseDays(state);

    const web = sortedEntries(state.web);
    const nTypes = WEB_BEHAVIOR_TYPES.length;
    this.webDays = web.days;
    this.webWeighted = web.buckets.map((b) => {
      let weighted = 0;
      for (let i = 0; i < nTypes; i++) weighted += config.weights[WEB_BEHAVIOR_TYPES[i]!] * (b.counts[i] ?? 0);
      return weighted;
    });
    this.webTypePrefix = WEB_BEHAVIOR_TYPES.map((_t, i) => prefixSums(web.buckets, (b) => b.counts[i] ?? 0));
    this.webLastSeen = prefixMax(web.buckets, state.webBaseLastSeenAt, (b) => b.lastSeenAt);
    this.halfLifeDays = config.halfLifeDays;

    const service = sortedEntries(state.service);
    this.serviceDays = service.days;
    this.serviceTickets = prefixSums(service.buckets, (b) => b.tickets);
    this.serviceComplaints = prefixSums(service.buckets, (b) => b.complaints);
    this.serviceEscalations = prefixSums(service.buckets, (b) => b.escalations);
    this.serviceCsatSum = prefixSums(service.buckets, (b) => b.csatSum);
    this.serviceCsatCount = prefixSums(service.buckets, (b) => b.csatCount);
    this.serviceLastTicket = prefixMax(service.buckets, state.ticketBase.lastTicketAt, (b) => b.lastTicketAt);
    this.tickets = [...state.tickets.values()].map((t) => ({ ...t }));
    this.ticketBase = { ...state.ticketBase };

    // rollOffDays / eventDaysAfter from -Infinity, from the day lists already sorted above (no Set).
    const rollOff: number[] = [];
    for (const d of orders.days) for (const k of ROLL_OFF_OFFSETS) rollOff.push(d + k);
    for (const a of state.adjustments) for (const k of ROLL_OFF_OFFSETS) rollOff.push(a.orderDay + k);
    for (const d of service.days) for (const k of WINDOWS) rollOff.push(d + k);
    this.orderServiceRollOffDays = sortedUnique(rollOff);
    if (web.days.length === 0) {
      this.allRollOffDays = this.orderServiceRollOffDays;
    } else {
      for (const d of web.days) for (const k of WINDOWS) rollOff.push(d + k);
      this.allRollOffDays = sortedUnique(rollOff);
    }
    const events: number[] = [...orders.days];
    for (const c of this.orderCancelled) events.push(c.fromDay);
    for (const a of state.adjustments) events.push(a.effectiveDay);
    events.push(...web.days, ...service.days);
    if (state.firstOrderAt !== null) events.push(dayOf(state.firstOrderAt));
    for (const t of state.tickets.values()) {
      if (t.openedAt !== null) events.push(dayOf(t.openedAt));
      if (t.resolvedAt !== null) events.push(dayOf(t.resolvedAt));
      if (t.statusAt !== null) events.push(dayOf(t.statusAt));
    }
    this.allEventDays = sortedUnique(events);
  }

  /** Same as rollOffDays(state, fromDay). */
  rollOffDays(fromDay: number): number[] {
    return this.allRollOffDays.slice(countUpTo(this.allRollOffDays, fromDay));
  }

  /**
   * Days > fromDay on which a window metric changes without an event, like rollOffDays, but without the roll-offs of
   * web buckets unless `web` (they move only web_* counts; engagement_score moves every day anyway).
   */
  windowChangeDays(fromDay: number, opts: { web: boolean }): number[] {
    const days = opts.web ? this.allRollOffDays : this.orderServiceRollOffDays;
    return days.slice(countUpTo(days, fromDay));
  }

  /** Same as eventDaysAfter(state, fromDay). */
  eventDaysAfter(fromDay: number): number[] {
    return this.allEventDays.slice(countUpTo(this.allEventDays, fromDay));
  }

  /** Same as eventDaysAfter(state, fromDay)[0] ?? null, without the copy. */
  firstEventDayAfter(fromDay: number): number | null {
    return this.allEventDays[countUpTo(this.allEventDays, fromDay)] ?? null;
  }

  /**
   * Same as metricsAt(state, asOfMs, config). The result of a day is computed once and shared by later calls for
   * that day: callers must not modify it.
   */
  metricsAt(asOfMs: number): Metrics {
    const D = dayOf(asOfMs);
    let m = this.byDay.get(D);
    if (!m) {
      m = this.compute(D);
      this.byDay.set(D, m);
    }
    return m;
  }

  private compute(D: number): Metrics {
    const m: Metrics = {};
    const inWindow = (d: number, n: number) => d > D - n && d <= D;

    // Orders: buckets [0, upTo) have a day ≤ D; those of window n are [countUpTo(D − n), upTo).
    const od = this.orderDays;
    const oUpTo = countUpTo(od, D);
    const o30 = countUpTo(od, D - 30);
    const o90 = countUpTo(od, D - 90);
    const o365 = countUpTo(od, D - 365);
    const count = this.orderCount;
    const revenue = this.orderRevenue;
    const upToCount = count[oUpTo]!;
    const upToRevenue = revenue[oUpTo]!;
    let ordersLifetime = this.orderBase.count + upToCount;
    let revenueLifetime = this.orderBase.revenue + upToRevenue;
    let marginLifetime = this.orderBase.margin + this.orderMargin[oUpTo]!;
    let lastOrderAt: number | null = this.orderLastPlaced[oUpTo]!;
    let firstOrderAt = minOrNull(
      this.firstOrderAt !== null && dayOf(this.firstOrderAt) <= D ? this.firstOrderAt : null,
      this.orderFirstPlaced[oUpTo]!,
    );
    for (const c of this.orderCancelled) {
      if (c.day > D || c.fromDay <= D) continue;
      lastOrderAt = maxOrNull(lastOrderAt, c.placedAt);
      firstOrderAt = minOrNull(firstOrderAt, c.placedAt);
    }
    let orders30 = upToCount - count[o30]!;
    let orders90 = upToCount - count[o90]!;
    let orders365 = upToCount - count[o365]!;
    let revenue30 = upToRevenue - revenue[o30]!;
    let revenue90 = upToRevenue - revenue[o90]!;
    let revenue365 = upToRevenue - revenue[o365]!;
    let margin365 = this.orderMargin[oUpTo]! - this.orderMargin[o365]!;
    let revenuePrev90 = revenue[o90]! - revenue[countUpTo(od, D - 180)]!;
    for (const a of this.adjustments) {
      if (a.effectiveDay > D) continue;
      ordersLifetime += a.count;
      revenueLifetime += a.revenue;
      marginLifetime += a.margin;
      if (inWindow(a.orderDay, 30)) {
        orders30 += a.count;
        revenue30 += a.revenue;
      }
      if (inWindow(a.orderDay, 90)) {
        orders90 += a.count;
        revenue90 += a.revenue;
      }
      if (inWindow(a.orderDay, 365)) {
        orders365 += a.count;
        revenue365 += a.revenue;
        margin365 += a.margin;
      }
      if (a.orderDay >= D - 179 && a.orderDay <= D - 90) revenuePrev90 += a.revenue;
    }
    // Same keys in the same order as metricsAt.
    m.orders_lifetime = ordersLifetime;
    m.orders_30d = orders30;
    m.orders_90d = orders90;
    m.orders_365d = orders365;
    m.revenue_lifetime = revenueLifetime;
    m.revenue_30d = revenue30;
    m.revenue_90d = revenue90;
    m.revenue_365d = revenue365;
    m.revenue_prev_90d = revenuePrev90;
    m.margin_lifetime = marginLifetime;
    m.margin_365d = margin365;
    m.aov_lifetime = ordersLifetime > 0 ? revenueLifetime / ordersLifetime : null;
    m.first_order_at = firstOrderAt;
    m.last_order_at = lastOrderAt;
    m.recency_days = lastOrderAt === null ? null : D - dayOf(lastOrderAt);
    m.tenure_days = firstOrderAt === null ? null : D - dayOf(firstOrderAt);
    addClvInputs(m, this.purchaseDays, D);

    // Web engagement: the score over the 365-day window in ascending day order, as metricsAt sums it.
    const wd = this.webDays;
    const wUpTo = countUpTo(wd, D);
    const w30 = countUpTo(wd, D - 30);
    const w90 = countUpTo(wd, D - 90);
    const w365 = countUpTo(wd, D - 365);
    let score = 0;
    for (let i = w365; i < wUpTo; i++) score += this.webWeighted[i]! * 0.5 ** ((D - wd[i]!) / this.halfLifeDays);
    m.engagement_score = round6(score);
    const typePrefix = this.webTypePrefix;
    let events30 = 0;
    let events90 = 0;
    for (const prefix of typePrefix) {
      events30 += prefix[wUpTo]! - prefix[w30]!;
      events90 += prefix[wUpTo]! - prefix[w90]!;
    }
    m.web_events_30d = events30;
    m.web_events_90d = events90;
    for (let i = 0; i < typePrefix.length; i++) {
      const prefix = typePrefix[i]!;
      const keys = WEB_TYPE_WINDOW_KEYS[i]!;
      const upTo = prefix[wUpTo]!;
      m[keys[0]] = upTo - prefix[w30]!;
      m[keys[1]] = upTo - prefix[w90]!;
      m[keys[2]] = upTo - prefix[w365]!;
    }
    const lastSeenAt = this.webLastSeen[wUpTo]!;
    m.last_seen_at = lastSeenAt;
    m.days_since_last_seen = lastSeenAt === null ? null : D - dayOf(lastSeenAt);

    // Service.
    const sd = this.serviceDays;
    const sUpTo = countUpTo(sd, D);
    const s30 = countUpTo(sd, D - 30);
    const s90 = countUpTo(sd, D - 90);
    const s365 = countUpTo(sd, D - 365);
    const csatSum = this.serviceCsatSum[sUpTo]! - this.serviceCsatSum[s90]!;
    const csatCount = this.serviceCsatCount[sUpTo]! - this.serviceCsatCount[s90]!;
    const lastTicketAt = this.serviceLastTicket[sUpTo]!;
    let open = 0;
    let resolveSum = this.ticketBase.resolveSumMs;
    let resolveCount = this.ticketBase.resolveCount;
    for (const t of this.tickets) {
      if ((t.status === 'OPENED' || t.status === 'REOPENED') && t.statusAt !== null && dayOf(t.statusAt) <= D) open++;
      if (t.openedAt !== null && t.resolvedAt !== null && dayOf(t.openedAt) <= D && dayOf(t.resolvedAt) <= D) {
        resolveSum += t.resolvedAt - t.openedAt;
        resolveCount++;
      }
    }
    const tickets = this.serviceTickets;
    const complaints = this.serviceComplaints;
    const escalations = this.serviceEscalations;
    m.open_tickets = open;
    m.tickets_30d = tickets[sUpTo]! - tickets[s30]!;
    m.tickets_90d = tickets[sUpTo]! - tickets[s90]!;
    m.tickets_365d = tickets[sUpTo]! - tickets[s365]!;
    m.complaints_30d = complaints[sUpTo]! - complaints[s30]!;
    m.complaints_90d = complaints[sUpTo]! - complaints[s90]!;
    m.complaints_365d = complaints[sUpTo]! - complaints[s365]!;
    m.escalations_30d = escalations[sUpTo]! - escalations[s30]!;
    m.escalations_90d = escalations[sUpTo]! - escalations[s90]!;
    m.escalations_365d = escalations[sUpTo]! - escalations[s365]!;
    m.csat_avg_90d = csatCount > 0 ? csatSum / csatCount : null;
    m.avg_resolve_hours = resolveCount > 0 ? hours(resolveSum, resolveCount) : null;
    m.last_ticket_at = lastTicketAt;
    m.days_since_last_ticket = lastTicketAt === null ? null : D - dayOf(lastTicketAt);
    return m;
  }
}
