/**
 * Differential test of the second version of apply_events.lua (test/fixtures/apply_events.v2.lua; the current script,
 * with the compact layout, is checked against it in apply-events-v2.it.test.ts) against its first version (test/fixtures/apply_events.v1.lua, which read
 * the whole hash with HGETALL on every call): on random histories, deliveries and per-batch retentions, the two must
 * leave exactly the same hash (apart from `lb`, the fold lower bound the current script keeps) and return the same
 * results. Hashes written by the first version are also continued by the current one (no `lb` yet: an upgrade).
 */
import { readFileSync } from 'node:fs';
import { type InputEvent, WEB_BEHAVIOR_TYPES } from '@tierstream/contracts';
import fc from 'fast-check';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_AGGREGATE_CONFIG } from '../src/config';
import { customerKeys, encodeEvent, encodeEventInto, FINGERPRINT_LENGTH } from '../src/keyspace';
import { RETENTION_DAYS } from '../src/metrics';
import { buildEvents, DAY, deliver, groupBatch, type HistorySpec, historyArb, prng } from './history';
import { connectWithScripts } from './scripts';

const V1_LUA = readFileSync(new URL('./fixtures/apply_events.v1.lua', import.meta.url), 'utf8');
/** The second version: "current" in this file. */
const APPLY_EVENTS_LUA = readFileSync(new URL('./fixtures/apply_events.v2.lua', import.meta.url), 'utf8');
const config = DEFAULT_AGGREGATE_CONFIG;
let redis: Redis;
let shas: { v1: string; current: string };

beforeAll(async () => {
  ({ redis, shas } = await connectWithScripts({ v1: V1_LUA, current: APPLY_EVENTS_LUA }));
});
afterAll(async () => {
  await redis?.quit();
});

/**
 * The hash without `lb`, `pd` and without the order states the first version did not keep (`n:`/`u:`, design-decisions
 * §15). The histories here have no reversals and no order copies, where both versions' money semantics agree (the
 * money semantics themselves are checked against the oracle in aggregates.it.test.ts).
 */
async function hashWithoutLowerBound(key: string): Promise<Record<string, string>> {
  const h = await redis.hgetall(key);
  delete h.lb;
  // The folded order days of the CLV inputs (`pd`, issue 15): the first version had none.
  delete h.pd;
  for (const f of Object.keys(h)) if (f.startsWith('n:') || f.startsWith('u:')) delete h[f];
  return normalisePurchaseTimes(h);
}

/**
 * The purchase times in the first version's form (design-decisions §15 "Purchase times"): an order bucket kept only
 * its latest placed time and `fo` the first placed time of all orders; the current script keeps every live time of
 * the bucket and `fo` among folded orders only. Without cancellations both give the same first/last order times.
 */
function normalisePurchaseTimes(h: Record<string, string>): Record<string, string> {
  let first = h.fo === undefined ? null : Number(h.fo);
  for (const [f, v] of Object.entries(h)) {
    if (!f.startsWith('o:')) continue;
    const d = Number(f.slice(2));
    const b = v.split(',');
    const times = (b[3] ?? '')
      .split(' ')
      .filter((x) => x !== '')
      .map(Number);
    if (times.length === 0) continue;
    const last = Math.max(...times);
    h[f] = [b[0], b[1], b[2], String(last)].join(',');
    const lo = d * DAY + Math.min(...times);
    if (first === null || lo < first) first = lo;
  }
  if (first !== null) h.fo = String(first);
  return h;
}

/** A history with only plain orders: each placed once, never reversed. */
const plainOrders = (h: HistorySpec): HistorySpec => ({
  ...h,
  orders: h.orders.map((o) => ({ ...o, followUps: [], placed: true, copies: 0, copiesDiffer: false })),
  cancelShape: 'any',
});

/** Applies one customer's records with both scripts (the second hash with `current` or the first version). */
async function applyBoth(
  shas: { v1: string; current: string },
  prefix: string,
  item: ReturnType<typeof groupBatch>[number],
  horizon: number,
  retention: string,
  useCurrent: boolean,
): Promise<{ before: Record<string, string>; after: Record<string, string>; keys: string[] }> {
  // The first version takes the 9 fields of each event as separate arguments, the current one packed (2 each).
  const v1Args = [String(horizon), retention];
  const args = [String(horizon), retention];
  for (const r of item.events) {
    v1Args.push(...encodeEvent(r.event, r.topic, r.partition, r.offset, config));
    encodeEventInto(args, r.event, r.topic, r.partition, r.offset, config);
    // The second version reads the event_id alone (the current script a fingerprint before it).
    args[args.length - 1] = args[args.length - 1]!.slice(FINGERPRINT_LENGTH) || r.event.event.event_id;
  }
  const refKey = customerKeys(`${prefix}-ref`, item.customerId).agg;
  const key = customerKeys(prefix, item.customerId).agg;
  const before = await redis.hgetall(refKey);
  const want = await redis.evalsha(shas.v1, 1, refKey, ...v1Args);
  const got = await (useCurrent
    ? redis.evalsha(shas.current, 1, key, ...args)
    : redis.evalsha(shas.v1, 1, key, ...v1Args));
  if (useCurrent) {
    // The current script also returns the money anomalies (none without reversals).
    expect(got).toEqual([...(want as number[]), 0, 0]);
  } else expect(got).toEqual(want);
  const after = await hashWithoutLowerBound(refKey);
  expect(await hashWithoutLowerBound(key)).toEqual(after);
  return { before, after, keys: [key, refKey] };
}

