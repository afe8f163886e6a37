/**
 * Decoding of a customer's aggregate hash (pure): HGETALL replies, both layouts (design-decisions §23), into an
 * AggregateState. Field layout documented in README.md ("Keyspace"); the encoding side is keyspace.ts.
 */
import { WEB_BEHAVIOR_TYPES } from '@tierstream/contracts';
import { FINGERPRINT_LENGTH } from './keyspace';
import {
  type AggregateState,
  DAY_MS,
  emptyState,
  type OrderBucket,
  type ServiceBucket,
  type TicketState,
  type TicketStatus,
  type WebBucket,
} from './metrics';

const STATUS_BY_CODE: Record<string, TicketStatus> = { O: 'OPENED', P: 'REOPENED', R: 'RESOLVED', C: 'CLOSED' };
const CODE_BY_STATUS = Object.fromEntries(Object.entries(STATUS_BY_CODE).map(([c, st]) => [st, c])) as Record<
  TicketStatus,
  string
>;

const n0 = (s: string | undefined): number => (s === undefined || s === '' ? 0 : Number(s));
const nOpt = (s: string | undefined): number | null => (s === undefined || s === '' ? null : Number(s));

/** Decodes the HGETALL result of a customer's hash. Returns null for a missing (empty) hash. */
export function decodeState(customerId: string, hash: Record<string, string>): AggregateState | null {
  const fields = Object.keys(hash);
  if (fields.length === 0) return null;
  const decoder = new StateDecoder(customerId, true);
  for (const f of fields) decoder.field(f, hash[f]!);
  return decoder.finish();
}

/**
 * Decodes a raw HGETALL reply (flat `[field, value, field, value, …]`, as `redis.call('HGETALL', key)` returns it:
 * ioredis' object conversion of `hgetall` replies was a large share of the tier engine's time). Same result as
 * decodeState of the same fields, except with `idempotence: false`, which leaves `offsets` and `seenEvents` empty:
 * the metrics never read them, and the dedupe entries are a good part of a hash.
 */
export function decodeStateReply(
  customerId: string,
  reply: string[],
  opts: { idempotence?: boolean } = {},
): AggregateState | null {
  if (reply.length === 0) return null;
  const decoder = new StateDecoder(customerId, opts.idempotence ?? true);
  for (let i = 0; i + 1 < reply.length; i += 2) decoder.field(reply[i]!, reply[i + 1]!);
  return decoder.finish();
}

const C_COLON = 58; // ':'
const C_COMMA = 44;
const C_MINUS = 45;
const C_0 = 48;
const C_9 = 57;

/**
 * Columns of a comma-separated numeric value, as `v.split(',').map(...)` would read them, without the substrings:
 * COLUMN_VALUE[i] is Number(column i) and COLUMN_SET[i] is 0 for an empty column (n0 → 0, nOpt → null). Plain
 * integers (what the script writes) are parsed here; anything else goes through Number() of the substring.
 * Returns the number of columns. Reused buffers: read them before the next call.
 */
const COLUMN_VALUE: number[] = [];
const COLUMN_SET: boolean[] = [];
function parseColumns(v: string): number {
  let n = 0;
  let start = 0;
  for (;;) {
    let end = v.indexOf(',', start);
    if (end < 0) end = v.length;
    COLUMN_SET[n] = end > start;
    let value = 0;
    if (end > start) {
      let i = start;
      const neg = v.charCodeAt(i) === C_MINUS;
      if (neg) i++;
      let plain = i < end && end - i <= 15;
      for (; plain && i < end; i++) {
        const c = v.charCodeAt(i);
        if (c < C_0 || c > C_9) plain = false;
        else value = value * 10 + (c - C_0);
      }
      if (!plain) value = Number(v.slice(start, end));
      else if (neg) value = -value;
    }
    COLUMN_VALUE[n++] = value;
    if (end === v.length || v.charCodeAt(end) !== C_COMMA) return n;
    start = end + 1;
  }
}
/** n0(v.split(',')[i]) after parseColumns(v) returned `count`. */
const col0 = (i: number, count: number): number => (i < count && COLUMN_SET[i] ? COLUMN_VALUE[i]! : 0);
/** nOpt(v.split(',')[i]) after parseColumns(v) returned `count`. */
const colOpt = (i: number, count: number): number | null => (i < count && COLUMN_SET[i] ? COLUMN_VALUE[i]! : null);

