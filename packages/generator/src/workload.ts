import type {
  CustomerAttributes,
  InputEvent,
  OrderEvent,
  TicketCategory,
  TicketEvent,
  TicketPriority,
  WebBehaviorEvent,
  WebBehaviorType,
} from '@tierstream/contracts';
import { TimeHeap } from './heap';
import { Rng } from './random';

export type ProfileName = 'tiny' | 'demo' | 'standard';

export interface GeneratorOptions {
  /** Number of customers (prospects included). */
  customers: number;
  /** Length of the event-time window in days; the window ends at `end`. */
  days: number;
  seed: number;
  /** Last instant of the window (ISO string or epoch ms). Default 2026-06-30T23:59:59Z. */
  end?: string | number;
  /** Share of customers who engage but never buy. Default 0.2. */
  prospectShare?: number;
  /** Share of buyers who stop ordering at some point in the window. Default 0.3. */
  churnShare?: number;
  /** Share of customers that are businesses (firmographic attributes, sales touchpoints, bigger orders). Default 0.15. */
  b2bShare?: number;
  /** Share of placed orders later refunded (fully or partly). Default 0.04. */
  refundRate?: number;
  /** Share of placed orders cancelled shortly after placement. Default 0.02. */
  cancelRate?: number;
}

export const DEFAULT_END = '2026-06-30T23:59:59Z';

/**
 * Named workloads. `standard` is the benchmark workload: 100,000 customers over the 365 days ending
 * 2026-06-30T23:59:59Z, seed 20260630: 4,998,848 events (3.99M web, 573k orders, 434k ticket events; 79,464
 * buyers), generated in about 12 s with about 400 MB RSS when streamed.
 */
export const PROFILES: Record<ProfileName, GeneratorOptions> = {
  tiny: { customers: 200, days: 120, seed: 7 },
  demo: { customers: 2_000, days: 365, seed: 42 },
  standard: { customers: 100_000, days: 365, seed: 20260630 },
};

const DAY = 86_400_000;
const HOUR = 3_600_000;
const MINUTE = 60_000;

/** Rough value of one unit of each currency in USD, to keep baskets comparable across currencies. */
const USD_PER_UNIT: Record<string, number> = { USD: 1, EUR: 1.08, GBP: 1.27 };
const INDUSTRIES = ['retail', 'manufacturing', 'software', 'healthcare', 'finance', 'education', 'logistics'] as const;
const REGIONS = ['NA', 'EU', 'UK', 'APAC', 'LATAM'] as const;

interface Customer {
  index: number;
  id: string;
  anonymousId: string;
  b2b: boolean;
  buyer: boolean;
  currency: string;
  acquiredAt: number;
  /** Orders stop after this instant (Infinity: never churns in the window). */
  churnAt: number;
  /** Web sessions stop after this instant. */
  engagedUntil: number;
  ordersPerDay: number;
  /** Median basket in the customer's currency, minor units. */
  basketMinor: number;
  marginRate: number;
  browsesPerDay: number;
  ticketsPerDay: number;
  unhappy: boolean;
  attributes: CustomerAttributes | null;
}

type Action =
  | { a: 'emit'; input: InputEvent }
  | { a: 'anon'; c: Customer }
  | { a: 'acquire'; c: Customer }
  | { a: 'purchase'; c: Customer }
  | { a: 'browse'; c: Customer }
  | { a: 'ticket'; c: Customer; burst: number };

/** Options of a profile, or the options given, with defaults filled in. */
export function resolveOptions(profile: ProfileName | GeneratorOptions, seed?: number): Required<GeneratorOptions> {
  const base = typeof profile === 'string' ? PROFILES[profile] : profile;
  if (!base) throw new Error(`unknown workload profile ${String(profile)} (tiny, demo, standard)`);
  const o: Required<GeneratorOptions> = {
    end: DEFAULT_END,
    prospectShare: 0.2,
    churnShare: 0.3,
    b2bShare: 0.15,
    refundRate: 0.04,
    cancelRate: 0.02,
    ...base,
    seed: seed ?? base.seed,
  };
  if (!Number.isInteger(o.customers) || o.customers < 1) throw new Error(`customers must be a positive integer`);
  if (!(o.days > 0)) throw new Error(`days must be positive`);
  if (!Number.isFinite(endMs(o.end))) throw new Error(`end ${String(o.end)} is not a valid instant`);
  return o;
}

