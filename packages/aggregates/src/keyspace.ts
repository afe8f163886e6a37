/**
 * The Redis keyspace and its encoding (pure): key names and the ARGV encoding of events for apply_events.lua; the
 * decoding of a customer's hash is state-decode.ts. Field layout documented in README.md ("Keyspace").
 */
import { customerHashTag } from '@tierstream/config';
import { type InputEvent, type OrderEvent, WEB_BEHAVIOR_TYPES } from '@tierstream/contracts';
import { type AggregateConfig, toReportingMinor } from './config';
import { DAY_MS } from './metrics';

export const DEFAULT_PREFIX = 'ts';
export const DEFAULT_DEDUPE_HORIZON_MS = 48 * 3_600_000;

/** All keys of one customer. Hash-tagged on the (brace-escaped) customer id so that they share one Cluster slot. */
export function customerKeys(prefix: string, customerId: string): { agg: string } {
  return { agg: `${prefix}:${customerHashTag(customerId)}:agg` };
}

/**
 * Number of ARGV entries per event in apply_events.lua: the event's fields packed into one string (see
 * encodeEventInto) and its event_id. Fewer, longer arguments: each argument costs the client and the server more
 * than its bytes do (9 arguments per event was a measurable share of both).
 */
export const ARGS_PER_EVENT = 2;

const WEB_TYPE_INDEX: Record<string, number> = Object.fromEntries(WEB_BEHAVIOR_TYPES.map((t, i) => [t, i]));
const TICKET_CODE: Record<string, string> = {
  OPENED: 'O',
  ESCALATED: 'E',
  REOPENED: 'P',
  RESOLVED: 'R',
  CLOSED: 'C',
  SATISFACTION_RATED: 'S',
};

/**
 * The 9 fields of one event record as apply_events.lua reads them (money converted to the reporting currency here,
 * on the write side): topic, partition, offset (leading zeros dropped), event_id, occurred_at, op, x1, x2, x3.
 */
export function encodeEvent(
  input: InputEvent,
  topic: string,
  partition: number,
  offset: string,
  config: AggregateConfig,
): string[] {
  const normOffset = checkedOffset(offset);
  const tail = encodeTail(input, config);
  return [topic, String(partition), normOffset, input.event.event_id, String(input.event.occurred_at), ...tail];
}

/**
 * Appends the event's ARGS_PER_EVENT arguments to `out` (a customer's ARGV list): the fields of encodeEvent packed as
 * `topic,partition,offset,occurred_at,op,x2,x3,x1`, then event_id; an order's x1 (the amount) is followed by
 * `,` and its orderIdentity. Only x1 (a ticket id) and event_id are free text:
 * x1 goes last so that it may contain commas (the script splits the first 7 commas only), event_id has its own
 * argument. Topic names cannot contain commas (Kafka: [a-zA-Z0-9._-]); the other fields are numbers or codes.
 */
export function encodeEventInto(
  out: string[],
  input: InputEvent,
  topic: string,
  partition: number | string,
  offset: string,
  config: AggregateConfig,
): void {
  const normOffset = checkedOffset(offset);
  if (input.kind === 'web') {
    // encodeTail's web fields (op W, x1 the type's index, x2 and x3 empty) without its array.
    const idx = WEB_TYPE_INDEX[input.event.type];
    if (idx === undefined) throw new Error(`unknown web behaviour type ${input.event.type}`);
    out.push(
      `${topic},${partition},${normOffset},${input.event.occurred_at},W,,,${idx}`,
      eventFingerprint(input.event.event_id),
    );
    return;
  }
  const [op, x1, x2, x3] = encodeTail(input, config);
  const tail = input.kind === 'order' ? `${x1},${orderIdentity(input.event)}` : x1;
  const eventId = input.event.event_id;
  // Web events need only the fingerprint (dedupe, above); orders and tickets also read the id (refund identity,
  // tie-break).
  out.push(
    `${topic},${partition},${normOffset},${input.event.occurred_at},${op},${x2},${x3},${tail}`,
    eventFingerprint(eventId) + eventId,
  );
}