function webEvent(customerId: string, id: string, at: number): InputEvent {
  return {
    kind: 'web',
    event: {
      event_id: id,
      customer_id: customerId,
      anonymous_id: null,
      type: WEB_BEHAVIOR_TYPES[0],
      url: null,
      content_id: null,
      occurred_at: at,
    },
  };
}

describe('apply_events.lua equals its first version', () => {
  it('keeps free-text ids with commas intact (packed arguments)', async () => {
    const prefix = `agg-v1-commas-${Date.now().toString(36)}`;
    const at = 20_000 * DAY + 5_000;
    const event: InputEvent = {
      kind: 'ticket',
      event: {
        event_id: 'e,1',
        customer_id: 'c',
        ticket_id: 'T,1',
        type: 'OPENED',
        category: 'COMPLAINT',
        priority: 'LOW',
        csat: null,
        occurred_at: at,
      },
    };
    const item = { customerId: 'c', events: [{ event, topic: 'tickets.v1', partition: 0, offset: '0' }] };
    const r = await applyBoth(shas, prefix, item, 48 * 3_600_000, String(RETENTION_DAYS), true);
    await redis.del(...r.keys);
    expect(r.after['k:T,1']).toBe(`${at},,O,${at}`);
    expect(r.after['q:T,1']).toBe('e,1');
  });

  it('folds a bucket exactly when the cutoff reaches its day (not only once past it)', async () => {
    const prefix = `agg-v1-edge-${Date.now().toString(36)}`;
    const d = 20_000;
    const records = [
      webEvent('c', 'w1', d * DAY + 1_000),
      webEvent('c', 'w2', (d + 1) * DAY + 2_000),
      webEvent('c', 'w3', (d + RETENTION_DAYS) * DAY + 3_000),
      webEvent('c', 'w4', (d + RETENTION_DAYS + 1) * DAY + 4_000),
    ];
    const keys = new Set<string>();
    const folded: string[][] = [];
    for (const [i, event] of records.entries()) {
      const item = { customerId: 'c', events: [{ event, topic: 'web-behavior.v1', partition: 0, offset: String(i) }] };
      const r = await applyBoth(shas, prefix, item, 48 * 3_600_000, String(RETENTION_DAYS), true);
      for (const k of r.keys) keys.add(k);
      folded.push(Object.keys(r.before).filter((f) => f.startsWith('w:') && !(f in r.after)));
    }
    await redis.del(...keys);
    // Day d folds when the cutoff (latest day − 400) reaches d, day d+1 one day later.
    expect(folded).toEqual([[], [], [`w:${d}`], [`w:${d + 1}`]]);
  });

  it('same hash and results for any history, delivery and retention; continues first-version hashes', async () => {
    const session = Date.now().toString(36);
    let run = 0;
    const seen = { calls: 0, folds: 0, upgrades: 0 };
    await fc.assert(
      fc.asyncProperty(
        fc.array(historyArb, { minLength: 1, maxLength: 3 }),
        fc.integer(),
        fc.constantFrom(48 * 3_600_000, 30 * DAY, 3 * 365 * DAY),
        async (histories, seed, horizon) => {
          const prefix = `agg-v1-${session}-${run++}`;
          const byCustomer = new Map<string, InputEvent[]>();
          histories.forEach((h, i) => {
            byCustomer.set(`c${i}`, buildEvents(`c${i}`, plainOrders(h)));
          });
          const delivery = deliver(byCustomer, seed, horizon);
          const rnd = prng(seed ^ 0x5eed);
          // The current script takes over the second hash after a random number of batches (an upgrade).
          const switchAt = Math.floor(rnd() * (delivery.batches.length + 1));
          if (switchAt > 0 && switchAt < delivery.batches.length) seen.upgrades++;
          const keys: string[] = [];
          for (const [b, batch] of delivery.batches.entries()) {
            // The aggregator raises the retention while the engine lags, and lowers it as the engine catches up.
            const retention = String(
              [RETENTION_DAYS, RETENTION_DAYS + Math.floor(rnd() * 120), 1_000_000][Math.floor(rnd() * 3)],
            );
            for (const item of groupBatch(batch)) {
              const r = await applyBoth(shas, prefix, item, horizon, retention, b >= switchAt);
              for (const k of r.keys) if (!keys.includes(k)) keys.push(k);
              seen.calls++;
              if (Object.keys(r.before).some((f) => /^[owtak]:/.test(f) && !(f in r.after))) seen.folds++;
            }
          }
          if (keys.length) await redis.del(...keys);
        },
      ),
      { numRuns: Number(process.env.AGG_PROPERTY_RUNS ?? 300) },
    );
    console.log('[apply_events v1 differential]', JSON.stringify(seen));
    expect(seen.folds).toBeGreaterThan(0);
    expect(seen.upgrades).toBeGreaterThan(0);
  });
});
