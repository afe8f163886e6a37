/**
 * The tier engine's read side: decodeStateReply (raw HGETALL replies) must decode exactly like decodeState, and
 * AggregateTimeline (prefix sums, metrics memoised per day) must answer exactly like metricsAt / rollOffDays /
 * eventDaysAfter, on random hashes shaped like those apply_events.lua writes (README "Keyspace").
 */
import { WEB_BEHAVIOR_TYPES } from '@tierstream/contracts';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_AGGREGATE_CONFIG, parseAggregateConfig } from '../src/config';
import { type AggregateState, eventDaysAfter, metricsAt, rollOffDays } from '../src/metrics';
import { decodeState, decodeStateReply } from '../src/state-decode';
import { AggregateTimeline } from '../src/timeline';

const DAY = 86_400_000;
const BASE = 20_000;

const ms = fc.integer({ min: 0, max: DAY - 1 });
const bucketDay = fc.integer({ min: BASE - 420, max: BASE + 30 });
const at = fc.integer({ min: BASE - 450, max: BASE + 30 }).chain((d) => ms.map((m) => d * DAY + m));
const optAt = fc.option(at, { nil: null });
const small = fc.integer({ min: -3, max: 6 });
const money = fc.integer({ min: -50_000, max: 900_000 });
/** Trailing zero columns are omitted by the script; sometimes dropped here too. */
const columns = (values: Array<number | string>, drop: number) => values.slice(0, values.length - drop).join(',');

const hashArb: fc.Arbitrary<Record<string, string>> = fc
  .record({
    mx: at,
    fo: optAt,
    ob: fc.option(fc.tuple(small, money, money, optAt), { nil: null }),
    /** Folded order days (`pd`, CLV inputs): purchase days and days with money only. */
    pd: fc.array(fc.tuple(fc.integer({ min: BASE - 900, max: BASE - 421 }), fc.boolean(), money), { maxLength: 5 }),
    wb: optAt,
    tb: fc.option(fc.tuple(optAt, fc.integer({ min: 0, max: 10 ** 9 }), fc.integer({ min: 0, max: 9 })), { nil: null }),
    orders: fc.array(fc.tuple(bucketDay, small, money, money, fc.option(ms, { nil: null }), fc.nat(3)), {
      maxLength: 40,
    }),
    adjustments: fc.array(fc.tuple(bucketDay, fc.integer({ min: 0, max: 120 }), small, money, money), {
      maxLength: 6,
    }),
    /** Purchase-time lists (design-decisions §15): more live times of a bucket, and orders cancelled later. */
    times: fc.array(
      fc.tuple(
        bucketDay,
        small,
        fc.array(ms, { minLength: 1, maxLength: 3 }),
        fc.array(fc.tuple(ms, fc.integer({ min: 1, max: 60 })), { maxLength: 2 }),
      ),
      { maxLength: 6 },
    ),
    web: fc.array(
      fc.tuple(
        bucketDay,
        ms,
        fc.array(fc.tuple(fc.integer({ min: 0, max: WEB_BEHAVIOR_TYPES.length - 1 }), fc.integer({ min: 1, max: 9 })), {
          maxLength: 4,
        }),
      ),
      { maxLength: 60 },
    ),
    service: fc.array(fc.tuple(bucketDay, ms, fc.nat(3), fc.nat(2), fc.nat(2), fc.nat(15), fc.nat(3), fc.nat(5)), {
      maxLength: 20,
    }),
    tickets: fc.array(
      fc.tuple(
        optAt,
        optAt,
        fc.constantFrom('', 'O', 'P', 'R', 'C'),
        optAt,
        fc.option(fc.string({ unit: fc.constantFrom(...'abcdef0123') }), { nil: null }),
      ),
      { maxLength: 5 },
    ),
    dedupe: fc.array(fc.tuple(fc.string({ unit: fc.constantFrom(...'abcdef0123'), minLength: 1 }), at), {
      maxLength: 8,
    }),
    offsets: fc.array(fc.tuple(fc.constantFrom('orders.v1:0', 'web.v1:2', 'tickets.v1:1'), fc.nat()), { maxLength: 3 }),
  })
  .map((r) => {
    const h: Record<string, string> = { mx: String(r.mx) };
    const s = (v: number | null) => (v === null ? '' : String(v));
    if (r.fo !== null) h.fo = String(r.fo);
    if (r.ob) h.ob = `${r.ob[0]},${r.ob[1]},${r.ob[2]},${s(r.ob[3])}`;
    if (r.pd.length > 0) h.pd = r.pd.map(([d, purchase, rev]) => `${d}${purchase ? ':' : '~'}${rev}`).join(' ');
    if (r.wb !== null) h.wb = String(r.wb);
    if (r.tb) h.tb = `${s(r.tb[0])},${r.tb[1]},${r.tb[2]}`;
    for (const [d, c, rev, mar, last, drop] of r.orders) h[`o:${d}`] = columns([c, rev, mar, s(last)], drop);
    for (const [d, c, live, cancelled] of r.times) {
      h[`o:${d}`] = `${c},${c},0,${live.join(' ')},${cancelled.map(([m, k]) => `${m}@${d + k}`).join(' ')}`;
    }
    for (const [d, lag, c, rev, mar] of r.adjustments) h[`a:${d}:${d + lag}`] = `${c},${rev},${mar}`;
    for (const [d, m, pairs] of r.web) h[`w:${d}`] = [String(m), ...pairs.map(([i, c]) => `${i}:${c}`)].join(',');
    for (const [d, m, tk, cp, es, cs, cc, drop] of r.service) h[`t:${d}`] = columns([m, tk, cp, es, cs, cc], drop);
    r.tickets.forEach(([opened, resolved, code, statusAt, eventId], i) => {
      h[`k:T${i}`] = `${s(opened)},${s(resolved)},${code},${s(statusAt)}`;
      if (eventId !== null) h[`q:T${i}`] = eventId;
    });
    for (const [id, t] of r.dedupe) h[`e:ab12:${id}`] = String(t);
    for (const [tp, o] of r.offsets) h[`h:${tp}`] = String(o);
    h['x:ab12'] = String(r.mx);
    h.lb = '2147483647';
    return h;
  });