/** The records of one customer as store.ts passes them (AppliedRecord, without the import cycle). */
interface CustomerRecord {
  event: InputEvent;
  topic: string;
  partition: number | string;
  offset: string;
}

/**
 * Appends one customer's arguments of apply_events.lua to `out`: its number of records, then the records. When
 * `merge` is set and the records are web events of one topic-partition in increasing offset order (a partition
 * batch's records of one customer), they go as ONE merged record (op M): the per-day counts and latest times, and the
 * events' dedupe entries (a duplicate within the call counted once, as the script would); the script applies it only if
 * every event passes its redelivery and duplicate checks, else answers CONFLICT (applied = -1) and the caller sends
 * the records again with `merge` off. Otherwise one record per event (encodeEventInto). Returns whether it merged.
 */
export function encodeCustomerInto(
  out: string[],
  records: readonly CustomerRecord[],
  config: AggregateConfig,
  merge: boolean,
): boolean {
  if (merge && records.length > 1 && mergeable(records)) {
    out.push('1');
    encodeMergedWebInto(out, records);
    return true;
  }
  out.push(String(records.length));
  for (const r of records) encodeEventInto(out, r.event, r.topic, r.partition, r.offset, config);
  return false;
}

/** Offsets are decimal strings (up to 2^63): a > b by length, then by characters. */
const offsetGreater = (a: string, b: string) => (a.length !== b.length ? a.length > b.length : a > b);

function mergeable(records: readonly CustomerRecord[]): boolean {
  const { topic, partition } = records[0]!;
  let prev: string | null = null;
  for (const r of records) {
    if (r.event.kind !== 'web' || r.topic !== topic || r.partition !== partition) return false;
    const offset = checkedOffset(r.offset);
    if (prev !== null && !offsetGreater(offset, prev)) return false;
    prev = offset;
  }
  return true;
}

const TIME_DIGITS_BIAS = 2 ** 48;
const DAY_DIGITS_BIAS = 2 ** 20;
const P2 = 128 ** 2;
const P3 = 128 ** 3;

// `n` base-128 digits of a non-negative integer below 128^n, most significant first (apply_events.lua enc128), for
// the widths the merged record uses; one string each, no array (the merged record is built per customer and batch).
const digits2 = (x: number) => String.fromCharCode(Math.floor(x / 128) % 128, x % 128);
const digits3 = (x: number) => String.fromCharCode(Math.floor(x / P2) % 128, Math.floor(x / 128) % 128, x % 128);
const digits4 = (x: number) =>
  String.fromCharCode(Math.floor(x / P3) % 128, Math.floor(x / P2) % 128, Math.floor(x / 128) % 128, x % 128);

/** Bytes of a merged record's dedupe entry: the fingerprint (FINGERPRINT_LENGTH) and the time's 7 digits. */
const ENTRY_BYTES = 16;
/** Up to this many events, a merged record's duplicates are found by comparing hashes (no set, no strings). */
const LINEAR_DEDUPE = 32;
/** encodeMergedWebInto's buffers (synchronous, so one for all): the entries' bytes and the events' two hashes. */
const scratch = { entries: Buffer.allocUnsafe(0), fpA: new Uint32Array(0), fpB: new Uint32Array(0) };
function growScratch(n: number): void {
  const size = 2 ** Math.ceil(Math.log2(Math.max(n, 256)));
  scratch.entries = Buffer.allocUnsafe(ENTRY_BYTES * size);
  scratch.fpA = new Uint32Array(size);
  scratch.fpB = new Uint32Array(size);
}

/** One day of a merged record: its latest ms of the day and its count per web behaviour type. */
interface MergedDay {
  d: number;
  ms: number;
  counts: number[];
}

/**
 * Appends the two arguments of a merged record (op M): `topic,partition,first offset,latest,M,last offset,earliest,`
 * then per day (first-seen order) its day, latest ms of the day, type mask and counts; then the events' dedupe
 * entries (fingerprint and time, a duplicate within the call once).
 */
