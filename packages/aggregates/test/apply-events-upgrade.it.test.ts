/**
 * Upgrade of the packed layout (design-decisions §23): hashes written by the previous build's script
 * (test/fixtures/apply_events.v3.lua, commit 5e69df3: order states as decimal text, web days `w`, dedupe memories
 * with the topic's time) and continued by lua/apply_events.lua from a random batch on must give the same results and
 * leave the same state (aggregates, remembered events, high-water offsets) as hashes this script wrote from the start:
 * on random histories with duplicates, redeliveries, batch cuts, merged web records and per-batch retentions.
 */
import { readFileSync } from 'node:fs';
import type { InputEvent } from '@tierstream/contracts';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestRedis } from '../../../test/support/stack';
import { DEFAULT_AGGREGATE_CONFIG } from '../src/config';
import { customerKeys, encodeCustomerInto } from '../src/keyspace';
import { RETENTION_DAYS } from '../src/metrics';
import { decodeStateReply } from '../src/state-decode';
import { APPLY_EVENTS_LUA } from '../src/store';
import { buildEvents, deliver, groupBatch, historyArb, prng } from './history';
import { loadScripts } from './scripts';

const PREVIOUS_LUA = readFileSync(new URL('./fixtures/apply_events.v3.lua', import.meta.url), 'utf8');

describe('apply_events.lua continues hashes of the previous build (5e69df3)', () => {
  const t = createTestRedis('agg-upgrade');
  let shas: { previous: string; current: string };
  beforeAll(async () => {
    shas = await loadScripts(t.redis, { previous: PREVIOUS_LUA, current: APPLY_EVENTS_LUA });
  });
  afterAll(() => t.cleanup());

  it('same results and state as this script from the start, whatever batch the upgrade falls on', async () => {
    let run = 0;
    const seen = { upgraded: 0, batches: 0, conflicts: 0 };
    await fc.assert(
      fc.asyncProperty(
        fc.array(historyArb, { minLength: 1, maxLength: 3 }),
        fc.integer(),
        fc.constantFrom(48 * 3_600_000, 30 * 86_400_000),
        async (histories, seed, horizon) => {
          const prefix = `u${run++}`;
          const byCustomer = new Map<string, InputEvent[]>();
          histories.forEach((h, i) => {
            byCustomer.set(`c${i}`, buildEvents(`c${i}`, h));
          });
          const delivery = deliver(byCustomer, seed, horizon);
          const rnd = prng(seed ^ 0x0b5e);
          const upgradeAt = Math.floor(rnd() * (delivery.batches.length + 1));
          if (upgradeAt > 0 && upgradeAt < delivery.batches.length) seen.upgraded++;
          const keys = new Set<string>();
          for (const [b, batch] of delivery.batches.entries()) {
            const retention = `${[RETENTION_DAYS, RETENTION_DAYS + Math.floor(rnd() * 120)][Math.floor(rnd() * 2)]}p`;
            const items = groupBatch(batch);
            const results: number[][] = [];
            for (const [target, sha] of [
              ['up', b < upgradeAt ? shas.previous : shas.current],
              ['ref', shas.current],
            ] as const) {
              const args = (merge: boolean) => {
                const out: string[] = [];
                for (const item of items) encodeCustomerInto(out, item.events, DEFAULT_AGGREGATE_CONFIG, merge);
                return out;
              };
              const ks = items.map((item) => customerKeys(`${prefix}-${target}`, item.customerId).agg);
              for (const k of ks) keys.add(k);
              const got = (await t.redis.evalsha(
                sha,
                ks.length,
                ...ks,
                String(horizon),
                retention,
                ...args(true),
              )) as number[];
              // A merged web record that could not apply (CONFLICT): its events again one by one, as the store does.
              for (const [i, item] of items.entries()) {
                if (got[5 * i] !== -1) continue;
                seen.conflicts++;
                const one: string[] = [];
                encodeCustomerInto(one, item.events, DEFAULT_AGGREGATE_CONFIG, false);
                const again = (await t.redis.evalsha(sha, 1, ks[i]!, String(horizon), retention, ...one)) as number[];
                got.splice(5 * i, 5, ...again);
              }
              results.push(got);
            }
            expect(results[0]).toEqual(results[1]);
            for (const item of items) {
              const [up, ref] = await Promise.all(
                ['up', 'ref'].map(async (target) =>
                  decodeStateReply(
                    item.customerId,
                    (await t.redis.call(
                      'HGETALL',
                      customerKeys(`${prefix}-${target}`, item.customerId).agg,
                    )) as string[],
                  ),
                ),
              );
              // Adjustments in day order: their order is the hash's field order, which the two histories of writes set.
              const sorted = (s: typeof up) =>
                s && {
                  ...s,
                  adjustments: [...s.adjustments].sort(
                    (x, y) => x.orderDay - y.orderDay || x.effectiveDay - y.effectiveDay,
                  ),
                };
              expect(sorted(up)).toEqual(sorted(ref));
            }
            seen.batches++;
          }
          const all = [...keys];
          for (let i = 0; i < all.length; i += 500) await t.redis.del(...all.slice(i, i + 500));
        },
      ),
      { numRuns: Number(process.env.AGG_PROPERTY_RUNS ?? 100) },
    );
    console.log('[apply_events upgrade from 5e69df3]', JSON.stringify(seen));
    expect(seen.upgraded).toBeGreaterThan(0);
  });
});
