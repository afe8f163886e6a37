/**
 * Byte-for-byte differential test of lua/apply_events.lua against the script it replaced (test/fixtures/
 * apply_events.v4.lua, commit d7409a3: the same layout): the changes since are to the script's CPU only (issue 18), so
 * on random histories (orders with reversals and copies, web, tickets), duplicates, redeliveries, batch cuts, several
 * customers per call, merged web records and their conflicts, per-batch retentions and horizons, in the packed layout,
 * the previous one and both by turns, both must return the same results and leave every hash with the same fields and
 * values, in the same order.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { type InputEvent, WEB_BEHAVIOR_TYPES } from '@tierstream/contracts';
import fc from 'fast-check';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_AGGREGATE_CONFIG } from '../src/config';
import { customerKeys, encodeCustomerInto } from '../src/keyspace';
import { RETENTION_DAYS } from '../src/metrics';
import { APPLY_EVENTS_LUA } from '../src/store';
import { buildEvents, DAY, deliver, groupBatch, historyArb, prng } from './history';
import { connectWithScripts } from './scripts';

const V4_LUA = readFileSync(new URL('./fixtures/apply_events.v4.lua', import.meta.url), 'utf8');
const config = DEFAULT_AGGREGATE_CONFIG;
let redis: Redis;
let shas: { v4: string; current: string };

beforeAll(async () => {
  ({ redis, shas } = await connectWithScripts({ v4: V4_LUA, current: APPLY_EVENTS_LUA }));
});
afterAll(async () => {
  await redis?.quit();
});

type Item = ReturnType<typeof groupBatch>[number];

/**
 * One batch's customers in one call of `sha` (as the store sends them: merged web records when `merge`), then the
 * customers answered CONFLICT again one by one without merging: the results per customer, 5 numbers each.
 */
async function applyAll(sha: string, prefix: string, items: Item[], head: string[], merge: boolean) {
  const args: string[] = [];
  let merged = 0;
  for (const item of items) if (encodeCustomerInto(args, item.events, config, merge)) merged++;
  const keys = items.map((item) => customerKeys(prefix, item.customerId).agg);
  const got = (await redis.evalsha(sha, items.length, ...keys, ...head, ...args)) as number[];
  let conflicts = 0;
  for (const [i, item] of items.entries()) {
    if (got[5 * i] !== -1) continue;
    conflicts++;
    const again: string[] = [];
    encodeCustomerInto(again, item.events, config, false);
    got.splice(5 * i, 5, ...((await redis.evalsha(sha, 1, keys[i]!, ...head, ...again)) as number[]));
  }
  return { got, conflicts, merged };
}

