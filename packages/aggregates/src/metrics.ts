/**
 * Pure metric maths over the decoded per-customer aggregate state. No I/O: the Redis adapter decodes the hash into
 * an AggregateState (see keyspace.ts) and everything else happens here. Definitions: packages/aggregates/README.md.
 */
import { WEB_BEHAVIOR_TYPES } from '@tierstream/contracts';
import { addClvInputs, PurchaseDays } from './clv-inputs';
import type { AggregateConfig } from './config';
import { hours, maxOrNull, minOrNull, sortedDays } from './math';

export * from './config';

export const DAY_MS = 86_400_000;
/** Day buckets are kept for days > (max event day − RETENTION_DAYS); older ones fold into the lifetime base. */
export const RETENTION_DAYS = 400;
/** Window lengths in days. */
export const WINDOWS = [30, 90, 365] as const;

export type Metrics = Record<string, number | null>;

/** UTC day number of an epoch-millisecond instant. */
export function dayOf(ms: number): number {
  return Math.floor(ms / DAY_MS);
}

export interface OrderBucket {
  /** Net order count (PLACED − CANCELLED attributed to this day). */
  count: number;
  revenue: number;
  margin: number;
  /** Latest PLACED occurred_at among this day's live (not cancelled) orders, null if none. */
  lastPlacedAt: number | null;
  /** Earliest PLACED occurred_at among this day's live orders; absent: lastPlacedAt (one time per bucket). */
  firstPlacedAt?: number | null;
  /**
   * This day's orders cancelled on a later day: a purchase time as of the days before `fromDay` (design-decisions
   * §15: a cancelled order did not happen from its cancellation's day on). Absent: none.
   */
  cancelled?: Array<{ placedAt: number; fromDay: number }>;
}

/** A refund or cancellation of an order of `orderDay`, known from `effectiveDay` on (a later day). */
export interface OrderAdjustment {
  orderDay: number;
  effectiveDay: number;
  count: number;
  revenue: number;
  margin: number;
}

export interface WebBucket {
  /** Count per WEB_BEHAVIOR_TYPES index. */
  counts: number[];
  lastSeenAt: number;
}

export interface ServiceBucket {
  tickets: number;
  complaints: number;
  escalations: number;
  csatSum: number;
  csatCount: number;
  lastTicketAt: number;
}

export type TicketStatus = 'OPENED' | 'REOPENED' | 'RESOLVED' | 'CLOSED';

export interface TicketState {
  /** min OPENED occurred_at. */
  openedAt: number | null;
  /** min RESOLVED/CLOSED occurred_at. */
  resolvedAt: number | null;
  /** Type of the latest (occurred_at, then event_id) status event. */
  status: TicketStatus | null;
  statusAt: number | null;
  statusEventId: string | null;
}

/** The canonical decoded form of one customer's Redis hash. */
export interface AggregateState {
  customerId: string;
  /** Max occurred_at over applied events (drives retention and dedupe pruning). */
  maxEventAt: number | null;
  /** min PLACED occurred_at among folded (base) orders; hashes written before §15's purchase times: of all orders. */
  firstOrderAt: number | null;
  /** Folded (older than retention) order totals. */
  orderBase: { count: number; revenue: number; margin: number; lastPlacedAt: number | null };
  /**
   * Folded order days (`pd`): net revenue of the day's folded orders and whether it is a purchase day (it had a live
   * order), so the CLV inputs (clv-inputs.ts) survive the fold. Empty for hashes folded before `pd` existed.
   */
  orderDayBase: Map<number, { revenue: number; purchase: boolean }>;
  /** Max web occurred_at among folded/late-old events. */
  webBaseLastSeenAt: number | null;
  /** Folded ticket data: latest ticket event time among folded, and resolve-time sums of folded tickets. */
  ticketBase: { lastTicketAt: number | null; resolveSumMs: number; resolveCount: number };
  orders: Map<number, OrderBucket>;
  /** Refunds/cancellations that happened after their order's day (applied to it from their own day on). */
  adjustments: OrderAdjustment[];
  web: Map<number, WebBucket>;
  service: Map<number, ServiceBucket>;
  tickets: Map<string, TicketState>;
  /** High-water offset per `topic:partition`. */
  offsets: Map<string, string>;
  /** Dedupe memory: event_id → occurred_at. */
  seenEvents: Map<string, number>;
}

export function emptyState(customerId: string): AggregateState {
  return {
    customerId,
    maxEventAt: null,
    firstOrderAt: null,
    orderBase: { count: 0, revenue: 0, margin: 0, lastPlacedAt: null },
    orderDayBase: new Map(),
    webBaseLastSeenAt: null,
    ticketBase: { lastTicketAt: null, resolveSumMs: 0, resolveCount: 0 },
    orders: new Map(),
    adjustments: [],
    web: new Map(),
    service: new Map(),
    tickets: new Map(),
    offsets: new Map(),
    seenEvents: new Map(),
  };
}