/**
 * o:<day> = "count,revenue,margin,<live times>,<cancelled times>": times in ms of the day, space-separated, a
 * cancelled one as `ms@cancelDay` (design-decisions §15 "Purchase times").
 */
function decodeOrderBucket(d: number, v: string): OrderBucket {
  const b = v.split(',');
  const live = (b[3] ?? '').split(' ').filter((x) => x !== '');
  let last: number | null = null;
  let first: number | null = null;
  for (const x of live) {
    const at = d * DAY_MS + Number(x);
    if (last === null || at > last) last = at;
    if (first === null || at < first) first = at;
  }
  const bucket: OrderBucket = { count: n0(b[0]), revenue: n0(b[1]), margin: n0(b[2]), lastPlacedAt: last };
  if (live.length > 1) bucket.firstPlacedAt = first;
  const cancelled = (b[4] ?? '').split(' ').filter((x) => x !== '');
  if (cancelled.length > 0) {
    bucket.cancelled = cancelled.map((x) => {
      const [ms, day] = x.split('@');
      return { placedAt: d * DAY_MS + Number(ms), fromDay: Number(day) };
    });
  }
  return bucket;
}

/** A packed order day (OrderDay) as the bucket its previous-layout field decodes to (decodeOrderBucket). */
function orderDayBucket(o: OrderDay): OrderBucket {
  const base = o.day * DAY_MS;
  let last: number | null = null;
  let first: number | null = null;
  for (const ms of o.live) {
    const at = base + ms;
    if (last === null || at > last) last = at;
    if (first === null || at < first) first = at;
  }
  const bucket: OrderBucket = { count: o.count, revenue: o.revenue, margin: o.margin, lastPlacedAt: last };
  if (o.live.length > 1) bucket.firstPlacedAt = first;
  if (o.cancelled.length > 0) bucket.cancelled = o.cancelled.map(([ms, d]) => ({ placedAt: base + ms, fromDay: d }));
  return bucket;
}

/**
 * A day held in both forms (packed `a`, then its day field `b`) as one bucket: what apply_events.lua writes when it
 * adds them up (live and cancelled times of `a` first).
 */
function mergeOrderBuckets(a: OrderBucket, b: OrderBucket): OrderBucket {
  const lives = (x: OrderBucket) => (x.lastPlacedAt === null ? 0 : x.firstPlacedAt != null ? 2 : 1);
  const times = [a, b].flatMap((x) => (x.lastPlacedAt === null ? [] : [x.firstPlacedAt ?? x.lastPlacedAt]));
  const lasts = [a.lastPlacedAt, b.lastPlacedAt].filter((x): x is number => x !== null);
  const out: OrderBucket = {
    count: a.count + b.count,
    revenue: a.revenue + b.revenue,
    margin: a.margin + b.margin,
    lastPlacedAt: lasts.length === 0 ? null : Math.max(...lasts),
  };
  if (lives(a) + lives(b) > 1) out.firstPlacedAt = Math.min(...times);
  const cancelled = [...(a.cancelled ?? []), ...(b.cancelled ?? [])];
  if (cancelled.length > 0) out.cancelled = cancelled;
  return out;
}

function mergeServiceBuckets(a: ServiceBucket, b: ServiceBucket): ServiceBucket {
  return {
    lastTicketAt: Math.max(a.lastTicketAt, b.lastTicketAt),
    tickets: a.tickets + b.tickets,
    complaints: a.complaints + b.complaints,
    escalations: a.escalations + b.escalations,
    csatSum: a.csatSum + b.csatSum,
    csatCount: a.csatCount + b.csatCount,
  };
}

/**
 * K:<ticket> (apply_events.lua ticket_encode): a flags digit (bit 0 opened, 1 resolved, 2 status), the times present
 * (7 digits each, biased by 2^48), the status code, then the status event's id.
 */