const flat = (h: Record<string, string>) => Object.entries(h).flat();
const configs = [DEFAULT_AGGREGATE_CONFIG, parseAggregateConfig({ halfLifeDays: 3.5, weights: { PAGE_VIEW: 0.3 } })];

describe('decodeStateReply', () => {
  it('decodes a raw reply exactly like decodeState; without idempotence fields only when asked', () => {
    fc.assert(
      fc.property(hashArb, (h) => {
        const reference = decodeState('c', h)!;
        expect(decodeStateReply('c', flat(h))).toEqual(reference);
        const metricsOnly = decodeStateReply('c', flat(h), { idempotence: false })!;
        expect(metricsOnly.offsets.size).toBe(0);
        expect(metricsOnly.seenEvents.size).toBe(0);
        expect({ ...metricsOnly, offsets: reference.offsets, seenEvents: reference.seenEvents }).toEqual(reference);
      }),
      { numRuns: 300 },
    );
    expect(decodeStateReply('c', [])).toBeNull();
  });

  it('reads numbers the fast path does not parse itself like Number() does', () => {
    const h: Record<string, string> = {
      mx: '1',
      [`o:${BASE}`]: '1e+21,2.5,-0,,7',
      [`o:${BASE + 1}`]: '',
      [`o:${BASE + 2}`]: '+3,1234567890123456,-12,x',
      [`t:${BASE}`]: '0012,-,3,,4',
      [`t:${BASE + 1}`]: '5',
    };
    expect(decodeStateReply('c', flat(h))).toEqual(decodeState('c', h));
    expect(Object.is(decodeStateReply('c', flat(h))!.orders.get(BASE)!.margin, -0)).toBe(true);
  });
});