function encodeMergedWebInto(out: string[], records: readonly CustomerRecord[]): void {
  const n = records.length;
  if (scratch.entries.length < ENTRY_BYTES * n) growScratch(n);
  const { entries, fpA, fpB } = scratch;
  let seen: Set<string> | undefined;
  let count = 0;
  const days: MergedDay[] = [];
  let day: MergedDay | undefined;
  let earliest = Number.POSITIVE_INFINITY;
  let latest = Number.NEGATIVE_INFINITY;
  for (const r of records) {
    const e = r.event.event as { event_id: string; occurred_at: number; type: string };
    // The fingerprint's two hashes (eventFingerprint): equal fingerprints are equal `a` and equal low 31 bits of `b`.
    const a = murmur3(e.event_id, FP_SEED_A);
    const b = murmur3(e.event_id, FP_SEED_B) & 0x7fffffff;
    if (count < LINEAR_DEDUPE) {
      let dup = false;
      for (let i = 0; i < count && !dup; i++) dup = fpA[i] === a && fpB[i] === b;
      if (dup) continue;
    } else {
      if (seen === undefined) {
        seen = new Set();
        for (let i = 0; i < count; i++) seen.add(`${fpA[i]}:${fpB[i]}`);
      }
      const key = `${a}:${b}`;
      if (seen.has(key)) continue;
      seen.add(key);
    }
    fpA[count] = a;
    fpB[count] = b;
    // The entry: the fingerprint's 9 characters, then the time's 7 base-128 digits (codes below 128: one byte each).
    let at = count * ENTRY_BYTES;
    entries[at++] = a & 127;
    entries[at++] = (a >>> 7) & 127;
    entries[at++] = (a >>> 14) & 127;
    entries[at++] = (a >>> 21) & 127;
    entries[at++] = (a >>> 28) | ((b & 7) << 4);
    entries[at++] = (b >>> 3) & 127;
    entries[at++] = (b >>> 10) & 127;
    entries[at++] = (b >>> 17) & 127;
    entries[at++] = (b >>> 24) & 127;
    let time = e.occurred_at + TIME_DIGITS_BIAS;
    for (let k = at + 6; k >= at; k--) {
      entries[k] = time % 128;
      time = Math.floor(time / 128);
    }
    count++;
    const t = e.occurred_at;
    if (t < earliest) earliest = t;
    if (t > latest) latest = t;
    const d = Math.floor(t / DAY_MS);
    if (day === undefined || day.d !== d) {
      day = undefined;
      for (const x of days)
        if (x.d === d) {
          day = x;
          break;
        }
      if (day === undefined) {
        day = { d, ms: 0, counts: new Array<number>(WEB_BEHAVIOR_TYPES.length).fill(0) };
        days.push(day);
      }
    }
    const ms = t - d * DAY_MS;
    if (ms > day.ms) day.ms = ms;
    const type = WEB_TYPE_INDEX[e.type];
    if (type === undefined) throw new Error(`unknown web behaviour type ${e.type}`);
    day.counts[type]!++;
  }
  let dayRecords = '';
  for (const { d, ms, counts } of days) {
    let mask = 0;
    let packed = '';
    for (let t = 0; t < counts.length; t++) {
      let rest = counts[t]!;
      if (rest === 0) continue;
      mask += 2 ** t;
      // 6 bits a character, least significant first; 64 added while more follow.
      for (;;) {
        const group = rest % 64;
        rest = Math.floor(rest / 64);
        packed += String.fromCharCode(rest > 0 ? group + 64 : group);
        if (rest === 0) break;
      }
    }
    dayRecords += digits3(d + DAY_DIGITS_BIAS) + digits4(ms) + digits2(mask) + packed;
  }
  const first = records[0]!;
  const last = records[records.length - 1]!;
  out.push(
    `${first.topic},${first.partition},${checkedOffset(first.offset)},${latest},M,${checkedOffset(last.offset)},${earliest},${dayRecords}`,
    entries.toString('latin1', 0, count * ENTRY_BYTES),
  );
}

