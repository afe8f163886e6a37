/**
 * Differential test of lua/apply_events.lua (compact layout, design-decisions §23) against the previous script
 * (test/fixtures/apply_events.v2.lua: one dedupe field per event id, one field per web day, the HSCAN prune): on random
 * histories (orders with reversals and copies, web, tickets), duplicates, redeliveries, batch cuts, per-batch
 * retentions and horizons, both must return the same results and leave the same state: the decoded aggregates, the
 * same remembered events (each of the previous script's ids ↔ its fingerprint, with the same time) and the same
 * high-water offsets. Also: a hash written by the previous script is continued by the current one (an upgrade).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { type InputEvent, WEB_BEHAVIOR_TYPES } from '@tierstream/contracts';
import fc from 'fast-check';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_AGGREGATE_CONFIG } from '../src/config';
import { customerKeys, encodeCustomerInto, encodeEventInto, eventFingerprint } from '../src/keyspace';
import type { AggregateState } from '../src/metrics';
import { RETENTION_DAYS } from '../src/metrics';
import { decodeStateReply } from '../src/state-decode';
import { APPLY_EVENTS_LUA } from '../src/store';
import { buildEvents, DAY, deliver, groupBatch, historyArb, prng } from './history';
import { connectWithScripts } from './scripts';

const V2_LUA = readFileSync(new URL('./fixtures/apply_events.v2.lua', import.meta.url), 'utf8');
const config = DEFAULT_AGGREGATE_CONFIG;
let redis: Redis;
let shas: { v2: string; current: string };

beforeAll(async () => {
  ({ redis, shas } = await connectWithScripts({ v2: V2_LUA, current: APPLY_EVENTS_LUA }));
});
afterAll(async () => {
  await redis?.quit();
});

type Item = ReturnType<typeof groupBatch>[number];
const topicCode = (topic: string) => createHash('sha1').update(topic).digest('hex').slice(0, 4);

/**
 * ARGV of both scripts for one customer: the current one takes the number of records first (several customers per
 * call), `<fingerprint><event_id>` (web: the fingerprint), and with `merge` a customer's web events of one partition
 * as one merged record (encodeCustomerInto, as the store sends them); the previous one takes the id.
 */
function argsOf(
  item: Item,
  horizon: number,
  retention: string,
  merge = false,
  pack = false,
): { v2: string[]; current: string[] } {
  const current = [String(horizon), retention + (pack ? 'p' : '')];
  encodeCustomerInto(current, item.events, config, merge);
  const v2 = [String(horizon), retention];
  const perEvent: string[] = [];
  for (const r of item.events) {
    encodeEventInto(perEvent, r.event, r.topic, r.partition, r.offset, config);
    v2.push(perEvent[perEvent.length - 2]!, r.event.event.event_id);
  }
  return { v2, current };
}

async function stateOf(key: string, customerId: string): Promise<AggregateState | null> {
  return decodeStateReply(customerId, (await redis.call('HGETALL', key)) as string[]);
}

/** The previous layout's idempotence memory in the current one's terms: ids → fingerprints, topics → codes. */
function translated(s: AggregateState): { offsets: Map<string, string>; seen: Map<string, number> } {
  const offsets = new Map<string, string>();
  for (const [tp, o] of s.offsets) {
    const i = tp.lastIndexOf(':');
    offsets.set(`${topicCode(tp.slice(0, i))}:${tp.slice(i + 1)}`, o);
  }
  const seen = new Map<string, number>();
  for (const [k, at] of s.seenEvents) {
    const i = k.indexOf(':');
    const fp = Buffer.from(eventFingerprint(k.slice(i + 1)), 'latin1').toString('hex');
    seen.set(`${k.slice(0, i)}:#${fp}`, at);
  }
  return { offsets, seen };
}

/** The state without its idempotence memory, adjustments in day order (their order is the hash's field order). */
const withoutIdempotence = (s: AggregateState | null) =>
  s && {
    ...s,
    offsets: new Map(),
    seenEvents: new Map(),
    adjustments: [...s.adjustments].sort((a, b) => a.orderDay - b.orderDay || a.effectiveDay - b.effectiveDay),
  };

function webEvent(customerId: string, id: string, at: number, type = 0): InputEvent {
  return {
    kind: 'web',
    event: {
      event_id: id,
      customer_id: customerId,
      anonymous_id: null,
      type: WEB_BEHAVIOR_TYPES[type]!,
      url: null,
      content_id: null,
      occurred_at: at,
    },
  };
}