function decodeTicket(v: string): TicketState {
  const flags = v.charCodeAt(0);
  let i = 1;
  const time = () => {
    const t = digits128(v, i, 7) - TIME_BIAS;
    i += 7;
    return t;
  };
  const openedAt = flags & 1 ? time() : null;
  const resolvedAt = flags & 2 ? time() : null;
  let statusAt: number | null = null;
  let status: TicketStatus | null = null;
  if (flags & 4) {
    statusAt = time();
    status = STATUS_BY_CODE[v[i]!] ?? null;
    i++;
  }
  const eid = v.slice(i);
  return { openedAt, resolvedAt, status, statusAt, statusEventId: eid === '' ? null : eid };
}

/** A ticket in both forms (after an identity fold): earliest opened and resolved, the later status (ties: greater id). */
function mergeTickets(a: TicketState, b: TicketState): TicketState {
  const min = (x: number | null, y: number | null) => (x === null ? y : y === null ? x : Math.min(x, y));
  const bytes = (id: string | null) => Buffer.from(id ?? '', 'utf8');
  const bLater =
    b.statusAt !== null &&
    (a.statusAt === null ||
      b.statusAt > a.statusAt ||
      (b.statusAt === a.statusAt && Buffer.compare(bytes(b.statusEventId), bytes(a.statusEventId)) > 0));
  const s = bLater ? b : a;
  return {
    openedAt: min(a.openedAt, b.openedAt),
    resolvedAt: min(a.resolvedAt, b.resolvedAt),
    status: s.status,
    statusAt: s.statusAt,
    statusEventId: s.statusEventId,
  };
}

const TIME_BIAS = 2 ** 48;
const DAY_BIAS = 2 ** 20;
const ENTRY_LENGTH = FINGERPRINT_LENGTH + 7;

/** `n` base-128 digits of `v` from index `i` (apply_events.lua dec128). */
function digits128(v: string, i: number, n: number): number {
  let x = 0;
  for (let k = i; k < i + n; k++) x = x * 128 + v.charCodeAt(k);
  return x;
}

/**
 * The packed web days (field `w`, apply_events.lua encode_web_record): per day, latest first, 3 digits of the biased
 * day, 4 of the last seen ms of the day, 2 of the type mask, then one varint count per type in the mask (6 bits per
 * byte, low group first, +64 = more). Merged into `web` with any bucket of the same day from the previous layout.
 */
function decodeWebDays(v: string, web: Map<number, WebBucket>): void {
  let i = 0;
  while (i < v.length) {
    const d = digits128(v, i, 3) - DAY_BIAS;
    const ms = digits128(v, i + 3, 4);
    let mask = digits128(v, i + 7, 2);
    i += 9;
    const counts = new Array<number>(WEB_BEHAVIOR_TYPES.length).fill(0);
    for (let t = 0; mask > 0; t++, mask >>>= 1) {
      if ((mask & 1) === 0) continue;
      let c = 0;
      let mul = 1;
      for (;;) {
        const b = v.charCodeAt(i++);
        if (b >= 64) {
          c += (b - 64) * mul;
          mul *= 64;
        } else {
          c += b * mul;
          break;
        }
      }
      counts[t] = c;
    }
    mergeWebBucket(web, d, { counts, lastSeenAt: d * DAY_MS + ms });
  }
}

/**
 * The compact web days (field `W`, the packed layout's, apply_events.lua encode_web_compact): the records of `w`, latest
 * first, with the first record's day as 3 digits, every later one's as its gap to the previous record's day (a
 * varint), and the type mask as a varint. Merged into `web` like decodeWebDays.
 */
function decodeWebDaysCompact(v: string, web: Map<number, WebBucket>): void {
  let d = 0;
  VARINT.at = 0;
  while (VARINT.at < v.length) {
    if (VARINT.at === 0) {
      d = digits128(v, 0, 3) - DAY_BIAS;
      VARINT.at = 3;
    } else d -= varint(v);
    const ms = digits128(v, VARINT.at, 4);
    VARINT.at += 4;
    let mask = varint(v);
    const counts = new Array<number>(WEB_BEHAVIOR_TYPES.length).fill(0);
    for (let t = 0; mask > 0; t++, mask = Math.floor(mask / 2)) if (mask % 2 === 1) counts[t] = varint(v);
    mergeWebBucket(web, d, { counts, lastSeenAt: d * DAY_MS + ms });
  }
}