describe('apply_events.lua equals the previous script byte for byte', () => {
  it('same results and the same hashes (fields, values, order) for any history, delivery, retention and layout', async () => {
    const session = Date.now().toString(36);
    let run = 0;
    const seen = { calls: 0, applied: 0, merged: 0, conflicts: 0, folds: 0, webDays: 0, packed: 0 };
    await fc.assert(
      fc.asyncProperty(
        fc.array(historyArb, { minLength: 1, maxLength: 4 }),
        fc.integer(),
        fc.constantFrom(48 * 3_600_000, 30 * DAY, 3 * 365 * DAY),
        async (histories, seed, horizon) => {
          const prefix = `agg-bytes-${session}-${run}`;
          // The packed layout in half the runs, the previous one in a quarter, both by turns (per batch) in the rest.
          const mode = run++ % 4;
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
            const pack = mode < 2 || (mode === 3 && rnd() < 0.5);
            const head = [String(horizon), retention + (pack ? 'p' : '')];
            const items = groupBatch(batch);
            const merge = rnd() < 0.8;
            const lens = await Promise.all(items.map((it) => redis.hlen(customerKeys(prefix, it.customerId).agg)));
            const want = await applyAll(shas.v4, `${prefix}-ref`, items, head, merge);
            const got = await applyAll(shas.current, prefix, items, head, merge);
            expect(got.got).toEqual(want.got);
            expect(got.conflicts).toBe(want.conflicts);
            seen.conflicts += got.conflicts;
            seen.merged += got.merged;
            for (const [i, item] of items.entries()) {
              const key = customerKeys(prefix, item.customerId).agg;
              const refKey = customerKeys(`${prefix}-ref`, item.customerId).agg;
              keys.add(key).add(refKey);
              const ref = (await redis.call('HGETALL', refKey)) as string[];
              const cur = (await redis.call('HGETALL', key)) as string[];
              expect(cur).toEqual(ref);
              seen.calls++;
              seen.applied += Math.max(0, want.got[5 * i]!);
              if (cur.length / 2 < lens[i]!) seen.folds++;
              if (cur.includes('W')) seen.webDays++;
              if (pack) seen.packed++;
            }
          }
          if (keys.size) await redis.del(...keys);
        },
      ),
      { numRuns: Number(process.env.AGG_PROPERTY_RUNS ?? 150) },
    );
    console.log('[apply_events bytes differential]', JSON.stringify(seen));
    expect(seen.applied).toBeGreaterThan(0);
    expect(seen.merged).toBeGreaterThan(0);
    expect(seen.conflicts).toBeGreaterThan(0);
    expect(seen.folds).toBeGreaterThan(0);
    expect(seen.webDays).toBeGreaterThan(0);
  });

  it('same hashes for merged web records of several days, before, on and after the latest day kept', async () => {
    const prefix = `agg-bytes-web-${Date.now().toString(36)}`;
    let merged = 0;
    await fc.assert(
      fc.asyncProperty(fc.integer(), async (seed) => {
        const rnd = prng(seed);
        const base = 20_000 + Math.floor(rnd() * 50);
        const keys: string[] = [];
        for (let c = 0; c < 4; c++) {
          const customerId = `w${c}`;
          keys.push(customerKeys(prefix, customerId).agg, customerKeys(`${prefix}-ref`, customerId).agg);
        }
        let offset = 0;
        for (let b = 0; b < 6; b++) {
          const items = [];
          for (let c = 0; c < 4; c++) {
            const customerId = `w${c}`;
            const events = [];
            // Mostly days at or after the earlier batches' (live traffic, a replay), sometimes earlier ones; counts
            // up to a few hundred (two-byte varints) on one day.
            const spread = rnd() < 0.2 ? 12 : 3;
            const n = 1 + Math.floor(rnd() * (rnd() < 0.1 ? 300 : 8));
            for (let k = 0; k < n; k++) {
              const day = base + b * 2 + Math.floor(rnd() * spread) - (spread > 3 ? 8 : 0);
              const at = day * DAY + Math.floor(rnd() * DAY);
              const type = WEB_BEHAVIOR_TYPES[Math.floor(rnd() * (rnd() < 0.5 ? 2 : WEB_BEHAVIOR_TYPES.length))]!;
              events.push({
                event: {
                  kind: 'web' as const,
                  event: {
                    event_id: `${customerId}-${seed}-${b}-${k}`,
                    customer_id: customerId,
                    anonymous_id: null,
                    type,
                    url: null,
                    content_id: null,
                    occurred_at: at,
                  },
                },
                topic: 'web-behavior.v1',
                partition: c % 2,
                offset: String(offset++),
              });
            }
            items.push({ customerId, events });
          }
          const head = [String(48 * 3_600_000), `${RETENTION_DAYS}p`];
          const want = await applyAll(shas.v4, `${prefix}-ref`, items, head, true);
          const got = await applyAll(shas.current, prefix, items, head, true);
          merged += got.merged;
          expect(got.got).toEqual(want.got);
          for (const item of items) {
            const ref = (await redis.call('HGETALL', customerKeys(`${prefix}-ref`, item.customerId).agg)) as string[];
            expect(await redis.call('HGETALL', customerKeys(prefix, item.customerId).agg)).toEqual(ref);
          }
        }
        await redis.del(...keys);
      }),
      { numRuns: Number(process.env.AGG_PROPERTY_RUNS ?? 60) },
    );
    expect(merged).toBeGreaterThan(0);
  });

  it('same hashes for a hash without mx holding the fields of the previous layout (not taken for a new customer)', async () => {
    const prefix = `agg-bytes-nomx-${Date.now().toString(36)}`;
    const topic = 'web-behavior.v1';
    const code = createHash('sha1').update(topic).digest('hex').slice(0, 4);
    const day = 20_000;
    // The previous layout's high-water offset (offsets up to 3 are redeliveries), topic time and a web day.
    const seeded = [`h:${topic}:0`, '3', `x:${code}`, String(day * DAY), `w:${day - 1}`, '1000,2'];
    const items = [0, 1].map((c) => ({
      customerId: `m${c}`,
      events: Array.from({ length: 8 }, (_, k) => ({
        event: {
          kind: 'web' as const,
          event: {
            event_id: `m${c}-${k}`,
            customer_id: `m${c}`,
            anonymous_id: null,
            type: WEB_BEHAVIOR_TYPES[k % 2]!,
            url: null,
            content_id: null,
            occurred_at: day * DAY + k * 1000,
          },
        },
        topic,
        partition: 0,
        offset: String(k),
      })),
    }));
    const keys = items.flatMap((it) => [
      customerKeys(prefix, it.customerId).agg,
      customerKeys(`${prefix}-ref`, it.customerId).agg,
    ]);
    for (const merge of [true, false]) {
      for (const key of keys) await redis.hset(key, ...seeded);
      const head = [String(48 * 3_600_000), `${RETENTION_DAYS}p`];
      const want = await applyAll(shas.v4, `${prefix}-ref`, items, head, merge);
      const got = await applyAll(shas.current, prefix, items, head, merge);
      expect(got.got).toEqual(want.got);
      expect(want.got[0]).toBe(4);
      for (const item of items) {
        const ref = (await redis.call('HGETALL', customerKeys(`${prefix}-ref`, item.customerId).agg)) as string[];
        expect(ref).toContain(`h:${code}:0`);
        expect(await redis.call('HGETALL', customerKeys(prefix, item.customerId).agg)).toEqual(ref);
      }
      await redis.del(...keys);
    }
  });
});