/** Metrics with their keys in order (AggregateTimeline promises the same object shape as metricsAt). */
const ordered = (m: Record<string, number | null>) => Object.entries(m);

describe('AggregateTimeline', () => {
  it('equals metricsAt, rollOffDays and eventDaysAfter on random states and as-of days, in any call order', () => {
    fc.assert(
      fc.property(
        hashArb,
        fc.constantFrom(...configs),
        fc.array(fc.integer({ min: BASE - 460, max: BASE + 500 }), { minLength: 1, maxLength: 25 }),
        (h, config, days) => {
          const state = decodeState('c', h)!;
          const timeline = new AggregateTimeline(state, config);
          // Repeated days on purpose: the second answer of a day comes from the memo.
          for (const d of [...days, ...days.reverse()]) {
            const asOf = d * DAY + (d % 7) * 3_600_000;
            expect(ordered(timeline.metricsAt(asOf))).toEqual(ordered(metricsAt(state, asOf, config)));
            expect(timeline.rollOffDays(d)).toEqual(rollOffDays(state, d));
            expect(timeline.windowChangeDays(d, { web: true })).toEqual(rollOffDays(state, d));
            expect(timeline.windowChangeDays(d, { web: false })).toEqual(rollOffDays({ ...state, web: new Map() }, d));
            expect(timeline.eventDaysAfter(d)).toEqual(eventDaysAfter(state, d));
            expect(timeline.firstEventDayAfter(d)).toBe(eventDaysAfter(state, d)[0] ?? null);
          }
          expect(timeline.eventDaysAfter(Number.NEGATIVE_INFINITY)).toEqual(
            eventDaysAfter(state, Number.NEGATIVE_INFINITY),
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  it('is a copy of the state it was built from: a new one sees newly applied events, the old one is unchanged', () => {
    const day = BASE;
    const h: Record<string, string> = { mx: String(day * DAY), [`o:${day - 3}`]: '1,1000,100,3600000' };
    const before: AggregateState = decodeState('c', h)!;
    const first = new AggregateTimeline(before, DEFAULT_AGGREGATE_CONFIG);
    const asOf = day * DAY + 1;
    expect(first.metricsAt(asOf).orders_30d).toBe(1); // memoised now

    // New events applied: another order on the as-of day, a web visit and a ticket the day before.
    const after = decodeState('c', {
      ...h,
      mx: String(day * DAY + 5),
      [`o:${day}`]: '1,500,50,5',
      [`w:${day - 1}`]: '0,0:2',
      [`t:${day - 1}`]: '0,1',
    })!;
    const second = new AggregateTimeline(after, DEFAULT_AGGREGATE_CONFIG);
    expect(second.metricsAt(asOf)).toEqual(metricsAt(after, asOf, DEFAULT_AGGREGATE_CONFIG));
    expect(second.metricsAt(asOf).orders_30d).toBe(2);
    expect(second.metricsAt(asOf).revenue_lifetime).toBe(1500);
    expect(second.metricsAt(asOf).web_events_30d).toBe(2);
    expect(second.metricsAt(asOf).tickets_30d).toBe(1);
    expect(second.firstEventDayAfter(day - 1)).toBe(day);

    // Changing the decoded state in place does not leak into a timeline built before (it copied what it needs).
    before.orders.set(day, { count: 5, revenue: 5, margin: 0, lastPlacedAt: null });
    expect(new AggregateTimeline(before, DEFAULT_AGGREGATE_CONFIG).metricsAt(day * DAY + 2).orders_30d).toBe(6);
    expect(first.metricsAt(day * DAY + 2).orders_30d).toBe(1);
    expect(first.eventDaysAfter(day - 1)).toEqual([]);
  });
});