function endMs(end: string | number): number {
  return typeof end === 'number' ? end : Date.parse(end);
}

/** Customer id of the i-th customer (1-based): C000001. */
export function customerId(i: number): string {
  return `C${String(i).padStart(6, '0')}`;
}

/**
 * A synthetic workload of input events in event-time order (ascending occurred_at, ties in a fixed order).
 * Deterministic: the same options and seed give the same events, ids included. Streams (memory is O(customers)).
 *
 * The model: customers are acquired over the window (anonymous visits first, then a sign-up session with the
 * customer id). Buyers order at a per-customer rate with seasonality (weekly and yearly, December peak) and
 * lognormal baskets, so revenue is heavy-tailed (top 20% of buyers hold about two thirds of it). Some buyers churn
 * (stop ordering, then stop visiting); prospects only engage. Orders are preceded by a browsing session; some are
 * cancelled or refunded later with original_placed_at. Tickets run OPENED → (ESCALATED) → RESOLVED → (REOPENED →
 * RESOLVED) → SATISFACTION_RATED → CLOSED; unhappy customers file more of them, in bursts, with complaints and low
 * CSAT. Businesses carry attributes and have sales touchpoints (webinars, demos, meetings).
 */
export function* generateWorkload(profile: ProfileName | GeneratorOptions, seed?: number): Generator<InputEvent> {
  const o = resolveOptions(profile, seed);
  const rng = new Rng(o.seed);
  const end = endMs(o.end);
  const start = end + 1000 - Math.round(o.days * DAY);
  const windowMs = end - start;
  const heap = new TimeHeap<Action>();
  let orderSeq = 0;
  let ticketSeq = 0;
  let eventSeq = 0;

  const schedule = (t: number, action: Action) => {
    if (t <= end) heap.push(Math.round(t), action);
  };

  for (let i = 1; i <= o.customers; i++) {
    const c = makeCustomer(rng, i, o, start, windowMs);
    schedule(c.acquiredAt, { a: 'acquire', c });
    // Anonymous visits in the two weeks before sign-up (only those inside the window are observed).
    const visits = rng.int(0, 3);
    for (let v = 0; v < visits; v++) {
      const t = c.acquiredAt - rng.uniform(0.1, 14) * DAY;
      if (t >= start) schedule(t, { a: 'anon', c });
    }
  }

  /** Next instant of a seasonal Poisson process with base rate `perDay`, by thinning. */
  const nextSeasonal = (from: number, perDay: number): number => {
    if (perDay <= 0) return Number.POSITIVE_INFINITY;
    let t = from;
    for (;;) {
      t += rng.exponential(DAY / (perDay * MAX_SEASONAL));
      if (t > end) return t;
      if (rng.next() * MAX_SEASONAL < seasonality(t)) return t;
    }
  };

  const web = (t: number, c: Customer, type: WebBehaviorType, anonymous = false): void => {
    const event: WebBehaviorEvent = {
      event_id: '',
      customer_id: anonymous ? null : c.id,
      anonymous_id: anonymous || rng.chance(0.3) ? c.anonymousId : null,
      type,
      url: urlFor(rng, type),
      content_id: type === 'CONTENT_DOWNLOAD' || type === 'WEBINAR_ATTENDED' ? `K${rng.int(1, 400)}` : null,
      occurred_at: 0,
    };
    schedule(t, { a: 'emit', input: { kind: 'web', event } });
  };

  /** A browsing session of 1-4 events starting at t; returns the time of its last event. */
  const session = (t: number, c: Customer, anonymous: boolean, buying: boolean): number => {
    const n = buying ? rng.int(2, 4) : rng.int(1, 4);
    let at = t;
    for (let k = 0; k < n; k++) {
      const type: WebBehaviorType = buying
        ? k === n - 1
          ? 'ADD_TO_CART'
          : rng.weighted(BUYING_TYPES)
        : rng.weighted(c.b2b && !anonymous ? B2B_TYPES : anonymous ? ANON_TYPES : B2C_TYPES);
      web(at, c, type, anonymous);
      at += rng.uniform(0.5, 6) * MINUTE;
    }
    return at;
  };

  const order = (t: number, c: Customer): void => {
    const amount = Math.max(50, Math.round(rng.lognormal(c.basketMinor, 0.5)));
    const margin = rng.chance(0.7) ? Math.round(amount * c.marginRate) : null;
    const base: OrderEvent = {
      event_id: '',
      customer_id: c.id,
      order_id: `O${String(++orderSeq).padStart(8, '0')}`,
      type: 'PLACED',
      amount_minor: amount,
      currency: c.currency,
      margin_minor: margin,
      channel: c.b2b ? rng.weighted(B2B_CHANNELS) : rng.weighted(B2C_CHANNELS),
      items: c.b2b ? rng.int(1, 40) : 1 + Math.floor(rng.exponential(1.2)),
      occurred_at: 0,
      original_placed_at: null,
      refund_id: null,
      attributes: c.attributes && { ...c.attributes },
    };
    schedule(t, { a: 'emit', input: { kind: 'order', event: base } });
    const r = rng.next();
    if (r < o.cancelRate) {
      const cancel: OrderEvent = { ...base, type: 'CANCELLED', original_placed_at: Math.round(t) };
      schedule(t + rng.uniform(5 * MINUTE, 36 * HOUR), { a: 'emit', input: { kind: 'order', event: cancel } });
    } else if (r < o.cancelRate + o.refundRate) {
      const share = rng.chance(0.6) ? 1 : rng.uniform(0.2, 0.8);
      const refund: OrderEvent = {
        ...base,
        type: 'REFUNDED',
        amount_minor: Math.round(amount * share),
        margin_minor: margin === null ? null : Math.round(margin * share),
        items: null,
        original_placed_at: Math.round(t),
      };
      schedule(t + rng.uniform(2, 30) * DAY, { a: 'emit', input: { kind: 'order', event: refund } });
    }
  };

  const ticket = (t: number, c: Customer, burst: number): void => {
    const category: TicketCategory =
      c.unhappy && rng.chance(0.5) ? 'COMPLAINT' : rng.weighted(c.buyer ? BUYER_CATEGORIES : PROSPECT_CATEGORIES);
    const priority: TicketPriority =
      category === 'COMPLAINT' ? rng.weighted(COMPLAINT_PRIORITIES) : rng.weighted(NORMAL_PRIORITIES);
    const ticketId = `T${String(++ticketSeq).padStart(7, '0')}`;
    const emit = (at: number, type: TicketEvent['type'], csat: number | null = null) => {
      const event: TicketEvent = {
        event_id: '',
        customer_id: c.id,
        ticket_id: ticketId,
        type,
        category,
        priority,
        csat,
        occurred_at: 0,
      };
      schedule(at, { a: 'emit', input: { kind: 'ticket', event } });
    };
    emit(t, 'OPENED');
    let at = t;
    if ((category === 'COMPLAINT' || priority === 'HIGH' || priority === 'URGENT') && rng.chance(0.5)) {
      at += rng.uniform(1, 8) * HOUR;
      emit(at, 'ESCALATED');
    }
    at += rng.uniform(2 * HOUR, 5 * DAY);
    emit(at, 'RESOLVED');
    if (rng.chance(0.15)) {
      at += rng.uniform(1, 3) * DAY;
      emit(at, 'REOPENED');
      at += rng.uniform(2 * HOUR, 2 * DAY);
      emit(at, 'RESOLVED');
    }
    if (rng.chance(0.6)) {
      const unhappy = category === 'COMPLAINT' || c.unhappy;
      emit(at + rng.uniform(1 * HOUR, 2 * DAY), 'SATISFACTION_RATED', rng.weighted(unhappy ? LOW_CSAT : HIGH_CSAT));
    }
    emit(at + rng.uniform(2, 7) * DAY, 'CLOSED');
    // Unhappy customers come back soon with more (a burst), up to 4 tickets in a row.
    if (c.unhappy && burst < 3 && rng.chance(0.35)) {
      schedule(t + rng.uniform(0.5, 4) * DAY, { a: 'ticket', c, burst: burst + 1 });
    }
  };

  for (;;) {
    const next = heap.pop();
    if (!next) return;
    const { time: t, item } = next;
    switch (item.a) {
      case 'emit': {
        const input = item.input;
        input.event.event_id = `E${o.seed}-${String(++eventSeq).padStart(9, '0')}`;
        input.event.occurred_at = t;
        yield input;
        break;
      }
      case 'anon':
        session(t, item.c, true, false);
        break;
      case 'acquire': {
        const c = item.c;
        // Sign-up session with the customer id, then the first order within three days for buyers.
        web(t, c, 'PAGE_VIEW');
        session(t + rng.uniform(1, 5) * MINUTE, c, false, false);
        if (c.buyer) schedule(t + rng.uniform(0.01, 3) * DAY, { a: 'purchase', c });
        schedule(nextSeasonal(t, c.browsesPerDay), { a: 'browse', c });
        schedule(t + rng.exponential(DAY / c.ticketsPerDay), { a: 'ticket', c, burst: 0 });
        break;
      }
      case 'purchase': {
        const c = item.c;
        if (t > c.churnAt) break;
        const checkout = session(t, c, false, true);
        order(checkout + rng.uniform(1, 20) * MINUTE, c);
        // At least a day between orders: keeps the fastest customers plausible.
        schedule(nextSeasonal(t + DAY, c.ordersPerDay), { a: 'purchase', c });
        break;
      }
      case 'browse': {
        const c = item.c;
        if (t > c.engagedUntil) break;
        session(t, c, false, false);
        schedule(nextSeasonal(t, c.browsesPerDay), { a: 'browse', c });
        break;
      }
      case 'ticket': {
        const c = item.c;
        if (t > c.engagedUntil + 30 * DAY) break;
        ticket(t, c, item.burst);
        if (item.burst === 0) schedule(t + rng.exponential(DAY / c.ticketsPerDay), { a: 'ticket', c, burst: 0 });
        break;
      }
    }
  }
}