/** Round to 6 decimals (engagement score). */
export function round6(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

/**
 * All metrics as of `asOfMs` (day granularity: every bucket of a day ≤ asOfDay counts, later buckets are ignored).
 * Exact for asOfDay ≥ maxEventDay − (RETENTION_DAYS − 365); see README for what "as of an earlier day" means for tickets.
 */
export function metricsAt(state: AggregateState, asOfMs: number, config: AggregateConfig): Metrics {
  const D = dayOf(asOfMs);
  const m: Metrics = {};
  const inWindow = (d: number, n: number) => d > D - n && d <= D;

  // Orders.
  let ordersLifetime = state.orderBase.count;
  let revenueLifetime = state.orderBase.revenue;
  let marginLifetime = state.orderBase.margin;
  let lastOrderAt = state.orderBase.lastPlacedAt;
  // Purchase times: live orders of the buckets up to D, orders cancelled after D, the folded base.
  let firstOrderAt = state.firstOrderAt !== null && dayOf(state.firstOrderAt) <= D ? state.firstOrderAt : null;
  const oc: Record<number, number> = { 30: 0, 90: 0, 365: 0 };
  const orv: Record<number, number> = { 30: 0, 90: 0, 365: 0 };
  let margin365 = 0;
  let revenuePrev90 = 0;
  for (const [d, b] of state.orders) {
    if (d > D) continue;
    ordersLifetime += b.count;
    revenueLifetime += b.revenue;
    marginLifetime += b.margin;
    lastOrderAt = maxOrNull(lastOrderAt, b.lastPlacedAt);
    firstOrderAt = minOrNull(firstOrderAt, b.firstPlacedAt ?? b.lastPlacedAt);
    if (b.cancelled) {
      for (const c of b.cancelled) {
        if (c.fromDay <= D) continue;
        lastOrderAt = maxOrNull(lastOrderAt, c.placedAt);
        firstOrderAt = minOrNull(firstOrderAt, c.placedAt);
      }
    }
    for (const n of WINDOWS) {
      if (inWindow(d, n)) {
        oc[n]! += b.count;
        orv[n]! += b.revenue;
      }
    }
    if (inWindow(d, 365)) margin365 += b.margin;
    if (d >= D - 179 && d <= D - 90) revenuePrev90 += b.revenue;
  }
  for (const a of state.adjustments) {
    if (a.effectiveDay > D) continue;
    ordersLifetime += a.count;
    revenueLifetime += a.revenue;
    marginLifetime += a.margin;
    for (const n of WINDOWS) {
      if (inWindow(a.orderDay, n)) {
        oc[n]! += a.count;
        orv[n]! += a.revenue;
      }
    }
    if (inWindow(a.orderDay, 365)) margin365 += a.margin;
    if (a.orderDay >= D - 179 && a.orderDay <= D - 90) revenuePrev90 += a.revenue;
  }
  m.orders_lifetime = ordersLifetime;
  for (const n of WINDOWS) m[`orders_${n}d`] = oc[n]!;
  m.revenue_lifetime = revenueLifetime;
  for (const n of WINDOWS) m[`revenue_${n}d`] = orv[n]!;
  m.revenue_prev_90d = revenuePrev90;
  m.margin_lifetime = marginLifetime;
  m.margin_365d = margin365;
  m.aov_lifetime = ordersLifetime > 0 ? revenueLifetime / ordersLifetime : null;
  m.first_order_at = firstOrderAt;
  m.last_order_at = lastOrderAt;
  m.recency_days = lastOrderAt === null ? null : D - dayOf(lastOrderAt);
  m.tenure_days = firstOrderAt === null ? null : D - dayOf(firstOrderAt);
  addClvInputs(m, new PurchaseDays(state), D);

  // Web engagement.
  const nTypes = WEB_BEHAVIOR_TYPES.length;
  const typeCounts: Record<number, number[]> = {
    30: new Array(nTypes).fill(0),
    90: new Array(nTypes).fill(0),
    365: new Array(nTypes).fill(0),
  };
  let score = 0;
  let lastSeenAt = state.webBaseLastSeenAt;
  for (const d of sortedDays(state.web)) {
    if (d > D) continue;
    const b = state.web.get(d)!;
    lastSeenAt = maxOrNull(lastSeenAt, b.lastSeenAt);
    if (!inWindow(d, 365)) continue;
    let weighted = 0;
    for (let i = 0; i < nTypes; i++) {
      const c = b.counts[i] ?? 0;
      weighted += config.weights[WEB_BEHAVIOR_TYPES[i]!] * c;
      for (const n of WINDOWS) if (inWindow(d, n)) typeCounts[n]![i]! += c;
    }
    score += weighted * 0.5 ** ((D - d) / config.halfLifeDays);
  }
  m.engagement_score = round6(score);
  m.web_events_30d = typeCounts[30]!.reduce((a, b) => a + b, 0);
  m.web_events_90d = typeCounts[90]!.reduce((a, b) => a + b, 0);
  for (let i = 0; i < nTypes; i++) {
    for (const n of WINDOWS) m[`web_${WEB_BEHAVIOR_TYPES[i]!.toLowerCase()}_${n}d`] = typeCounts[n]![i]!;
  }
  m.last_seen_at = lastSeenAt;
  m.days_since_last_seen = lastSeenAt === null ? null : D - dayOf(lastSeenAt);

  // Service.
  const tk: Record<number, number> = { 30: 0, 90: 0, 365: 0 };
  const cp: Record<number, number> = { 30: 0, 90: 0, 365: 0 };
  const es: Record<number, number> = { 30: 0, 90: 0, 365: 0 };
  let csatSum = 0;
  let csatCount = 0;
  let lastTicketAt = state.ticketBase.lastTicketAt;
  for (const [d, b] of state.service) {
    if (d > D) continue;
    lastTicketAt = maxOrNull(lastTicketAt, b.lastTicketAt);
    for (const n of WINDOWS) {
      if (inWindow(d, n)) {
        tk[n]! += b.tickets;
        cp[n]! += b.complaints;
        es[n]! += b.escalations;
      }
    }
    if (inWindow(d, 90)) {
      csatSum += b.csatSum;
      csatCount += b.csatCount;
    }
  }
  let open = 0;
  let resolveSum = state.ticketBase.resolveSumMs;
  let resolveCount = state.ticketBase.resolveCount;
  for (const t of state.tickets.values()) {
    if ((t.status === 'OPENED' || t.status === 'REOPENED') && t.statusAt !== null && dayOf(t.statusAt) <= D) open++;
    if (t.openedAt !== null && t.resolvedAt !== null && dayOf(t.openedAt) <= D && dayOf(t.resolvedAt) <= D) {
      resolveSum += t.resolvedAt - t.openedAt;
      resolveCount++;
    }
  }
  m.open_tickets = open;
  for (const n of WINDOWS) m[`tickets_${n}d`] = tk[n]!;
  for (const n of WINDOWS) m[`complaints_${n}d`] = cp[n]!;
  for (const n of WINDOWS) m[`escalations_${n}d`] = es[n]!;
  m.csat_avg_90d = csatCount > 0 ? csatSum / csatCount : null;
  m.avg_resolve_hours = resolveCount > 0 ? hours(resolveSum, resolveCount) : null;
  m.last_ticket_at = lastTicketAt;
  m.days_since_last_ticket = lastTicketAt === null ? null : D - dayOf(lastTicketAt);
  return m;
}

/** Day offsets after a bucket day at which a window metric changes: leaves 30d, enters prev_90/leaves 90d, leaves prev_90, leaves 365d. */
export const ROLL_OFF_OFFSETS = [30, 90, 180, 365] as const;

/**
 * Days > fromDay (ascending, unique) on which some window metric (orders/revenue/margin/web/tickets/complaints/
 * escalations/csat windows, revenue_prev_90d) changes with no new event: bucket day + 30/90/180/365. Metrics that
 * change every day anyway (recency_days, tenure_days, days_since_*, engagement_score decay) are not listed.
 */
export function rollOffDays(state: AggregateState, fromDay: number): number[] {
  const out = new Set<number>();
  const add = (d: number, offsets: readonly number[]) => {
    for (const k of offsets) if (d + k > fromDay) out.add(d + k);
  };
  // Only order buckets feed revenue_prev_90d (the +180 boundary); web and service buckets only have 30/90/365 windows.
  for (const d of state.orders.keys()) add(d, ROLL_OFF_OFFSETS);
  for (const a of state.adjustments) add(a.orderDay, ROLL_OFF_OFFSETS);
  for (const d of state.web.keys()) add(d, WINDOWS);
  for (const d of state.service.keys()) add(d, WINDOWS);
  return [...out].sort((a, b) => a - b);
}

/**
 * Days > fromDay (ascending, unique) that already hold applied data: bucket days and ticket state change days. When
 * events from the future (relative to an as-of day) were applied, metrics change on these days as well.
 */
export function eventDaysAfter(state: AggregateState, fromDay: number): number[] {
  const out = new Set<number>();
  const add = (d: number) => {
    if (d > fromDay) out.add(d);
  };
  for (const [d, b] of state.orders) {
    add(d);
    if (b.cancelled) for (const c of b.cancelled) add(c.fromDay);
  }
  for (const a of state.adjustments) add(a.effectiveDay);
  for (const d of state.web.keys()) add(d);
  for (const d of state.service.keys()) add(d);
  if (state.firstOrderAt !== null) add(dayOf(state.firstOrderAt));
  for (const t of state.tickets.values()) {
    for (const at of [t.openedAt, t.resolvedAt, t.statusAt]) if (at !== null) add(dayOf(at));
  }
  return [...out].sort((a, b) => a - b);
}