/** Length of eventFingerprint's result (apply_events.lua FP_LEN). */
export const FINGERPRINT_LENGTH = 9;

const FP_SEED_A = 0x9747b28c;
const FP_SEED_B = 0x5bd1e995;

function murmur3(key: string, seed: number): number {
  let h = seed >>> 0;
  const n = key.length;
  for (let i = 0; i < n; i++) {
    let k = key.charCodeAt(i);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  h ^= n;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * The fixed-width fingerprint of an event_id that the dedupe memory stores instead of the id (design-decisions §23):
 * 63 bits of two seeded MurmurHash3 (x86, 32-bit, one block per UTF-16 code unit) as 9 characters of 7 bits each
 * (codes 0..127: one byte each in UTF-8). Two different ids share a fingerprint with probability ≈ 2^-63 per pair,
 * so an event is wrongly taken for a duplicate with probability ≤ k·2^-63 for k ids remembered in its topic's horizon
 * (k = 10,000: ≈ 1e-15). Not a defence against ids crafted to collide (producers are trusted to pick their ids).
 */
export function eventFingerprint(eventId: string): string {
  const a = murmur3(eventId, FP_SEED_A);
  const b = murmur3(eventId, FP_SEED_B);
  return String.fromCharCode(
    a & 127,
    (a >>> 7) & 127,
    (a >>> 14) & 127,
    (a >>> 21) & 127,
    (a >>> 28) | ((b & 7) << 4),
    (b >>> 3) & 127,
    (b >>> 10) & 127,
    (b >>> 17) & 127,
    (b >>> 24) & 127,
  );
}

/**
 * An order event's identity as apply_events.lua reads it after the amount: `<byte length of order_id>:<order_id>`
 * followed by the refund_id of a REFUNDED that has one (both free text: the length says where the order id ends).
 */
export function orderIdentity(e: OrderEvent): string {
  const refundId = e.type === 'REFUNDED' && e.refund_id ? e.refund_id : '';
  return `${Buffer.byteLength(e.order_id, 'utf8')}:${e.order_id}${refundId}`;
}

/** The offset without leading zeros; throws unless it is a non-negative decimal string. */
function checkedOffset(offset: string): string {
  const n = offset.length;
  let digits = n > 0;
  for (let i = 0; i < n && digits; i++) {
    const c = offset.charCodeAt(i);
    digits = c >= 48 && c <= 57;
  }
  if (!digits) throw new Error(`offset must be a non-negative decimal string, got ${offset}`);
  return offset.charCodeAt(0) === 48 ? offset.replace(/^0+(?=\d)/, '') : offset;
}

function encodeTail(input: InputEvent, config: AggregateConfig): [string, string, string, string] {
  switch (input.kind) {
    case 'order': {
      const e = input.event;
      const amount = toReportingMinor(e.amount_minor, e.currency, config);
      const margin = e.margin_minor === null ? '' : String(toReportingMinor(e.margin_minor, e.currency, config));
      const op = e.type === 'PLACED' ? 'P' : e.type === 'REFUNDED' ? 'R' : 'C';
      // Refunds and cancellations land on the day of the original order (fallback: their own time if unknown).
      const bucketAt = e.type === 'PLACED' ? e.occurred_at : (e.original_placed_at ?? e.occurred_at);
      return [op, String(amount), margin, String(bucketAt)];
    }
    case 'web': {
      const idx = WEB_TYPE_INDEX[input.event.type];
      if (idx === undefined) throw new Error(`unknown web behaviour type ${input.event.type}`);
      return ['W', String(idx), '', ''];
    }
    case 'ticket': {
      const e = input.event;
      const code = TICKET_CODE[e.type];
      if (code === undefined) throw new Error(`unknown ticket event type ${e.type}`);
      const x3 =
        e.type === 'OPENED' && e.category === 'COMPLAINT'
          ? '1'
          : e.type === 'SATISFACTION_RATED' && e.csat !== null
            ? String(e.csat)
            : '';
      return ['T', e.ticket_id, code, x3];
    }
  }
}