function makeCustomer(
  rng: Rng,
  index: number,
  o: Required<GeneratorOptions>,
  start: number,
  windowMs: number,
): Customer {
  const b2b = rng.chance(o.b2bShare);
  const buyer = !rng.chance(o.prospectShare);
  const currency = rng.weighted(CURRENCIES);
  // Acquired over the first 85% of the window, so late customers still have some history.
  const acquiredAt = start + rng.next() * 0.85 * windowMs;
  const churns = buyer && rng.chance(o.churnShare);
  const churnAt = churns ? acquiredAt + rng.exponential(120 * DAY) : Number.POSITIVE_INFINITY;
  // Prospects lose interest after a while; churned buyers keep visiting a little after their last order.
  const engagedUntil = buyer
    ? churns
      ? churnAt + rng.exponential(30 * DAY)
      : Number.POSITIVE_INFINITY
    : acquiredAt + rng.exponential(90 * DAY);
  // Heterogeneous frequency and basket: their product makes revenue heavy-tailed.
  const ordersPerDay = Math.min(0.5, rng.lognormal(b2b ? 1 / 60 : 1 / 45, 1.0));
  const basketMajor = rng.lognormal(b2b ? 400 : 40, 0.9);
  const basketMinor = Math.max(100, Math.round((basketMajor / USD_PER_UNIT[currency]!) * 100));
  const unhappy = rng.chance(0.1);
  return {
    index,
    id: customerId(index),
    anonymousId: `A${o.seed}-${index}`,
    b2b,
    buyer,
    currency,
    acquiredAt,
    churnAt,
    engagedUntil,
    ordersPerDay,
    basketMinor,
    marginRate: rng.uniform(0.12, 0.45),
    browsesPerDay: rng.lognormal(1 / 30, 0.6),
    ticketsPerDay: (buyer ? 1 / 240 : 1 / 900) * (unhappy ? 5 : 1),
    unhappy,
    attributes: b2b
      ? {
          industry: rng.pick(INDUSTRIES),
          company_size: Math.round(rng.lognormal(80, 1.4)) + 1,
          region: rng.pick(REGIONS),
        }
      : null,
  };
}