/** A varint of apply_events.lua (6 bits per byte, low group first, +64 = more) at VARINT.at; sets VARINT.at past it. */
const VARINT = { at: 0 };
function varint(v: string): number {
  let c = 0;
  let mul = 1;
  for (;;) {
    const b = v.charCodeAt(VARINT.at++);
    if (b < 64) return c + b * mul;
    c += (b - 64) * mul;
    mul *= 64;
  }
}
/** A zigzagged varint (2x, or -2x-1 when negative). */
function signedVarint(v: string): number {
  const x = varint(v);
  return x % 2 === 1 ? -(x + 1) / 2 : x / 2;
}

/** One packed order day (field `o`, apply_events.lua order_day_encode) at VARINT.at, in the previous layout's terms. */
interface OrderDay {
  day: number;
  count: number;
  revenue: number;
  margin: number;
  /** Live placed times, ms of the day. */
  live: number[];
  cancelled: Array<[ms: number, fromDay: number]>;
}
function decodeOrderDay(v: string): OrderDay {
  const i = VARINT.at;
  const day = digits128(v, i, 3) - DAY_BIAS;
  VARINT.at = i + 3;
  const count = signedVarint(v);
  const revenue = signedVarint(v);
  const margin = signedVarint(v);
  const h = varint(v);
  const live: number[] = [];
  for (let k = 0; k < Math.floor(h / 2); k++, VARINT.at += 4) live.push(digits128(v, VARINT.at, 4));
  const cancelled: OrderDay['cancelled'] = [];
  if (h % 2 === 1) {
    const n = varint(v);
    for (let k = 0; k < n; k++, VARINT.at += 7) {
      cancelled.push([digits128(v, VARINT.at, 4), digits128(v, VARINT.at + 4, 3) - DAY_BIAS]);
    }
  }
  return { day, count, revenue, margin, live, cancelled };
}

/** One packed service day (field `t`, apply_events.lua service_day_encode) at VARINT.at. */
function decodeServiceDay(v: string): { day: number; ms: number; columns: number[] } {
  const i = VARINT.at;
  const day = digits128(v, i, 3) - DAY_BIAS;
  const ms = digits128(v, i + 3, 4);
  let mask = v.charCodeAt(i + 7);
  VARINT.at = i + 8;
  const columns = [0, 0, 0, 0, 0];
  for (let k = 0; k < 5; k++, mask >>>= 1) if (mask & 1) columns[k] = varint(v);
  return { day, ms, columns };
}

/** An order day in the previous layout's form (o:<day> value). */
function orderDayValue(o: OrderDay): string {
  const cols = [
    String(o.count),
    String(o.revenue),
    String(o.margin),
    o.live.join(' '),
    o.cancelled.map(([ms, d]) => `${ms}@${d}`).join(' '),
  ];
  let n = 5;
  while (n > 1 && (cols[n - 1] === '0' || cols[n - 1] === '')) n--;
  return cols.slice(0, n).join(',');
}

/**
 * A hash (flat HGETALL reply) with its packed fields (design-decisions §23) in the previous layout: order and service
 * days (`o`, `t`) as one field per day (`o:<day>`, `t:<day>`; a day in both forms added up), ticket states
 * (`K:<ticket>`) as `k:<ticket>` and `q:<ticket>` (merged with those, if any): the form the identity merge fold
 * (identity_merge_fold-1.lua) adds into the survivor. Other fields unchanged.
 */
