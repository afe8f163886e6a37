import { describe, expect, it } from 'vitest';
import {
  ORDER_EVENT_TYPES,
  TICKET_CATEGORIES,
  TICKET_EVENT_TYPES,
  TICKET_PRIORITIES,
  TOPICS,
  WEB_BEHAVIOR_TYPES,
} from '../src/types';
import { validateInput } from '../src/validation';
import { validateInput as validateInputV1 } from './fixtures/validation.3c7d479';

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

const NOW = Date.UTC(2026, 5, 30);
const opts = { now: NOW };

/** Values a field may take instead of its own: other types, out-of-range numbers, absent, unknown enum members. */
const ODD: unknown[] = [
  undefined,
  null,
  '',
  ' ',
  'x',
  'PAGE_VIEW',
  'PLACED',
  0,
  -1,
  1.5,
  -0,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  2 ** 60,
  true,
  {},
  [],
  { industry: 'x' },
  'a'.repeat(300),
];

function order(r: ReturnType<typeof rng>): Record<string, unknown> {
  const type = r.pick(ORDER_EVENT_TYPES);
  return {
    event_id: `E${r.int(100)}`,
    customer_id: `C${r.int(100)}`,
    order_id: `O${r.int(100)}`,
    type,
    amount_minor: r.int(100_000),
    currency: r.pick(['USD', 'EUR', 'XXX']),
    margin_minor: r.next() < 0.5 ? null : r.int(1000) - 500,
    channel: r.next() < 0.5 ? null : 'web',
    items: r.next() < 0.5 ? null : r.int(5),
    occurred_at: NOW - r.int(1e9),
    original_placed_at: type === 'PLACED' ? null : NOW - 2e9,
    refund_id: r.next() < 0.7 ? null : `R${r.int(3)}`,
    attributes:
      r.next() < 0.5
        ? null
        : {
            industry: r.next() < 0.5 ? null : 'retail',
            company_size: r.next() < 0.5 ? null : r.int(500),
            region: 'EU',
          },
  };
}

function web(r: ReturnType<typeof rng>): Record<string, unknown> {
  const anonymous = r.next() < 0.3;
  return {
    event_id: `E${r.int(100)}`,
    customer_id: anonymous ? null : `C${r.int(100)}`,
    anonymous_id: anonymous || r.next() < 0.1 ? `A${r.int(100)}` : null,
    type: r.pick(WEB_BEHAVIOR_TYPES),
    url: r.next() < 0.5 ? null : '/p',
    content_id: r.next() < 0.5 ? null : 'c1',
    occurred_at: NOW - r.int(1e9),
  };
}

function ticket(r: ReturnType<typeof rng>): Record<string, unknown> {
  const type = r.pick(TICKET_EVENT_TYPES);
  return {
    event_id: `E${r.int(100)}`,
    customer_id: `C${r.int(100)}`,
    ticket_id: `T${r.int(100)}`,
    type,
    category: r.pick(TICKET_CATEGORIES),
    priority: r.pick(TICKET_PRIORITIES),
    csat: type === 'SATISFACTION_RATED' || r.next() < 0.2 ? 1 + r.int(5) : null,
    occurred_at: NOW - r.int(1e9),
  };
}

/** A valid-looking value with 0–2 fields replaced by odd values, deleted, or an extra field added. */
function mutate(r: ReturnType<typeof rng>, v: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...v };
  const keys = Object.keys(out);
  for (let k = r.int(3); k > 0; k--) {
    const f = r.pick(keys);
    const roll = r.next();
    if (roll < 0.2) delete out[f];
    else if (roll < 0.3 && f === 'attributes')
      out[f] = { industry: r.pick(ODD), company_size: r.pick(ODD), region: null };
    else out[f] = r.pick(ODD);
  }
  if (r.next() < 0.1) out.extra = 1;
  return out;
}

describe('validateInput: the structural check without zod decides and outputs as zod did (build 3c7d479)', () => {
  it('gives the same result (verdict, reason, message, the event with its field order) on random and odd values', () => {
    const r = rng(20261130);
    const topics = [
      [TOPICS.orders, order],
      [TOPICS.web, web],
      [TOPICS.tickets, ticket],
    ] as const;
    let ok = 0;
    let refused = 0;
    for (let k = 0; k < 20_000; k++) {
      const [topic, make] = r.pick(topics);
      const base = make(r);
      const value = r.next() < 0.4 ? base : mutate(r, base);
      const expected = validateInputV1(topic, value, opts);
      const actual = validateInput(topic, value, opts);
      expect(actual, `case ${k} ${JSON.stringify(value)}`).toStrictEqual(expected);
      // The same fields in the same order (a consumer that serialises the event sees the same text).
      expect(JSON.stringify(actual)).toBe(JSON.stringify(expected));
      if (expected.ok) ok++;
      else refused++;
    }
    expect(ok).toBeGreaterThan(5000);
    expect(refused).toBeGreaterThan(5000);
  });
});