/** Order-rate multiplier: weekly (weekend peak) times yearly (December peak, summer dip). Mean about 1. */
export function seasonality(t: number): number {
  const d = new Date(t);
  const weekly = WEEKLY[d.getUTCDay()]!;
  const dayOfYear = (t - Date.UTC(d.getUTCFullYear(), 0, 1)) / DAY;
  const yearly = 1 + 0.3 * Math.cos((2 * Math.PI * (dayOfYear - 350)) / 365);
  return weekly * yearly;
}
// Sunday .. Saturday.
const WEEKLY = [1.2, 0.9, 0.9, 0.95, 1.0, 1.1, 1.25] as const;
const MAX_SEASONAL = 1.25 * 1.3;

const CURRENCIES = [
  ['USD', 80],
  ['EUR', 12],
  ['GBP', 8],
] as const;
const B2C_CHANNELS = [
  ['web', 70],
  ['app', 20],
  ['store', 10],
] as const;
const B2B_CHANNELS = [
  ['sales', 60],
  ['web', 40],
] as const;
const BUYING_TYPES: readonly (readonly [WebBehaviorType, number])[] = [
  ['PRODUCT_VIEW', 5],
  ['SEARCH', 2],
  ['PAGE_VIEW', 2],
  ['EMAIL_CLICKED', 1],
];
const ANON_TYPES: readonly (readonly [WebBehaviorType, number])[] = [
  ['PAGE_VIEW', 5],
  ['PRODUCT_VIEW', 3],
  ['SEARCH', 2],
];
const B2C_TYPES: readonly (readonly [WebBehaviorType, number])[] = [
  ['PAGE_VIEW', 4],
  ['PRODUCT_VIEW', 4],
  ['SEARCH', 2],
  ['ADD_TO_CART', 1],
  ['EMAIL_OPENED', 2],
  ['EMAIL_CLICKED', 1],
];
const B2B_TYPES: readonly (readonly [WebBehaviorType, number])[] = [
  ['PAGE_VIEW', 4],
  ['PRODUCT_VIEW', 2],
  ['CONTENT_DOWNLOAD', 2],
  ['WEBINAR_ATTENDED', 1],
  ['EMAIL_OPENED', 2],
  ['EMAIL_CLICKED', 1],
  ['DEMO_REQUESTED', 0.5],
  ['SALES_MEETING', 0.5],
];
const BUYER_CATEGORIES: readonly (readonly [TicketCategory, number])[] = [
  ['GENERAL', 3],
  ['BILLING', 2],
  ['TECHNICAL', 2],
  ['SHIPPING', 3],
  ['COMPLAINT', 1],
];
const PROSPECT_CATEGORIES: readonly (readonly [TicketCategory, number])[] = [
  ['GENERAL', 4],
  ['TECHNICAL', 2],
  ['BILLING', 1],
];
const NORMAL_PRIORITIES: readonly (readonly [TicketPriority, number])[] = [
  ['LOW', 3],
  ['NORMAL', 6],
  ['HIGH', 1.5],
  ['URGENT', 0.5],
];
const COMPLAINT_PRIORITIES: readonly (readonly [TicketPriority, number])[] = [
  ['NORMAL', 3],
  ['HIGH', 4],
  ['URGENT', 2],
];
const HIGH_CSAT = [
  [5, 50],
  [4, 30],
  [3, 12],
  [2, 5],
  [1, 3],
] as const;
const LOW_CSAT = [
  [1, 35],
  [2, 30],
  [3, 20],
  [4, 10],
  [5, 5],
] as const;

function urlFor(rng: Rng, type: WebBehaviorType): string | null {
  switch (type) {
    case 'PAGE_VIEW':
      return rng.pick(['/', '/deals', '/new', '/account', '/help', '/pricing']);
    case 'PRODUCT_VIEW':
    case 'ADD_TO_CART':
      return `/p/${rng.int(1, 5000)}`;
    case 'SEARCH':
      return `/search?q=${rng.pick(['jazz', 'rock', 'classical', 'pop', 'gift', 'sale'])}`;
    case 'CONTENT_DOWNLOAD':
      return '/resources';
    case 'DEMO_REQUESTED':
      return '/demo';
    default:
      return null;
  }
}