export function expandPackedFields(flat: readonly string[]): string[] {
  const out: string[] = [];
  const orders = new Map<number, OrderDay>();
  const service = new Map<number, { ms: number; columns: number[] }>();
  const tickets = new Map<string, TicketState>();
  const rest = new Map<string, string>();
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const f = flat[i]!;
    const v = flat[i + 1]!;
    if (f === 'o') {
      for (VARINT.at = 0; VARINT.at < v.length; ) {
        const o = decodeOrderDay(v);
        orders.set(o.day, o);
      }
    } else if (f === 't') {
      for (VARINT.at = 0; VARINT.at < v.length; ) {
        const t = decodeServiceDay(v);
        service.set(t.day, t);
      }
    } else if (f.startsWith('K:')) tickets.set(f.slice(2), decodeTicket(v));
    else rest.set(f, v);
  }
  for (const [tid, t] of tickets) {
    // Like the script merges a ticket held in both forms; a legacy q:<ticket> with it.
    const kf = `k:${tid}`;
    const qf = `q:${tid}`;
    const legacy = rest.get(kf);
    let m = t;
    if (legacy !== undefined) {
      const b = legacy.split(',');
      m = mergeTickets(t, {
        openedAt: nOpt(b[0]),
        resolvedAt: nOpt(b[1]),
        status: b[2] ? (STATUS_BY_CODE[b[2]] ?? null) : null,
        statusAt: nOpt(b[3]),
        statusEventId: rest.get(qf) ?? null,
      });
    }
    const code = m.status === null ? '' : CODE_BY_STATUS[m.status];
    rest.set(kf, [m.openedAt ?? '', m.resolvedAt ?? '', code, m.statusAt ?? ''].join(','));
    if (m.statusEventId !== null) rest.set(qf, m.statusEventId);
  }
  for (const [d, o] of orders) {
    const f = `o:${d}`;
    const legacy = rest.get(f);
    if (legacy !== undefined) {
      const b = legacy.split(',');
      o.count += n0(b[0]);
      o.revenue += n0(b[1]);
      o.margin += n0(b[2]);
      for (const x of (b[3] ?? '').split(' ')) if (x !== '') o.live.push(Number(x));
      for (const x of (b[4] ?? '').split(' ')) {
        if (x === '') continue;
        const [ms, day] = x.split('@');
        o.cancelled.push([Number(ms), Number(day)]);
      }
    }
    rest.set(f, orderDayValue(o));
  }
  for (const [d, t] of service) {
    const f = `t:${d}`;
    const legacy = rest.get(f);
    let ms = t.ms;
    const cols = t.columns;
    if (legacy !== undefined) {
      const b = legacy.split(',');
      ms = Math.max(ms, n0(b[0]));
      for (let k = 0; k < 5; k++) cols[k]! += n0(b[k + 1]);
    }
    const all = [String(ms), ...cols.map(String)];
    let n = 6;
    while (n > 1 && all[n - 1] === '0') n--;
    rest.set(f, all.slice(0, n).join(','));
  }
  for (const [f, v] of rest) out.push(f, v);
  return out;
}

function mergeWebBucket(web: Map<number, WebBucket>, d: number, bucket: WebBucket): void {
  const prev = web.get(d);
  if (prev === undefined) {
    web.set(d, bucket);
    return;
  }
  for (let t = 0; t < bucket.counts.length; t++) prev.counts[t] = (prev.counts[t] ?? 0) + (bucket.counts[t] ?? 0);
  if (bucket.lastSeenAt > prev.lastSeenAt) prev.lastSeenAt = bucket.lastSeenAt;
}

/** Field-by-field decoding of one hash (layout: README "Keyspace"). */
class StateDecoder {
  private readonly s: AggregateState;
  private readonly statusIds = new Map<string, string>();
  private readonly packedTickets = new Map<string, TicketState>();
  /** Days of `o` decoded so far (an o:<day> of one of them is added to it). */
  private readonly packedOrderDays = new Set<number>();

  constructor(
    customerId: string,
    private readonly idempotence: boolean,
  ) {
    this.s = emptyState(customerId);
  }

