import {
  type InputEvent,
  ORDER_EVENT_TYPES,
  TICKET_CATEGORIES,
  TICKET_EVENT_TYPES,
  WEB_BEHAVIOR_TYPES,
} from '@tierstream/contracts';
import { describe, expect, it } from 'vitest';
import { DEFAULT_AGGREGATE_CONFIG } from '../src/config';
import { encodeCustomerInto } from '../src/keyspace';
import { encodeCustomerIntoV1 } from './fixtures/encode-args.3c7d479';

/** A small deterministic PRNG (mulberry32). */
function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n: number) => Math.floor(next() * n),
    pick: <T>(xs: readonly T[]) => xs[Math.floor(next() * xs.length)]!,
  };
}

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 5, 1);

interface Rec {
  event: InputEvent;
  topic: string;
  partition: number | string;
  offset: string;
}

/**
 * One customer's records of a batch: mostly web events of one topic-partition in offset order (the merged form), with
 * duplicate ids, several days, counts above 64 of one type (multi-character counts), long and zero-padded offsets;
 * sometimes orders and tickets, another partition or a tagged one (identity), offsets out of order, or a bad offset.
 */
function history(r: ReturnType<typeof rng>): Rec[] {
  const n = 1 + r.int(r.next() < 0.1 ? 200 : 12);
  const mixed = r.next() < 0.25;
  const partition: number | string = r.next() < 0.1 ? `${r.int(3)}/anon:a${r.int(5)}` : r.int(3);
  let offset = r.next() < 0.1 ? 9_007_199_254_740_000 : r.int(1_000_000);
  const days = 1 + r.int(r.next() < 0.2 ? 40 : 3);
  const oneType = r.next() < 0.2;
  const ids: string[] = [];
  const out: Rec[] = [];
  for (let i = 0; i < n; i++) {
    offset += 1 + (r.next() < 0.2 ? r.int(1000) : 0);
    let off = offset > Number.MAX_SAFE_INTEGER - 10 ? `92233720368547758${String(i).padStart(2, '0')}` : String(offset);
    if (r.next() < 0.05) off = `00${off}`;
    if (r.next() < 0.03) off = String(r.int(10));
    if (r.next() < 0.003) off = `${off}x`;
    const at = T0 + r.int(days) * DAY + r.int(DAY);
    const eventId = ids.length > 0 && r.next() < 0.15 ? r.pick(ids) : `E-${r.int(1e9)}-é${i}`;
    ids.push(eventId);
    const kind = mixed ? r.pick(['web', 'order', 'ticket'] as const) : 'web';
    const topic = kind === 'web' ? 'web-behavior.v1' : kind === 'order' ? 'orders.v1' : 'tickets.v1';
    let event: InputEvent;
    if (kind === 'web')
      event = {
        kind,
        event: {
          event_id: eventId,
          customer_id: 'c',
          anonymous_id: null,
          type: oneType ? 'PAGE_VIEW' : r.pick(WEB_BEHAVIOR_TYPES),
          url: null,
          content_id: null,
          occurred_at: at,
        },
      };
    else if (kind === 'order') {
      const type = r.pick(ORDER_EVENT_TYPES);
      event = {
        kind,
        event: {
          event_id: eventId,
          customer_id: 'c',
          order_id: `O,${r.int(5)}`,
          type,
          amount_minor: r.int(100_000),
          currency: r.pick(['USD', 'EUR', 'JPY']),
          margin_minor: r.next() < 0.5 ? null : r.int(1000) - 500,
          channel: null,
          items: null,
          occurred_at: at,
          original_placed_at: type === 'PLACED' ? null : at - r.int(5 * DAY),
          refund_id: type === 'REFUNDED' && r.next() < 0.5 ? `R${r.int(3)}` : null,
          attributes: null,
        },
      };
    } else {
      const type = r.pick(TICKET_EVENT_TYPES);
      event = {
        kind,
        event: {
          event_id: eventId,
          customer_id: 'c',
          ticket_id: `T,${r.int(3)}`,
          type,
          category: r.pick(TICKET_CATEGORIES),
          priority: 'LOW',
          csat: type === 'SATISFACTION_RATED' ? 1 + r.int(5) : null,
          occurred_at: at,
        },
      };
    }
    const p = mixed && r.next() < 0.1 ? 7 : partition;
    out.push({ event, topic, partition: p, offset: off });
  }
  if (r.next() < 0.05) out.reverse();
  return out;
}

/** The arguments (or the error thrown) of one encoding. */
function run(
  encode: typeof encodeCustomerInto,
  records: Rec[],
  merge: boolean,
): { args?: string[]; merged?: boolean; error?: string } {
  const args = ['head'];
  try {
    const merged = encode(args, records, DEFAULT_AGGREGATE_CONFIG, merge);
    return { args, merged };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

describe('encodeCustomerInto: the arguments of apply_events.lua are those of the previous build (3c7d479)', () => {
  it('gives the same arguments, merged or per event, on random histories with duplicates, many days and bad offsets', () => {
    const r = rng(20261130);
    let merged = 0;
    let errors = 0;
    for (let k = 0; k < 3000; k++) {
      const records = history(r);
      const merge = r.next() < 0.8;
      const expected = run(encodeCustomerIntoV1, records, merge);
      expect(run(encodeCustomerInto, records, merge), `case ${k}`).toEqual(expected);
      if (expected.merged) merged++;
      if (expected.error) errors++;
    }
    // The cases cover both forms and the refusals.
    expect(merged).toBeGreaterThan(1000);
    expect(errors).toBeGreaterThan(10);
  });
});