describe('apply_events.lua (compact layout) equals the previous script', () => {
  it('same results, aggregates, remembered events and offsets for any history, delivery and retention', async () => {
    const session = Date.now().toString(36);
    let run = 0;
    const seen = {
      calls: 0,
      applied: 0,
      skipped: 0,
      folds: 0,
      remembered: 0,
      merged: 0,
      conflicts: 0,
      packedOrders: 0,
      dayFields: 0,
      switched: 0,
    };
    await fc.assert(
      fc.asyncProperty(
        fc.array(historyArb, { minLength: 1, maxLength: 3 }),
        fc.integer(),
        fc.constantFrom(48 * 3_600_000, 30 * DAY, 3 * 365 * DAY),
        async (histories, seed, horizon) => {
          const prefix = `agg-v3-${session}-${run}`;
          // The packed layout (design-decisions §23) in a third of the runs, the previous one in a third, and in the
          // rest a layout drawn per batch (an upgrade, or a downgrade, of hashes written in the other): all must
          // equal the previous script's state.
          const mode = run++ % 3;
          const byCustomer = new Map<string, InputEvent[]>();
          histories.forEach((h, i) => {
            byCustomer.set(`c${i}`, buildEvents(`c${i}`, h));
          });
          const delivery = deliver(byCustomer, seed, horizon);
          const rnd = prng(seed ^ 0x5eed);
          const keys = new Set<string>();
          for (const batch of delivery.batches) {
            const retention = String(
              [RETENTION_DAYS, RETENTION_DAYS + Math.floor(rnd() * 120), 1_000_000][Math.floor(rnd() * 3)],
            );
            const pack = mode === 1 || (mode === 2 && rnd() < 0.5);
            if (mode === 2) seen.switched += pack ? 1 : 0;
            // The previous script one customer per call, the current one all the batch's customers in one call.
            const items = groupBatch(batch);
            const refFields: number[] = [];
            const want: number[] = [];
            const keysOf = (item: Item) => ({
              refKey: customerKeys(`${prefix}-ref`, item.customerId).agg,
              key: customerKeys(prefix, item.customerId).agg,
            });
            const currentArgs: string[] = [];
            for (const item of items) {
              const args = argsOf(item, horizon, retention, true, pack);
              if (args.current[3]?.includes(',M,')) seen.merged++;
              const { refKey, key } = keysOf(item);
              keys.add(refKey).add(key);
              refFields.push(await redis.hlen(refKey));
              want.push(...((await redis.evalsha(shas.v2, 1, refKey, ...args.v2)) as number[]));
              currentArgs.push(...args.current.slice(2));
            }
            const got = (await redis.evalsha(
              shas.current,
              items.length,
              ...items.map((item) => keysOf(item).key),
              String(horizon),
              retention + (pack ? 'p' : ''),
              ...currentArgs,
            )) as number[];
            // A merged record that could not apply (CONFLICT, nothing written): its events again one by one.
            for (const [i, item] of items.entries()) {
              if (got[5 * i] !== -1) continue;
              seen.conflicts++;
              const again = (await redis.evalsha(
                shas.current,
                1,
                keysOf(item).key,
                ...argsOf(item, horizon, retention, false, pack).current,
              )) as number[];
              got.splice(5 * i, 5, ...again);
            }
            expect(got).toEqual(want);
            for (const [i, item] of items.entries()) {
              const { refKey, key } = keysOf(item);
              if (mode === 1) {
                const fields = await redis.hkeys(key);
                if (fields.includes('o')) seen.packedOrders++;
                if (fields.some((f) => /^[otkq]:/.test(f))) seen.dayFields++;
              }
              const ref = await stateOf(refKey, item.customerId);
              const cur = await stateOf(key, item.customerId);
              expect(withoutIdempotence(cur)).toEqual(withoutIdempotence(ref));
              const t = translated(ref!);
              expect(cur!.offsets).toEqual(t.offsets);
              expect(cur!.seenEvents).toEqual(t.seen);
              seen.calls++;
              seen.applied += want[5 * i]!;
              seen.skipped += item.events.length - want[5 * i]!;
              seen.remembered += t.seen.size;
              if ((await redis.hlen(refKey)) < refFields[i]!) seen.folds++;
            }
          }
          if (keys.size) await redis.del(...keys);
        },
      ),
      { numRuns: Number(process.env.AGG_PROPERTY_RUNS ?? 150) },
    );
    console.log('[apply_events v2 differential]', JSON.stringify(seen));
    expect(seen.skipped).toBeGreaterThan(0);
    expect(seen.merged).toBeGreaterThan(0);
    expect(seen.conflicts).toBeGreaterThan(0);
    expect(seen.folds).toBeGreaterThan(0);
    // The packed runs wrote packed order days and no day fields.
    expect(seen.packedOrders).toBeGreaterThan(0);
    expect(seen.dayFields).toBe(0);
    expect(seen.switched).toBeGreaterThan(0);
  });

  it('applies a merged record only when every event passes: duplicates and partial redeliveries are CONFLICT', async () => {
    const key = customerKeys(`agg-v3-merged-${Date.now().toString(36)}`, 'c').agg;
    const d = 20_000;
    const horizon = 48 * 3_600_000;
    const retention = String(RETENTION_DAYS);
    const rec = (id: string, at: number, offset: number, type = 0) => ({
      event: webEvent('c', id, at, type),
      topic: 'web-behavior.v1',
      partition: 1,
      offset: String(offset),
    });
    const call = async (records: ReturnType<typeof rec>[], merge: boolean) => {
      const args = [String(horizon), retention];
      encodeCustomerInto(args, records, config, merge);
      return (await redis.evalsha(shas.current, 1, key, ...args)) as number[];
    };
    const webDay = async () => (await stateOf(key, 'c'))!.web.get(d)!;
    // Two events (one a duplicate within the call): applied as one record, the duplicate once.
    expect(
      await call(
        [rec('a', d * DAY + 1_000, 10), rec('b', d * DAY + 2_000, 11, 3), rec('a', d * DAY + 1_000, 12)],
        true,
      ),
    ).toEqual([2, d * DAY + 1_000, d * DAY + 2_000, 0, 0]);
    expect((await webDay()).counts.slice(0, 4)).toEqual([1, 0, 0, 1]);
    // A copy of `b` under a new offset with a new event: CONFLICT, nothing written; one by one: only `c` counts.
    const withCopy = [rec('b', d * DAY + 2_000, 13, 3), rec('c', d * DAY + 3_000, 14)];
    expect(await call(withCopy, true)).toEqual([-1, 0, 0, 0, 0]);
    expect((await webDay()).counts.slice(0, 4)).toEqual([1, 0, 0, 1]);
    expect(await call(withCopy, false)).toEqual([1, d * DAY + 3_000, d * DAY + 3_000, 0, 0]);
    expect((await webDay()).counts.slice(0, 4)).toEqual([2, 0, 0, 1]);
    // A redelivery straddling the high-water offset: CONFLICT; wholly below it: nothing applied, no conflict.
    expect(await call([rec('c', d * DAY + 3_000, 14), rec('e', d * DAY + 4_000, 15)], true)).toEqual([-1, 0, 0, 0, 0]);
    expect(await call([rec('a', d * DAY + 1_000, 10), rec('b', d * DAY + 2_000, 11, 3)], true)).toEqual([
      0, 0, 0, 0, 0,
    ]);
    expect((await webDay()).counts.slice(0, 4)).toEqual([2, 0, 0, 1]);
    await redis.del(key);
  });

  it('continues a hash of the previous layout: redeliveries still apply nothing, web days of both layouts add up', async () => {
    const prefix = `agg-v3-upgrade-${Date.now().toString(36)}`;
    const d = 20_000;
    const key = customerKeys(prefix, 'c').agg;
    const refKey = customerKeys(`${prefix}-ref`, 'c').agg;
    const rec = (event: InputEvent, offset: number) => ({
      event,
      topic: 'web-behavior.v1',
      partition: 2,
      offset: String(offset),
    });
    const first = {
      customerId: 'c',
      events: [rec(webEvent('c', 'w1', d * DAY + 1_000), 0), rec(webEvent('c', 'w2', d * DAY + 5_000, 3), 1)],
    };
    const again = { customerId: 'c', events: [...first.events, rec(webEvent('c', 'w3', d * DAY + 9_000, 3), 2)] };
    const horizon = 48 * 3_600_000;
    const retention = String(RETENTION_DAYS);
    // Both hashes written by the previous script, then one continued by each.
    for (const k of [key, refKey]) await redis.evalsha(shas.v2, 1, k, ...argsOf(first, horizon, retention).v2);
    const want = (await redis.evalsha(shas.v2, 1, refKey, ...argsOf(again, horizon, retention).v2)) as number[];
    const got = (await redis.evalsha(shas.current, 1, key, ...argsOf(again, horizon, retention).current)) as number[];
    expect(want[0]).toBe(1);
    expect(got).toEqual(want);
    const fields = Object.keys(await redis.hgetall(key)).sort();
    // The previous layout's high-water field moved to its new name; its dedupe fields are gone.
    expect(fields.filter((f) => f.startsWith('h:'))).toEqual([`h:${topicCode('web-behavior.v1')}:2`]);
    expect(fields.filter((f) => f.startsWith('x:') || /^e:.*:/.test(f))).toEqual([]);
    expect(fields).toContain(`w:${d}`);
    expect(fields).toContain('w');
    expect(withoutIdempotence(await stateOf(key, 'c'))).toEqual(withoutIdempotence(await stateOf(refKey, 'c')));
    expect((await stateOf(key, 'c'))!.web.get(d)!.counts[3]).toBe(2);
    await redis.del(key, refKey);
  });
});