  field(f: string, v: string): void {
    const s = this.s;
    // Day buckets and per-event fields are `<letter>:…`; the base fields are two letters.
    if (f.charCodeAt(1) !== C_COLON) {
      if (f === 'mx') s.maxEventAt = Number(v);
      else if (f === 'fo') s.firstOrderAt = Number(v);
      else if (f === 'ob') {
        const b = v.split(',');
        s.orderBase = { count: n0(b[0]), revenue: n0(b[1]), margin: n0(b[2]), lastPlacedAt: nOpt(b[3]) };
      } else if (f === 'pd') {
        // `<day>:<revenue>` (a purchase day) or `<day>~<revenue>`, space-separated.
        for (const e of v.split(' ')) {
          const i = e.search(/[:~]/);
          if (i <= 0) continue;
          s.orderDayBase.set(Number(e.slice(0, i)), { revenue: Number(e.slice(i + 1)), purchase: e[i] === ':' });
        }
      } else if (f === 'wb') s.webBaseLastSeenAt = Number(v);
      else if (f === 'w') decodeWebDays(v, s.web);
      else if (f === 'W') decodeWebDaysCompact(v, s.web);
      else if (f === 'o') {
        // Packed order days; a day also held as o:<day> (read before or after) is added after the packed one.
        for (VARINT.at = 0; VARINT.at < v.length; ) {
          const o = decodeOrderDay(v);
          const bucket = orderDayBucket(o);
          const legacy = s.orders.get(o.day);
          s.orders.set(o.day, legacy === undefined ? bucket : mergeOrderBuckets(bucket, legacy));
          this.packedOrderDays.add(o.day);
        }
      } else if (f === 't') {
        for (VARINT.at = 0; VARINT.at < v.length; ) {
          const t = decodeServiceDay(v);
          const c = t.columns;
          const bucket: ServiceBucket = {
            lastTicketAt: t.day * DAY_MS + t.ms,
            tickets: c[0]!,
            complaints: c[1]!,
            escalations: c[2]!,
            csatSum: c[3]!,
            csatCount: c[4]!,
          };
          const legacy = s.service.get(t.day);
          s.service.set(t.day, legacy === undefined ? bucket : mergeServiceBuckets(bucket, legacy));
        }
      } else if (f === 'tb') {
        const b = v.split(',');
        s.ticketBase = { lastTicketAt: nOpt(b[0]), resolveSumMs: n0(b[1]), resolveCount: n0(b[2]) };
      }
      return;
    }
    switch (f.charCodeAt(0)) {
      case 111: {
        // o:<day>
        const d = Number(f.slice(2));
        if (v.indexOf(' ') < 0 && v.indexOf('@') < 0) {
          // At most one live time and no cancelled one (most buckets): the plain numeric columns.
          const n = parseColumns(v);
          const ms = colOpt(3, n);
          const bucket: OrderBucket = {
            count: col0(0, n),
            revenue: col0(1, n),
            margin: col0(2, n),
            lastPlacedAt: ms === null ? null : d * DAY_MS + ms,
          };
          this.setOrderDay(d, bucket);
          return;
        }
        this.setOrderDay(d, decodeOrderBucket(d, v));
        return;
      }
      case 119: {
        // w:<day>
        const d = Number(f.slice(2));
        const counts = new Array<number>(WEB_BEHAVIOR_TYPES.length).fill(0);
        let comma = v.indexOf(',');
        const ms = comma < 0 ? v : v.slice(0, comma);
        while (comma >= 0) {
          const next = v.indexOf(',', comma + 1);
          const pair = next < 0 ? v.slice(comma + 1) : v.slice(comma + 1, next);
          // As pair.split(':') → [i, c]: c ends at a second colon, if any; undefined without a colon.
          const colon = pair.indexOf(':');
          const colon2 = colon < 0 ? -1 : pair.indexOf(':', colon + 1);
          const i = colon < 0 ? pair : pair.slice(0, colon);
          const c = colon < 0 ? undefined : colon2 < 0 ? pair.slice(colon + 1) : pair.slice(colon + 1, colon2);
          counts[Number(i)] = Number(c);
          comma = next;
        }
        // The previous layout's bucket (w:<day>): merged with the packed days of `w` (an upgrade keeps both).
        mergeWebBucket(s.web, d, { counts, lastSeenAt: d * DAY_MS + n0(ms) });
        return;
      }
      case 116: {
        // t:<day>
        const d = Number(f.slice(2));
        const n = parseColumns(v);
        const bucket: ServiceBucket = {
          lastTicketAt: d * DAY_MS + col0(0, n),
          tickets: col0(1, n),
          complaints: col0(2, n),
          escalations: col0(3, n),
          csatSum: col0(4, n),
          csatCount: col0(5, n),
        };
        const packed = s.service.get(d);
        s.service.set(d, packed === undefined ? bucket : mergeServiceBuckets(packed, bucket));
        return;
      }
      case 97: {
        // a:<order day>:<effective day>
        const [orderDay, effectiveDay] = f.slice(2).split(':').map(Number) as [number, number];
        const b = v.split(',');
        s.adjustments.push({ orderDay, effectiveDay, count: n0(b[0]), revenue: n0(b[1]), margin: n0(b[2]) });
        return;
      }
      case 107: {
        // k:<ticket>
        const b = v.split(',');
        s.tickets.set(f.slice(2), {
          openedAt: nOpt(b[0]),
          resolvedAt: nOpt(b[1]),
          status: b[2] ? (STATUS_BY_CODE[b[2]] ?? null) : null,
          statusAt: nOpt(b[3]),
          statusEventId: null,
        });
        return;
      }
      case 75: // K:<ticket> (packed)
        this.packedTickets.set(f.slice(2), decodeTicket(v));
        return;
      case 113: // q:<ticket>
        this.statusIds.set(f.slice(2), v);
        return;
      case 104: // h:<topic>:<partition>
        if (this.idempotence) s.offsets.set(f.slice(2), v);
        return;
      case 101: // e:<topic code> (packed) or, from the previous layout, e:<topic code>:<event id>
        if (!this.idempotence) return;
        if (f.indexOf(':', 2) < 0) {
          // 7 digits of the topic's latest time (left out when it is the latest entry's: a length of 16k), then
          // entries of a 9-digit fingerprint and a 7-digit time.
          const code = f.slice(2);
          for (let i = v.length % ENTRY_LENGTH === 7 ? 7 : 0; i + ENTRY_LENGTH <= v.length; i += ENTRY_LENGTH) {
            const fp = Buffer.from(v.slice(i, i + FINGERPRINT_LENGTH), 'latin1').toString('hex');
            s.seenEvents.set(`${code}:#${fp}`, digits128(v, i + FINGERPRINT_LENGTH, 7) - TIME_BIAS);
          }
        } else s.seenEvents.set(f.slice(2), Number(v));
        return;
    }
  }

  /** An o:<day> bucket: added after the packed record of its day, if one was decoded. */
  private setOrderDay(d: number, bucket: OrderBucket): void {
    const packed = this.packedOrderDays.has(d) ? this.s.orders.get(d) : undefined;
    this.s.orders.set(d, packed === undefined ? bucket : mergeOrderBuckets(packed, bucket));
  }

  finish(): AggregateState {
    for (const [tid, eid] of this.statusIds) {
      const t = this.s.tickets.get(tid);
      if (t) t.statusEventId = eid;
    }
    for (const [tid, t] of this.packedTickets) {
      const legacy = this.s.tickets.get(tid);
      this.s.tickets.set(tid, legacy === undefined ? t : mergeTickets(t, legacy));
    }
    return this.s;
  }
}

/**
 * An order state value (`n:<order_id>`, design-decisions §15) in the previous layout's form,
 * `day,placed,amount,margin,cancelDay` then `refundDay,refundAmount,refundMargin` triples (placed: 0, 1 = time unknown,
 * else the PLACED's ms of its day + 2). The packed layout's compact value (apply_events.lua order_state_encode: a flags
 * byte below 32, then base-128 digits and varints; §23) is decoded to the value the previous layout writes for the same
 * state; a value already in that form is returned as it is.
 */
export function orderStateLegacy(v: string): string {
  if (v.length === 0 || v.charCodeAt(0) >= 32) return v;
  const flags = v.charCodeAt(0);
  const day = digits128(v, 1, 3) - DAY_BIAS;
  VARINT.at = 4;
  let placed = flags & 1;
  if (flags & 2) {
    placed = digits128(v, VARINT.at, 4) + 2;
    VARINT.at += 4;
  }
  const amount = signedVarint(v);
  const margin = signedVarint(v);
  let cancel = '';
  if (flags & 4) {
    cancel = String(digits128(v, VARINT.at, 3) - DAY_BIAS);
    VARINT.at += 3;
  }
  // As the previous layout writes it: trailing zero or empty columns dropped (the first kept), emptied again up to the
  // fifth when refund triples follow. The cancel day is a string there: a cancellation on day 0 keeps its `0`.
  const cols = [String(day), String(placed), String(amount), String(margin), cancel];
  let n = 5;
  while (n > 1 && ((cols[n - 1] === '0' && n < 5) || cols[n - 1] === '')) cols[--n] = '';
  if ((flags & 8) === 0) return cols.slice(0, n).join(',');
  for (let k = varint(v); k > 0; k--) {
    const d = digits128(v, VARINT.at, 3) - DAY_BIAS;
    VARINT.at += 3;
    cols.push(String(d), String(signedVarint(v)), String(signedVarint(v)));
  }
  return cols.join(',');
}
