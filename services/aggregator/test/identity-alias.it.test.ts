import {
  AggregateStore,
  DEFAULT_AGGREGATE_CONFIG,
  foldAlias,
  IdentityStore,
  metricsAt,
  oracleIdentityMetrics,
} from '@tierstream/aggregates';
import type { IdentityEvent, InputEvent } from '@tierstream/contracts';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestRedis } from '../../../test/support/stack';
import { forApply, routeByIdentity } from '../src/steps/identity-route';

// Aliases through the real apply path (design-decisions §22) on the stack's Redis: web events (anonymous and
// identified) on two partitions and alias events on the identities partition, consumed in random interleavings,
// random batch cuts and redeliveries; anonymous events held, routed (routeByIdentity: the named records applied first,
// the routed ones after, as the handler does) or folded (foldAlias) → every customer's metrics equal the identity
// oracle's, as of several days. The first event's id is `_min` (the held hash's meta field before this build).

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 0, 1);
const R = 10 * DAY;
const CUSTOMERS = ['c0', 'c1', 'c2'];
const ANONS = ['x0', 'x1', 'x2', 'x3'];
const cfg = DEFAULT_AGGREGATE_CONFIG;

interface Rec {
  event: InputEvent;
  topic: string;
  partition: number;
  offset: string;
}

const webArb = fc.record({
  who: fc.integer({ min: 0, max: CUSTOMERS.length + ANONS.length - 1 }),
  day: fc.integer({ min: 0, max: 50 }),
  type: fc.constantFrom('PAGE_VIEW' as const, 'ADD_TO_CART' as const, 'DEMO_REQUESTED' as const),
  partition: fc.integer({ min: 0, max: 1 }),
});
const aliasArb = fc.record({
  anon: fc.constantFrom(...ANONS),
  customer: fc.constantFrom(...CUSTOMERS),
  gap: fc.integer({ min: 0, max: 8 }),
});
const scenarioArb = fc.record({
  web: fc.array(webArb, { minLength: 1, maxLength: 40 }),
  aliases: fc.array(aliasArb, { minLength: 1, maxLength: 5 }),
  /** Consumer steps: which consumer moves, how many records, and whether it redelivers its last batch first. */
  steps: fc.array(
    fc.record({ who: fc.integer({ min: 0, max: 2 }), n: fc.integer({ min: 1, max: 6 }), redo: fc.boolean() }),
    {
      maxLength: 60,
    },
  ),
});

describe('aliases through the apply path equal the identity oracle', () => {
  const t = createTestRedis('identity-alias');
  afterAll(() => t.cleanup());
  let run = 0;

  it('random histories, interleavings, batch cuts and redeliveries', async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, async (sc) => {
        const prefix = `r${run++}`;
        const aggregates = new AggregateStore(t.redis, { prefix, config: cfg });
        const identity = new IdentityStore(t.redis, { prefix, anonRetentionMs: R });
        // Web records per partition, in event-time order (as the contract asks), offsets from 0.
        const parts: Rec[][] = [[], []];
        const sorted = [...sc.web].sort((a, b) => a.day - b.day);
        sorted.forEach((w, i) => {
          const who =
            w.who < CUSTOMERS.length
              ? { customer: CUSTOMERS[w.who]!, anon: null }
              : { customer: null, anon: ANONS[w.who - CUSTOMERS.length]! };
          const list = parts[w.partition]!;
          list.push({
            event: {
              kind: 'web',
              event: {
                event_id: i === 0 ? '_min' : `w${i}`,
                customer_id: who.customer,
                anonymous_id: who.anon,
                type: w.type,
                url: null,
                content_id: null,
                occurred_at: T0 + w.day * DAY + i,
              },
            },
            topic: 'web-behavior.v1',
            partition: w.partition,
            offset: String(list.length),
          });
        });
        let day = 5;
        const aliases: IdentityEvent[] = sc.aliases.map((a, i) => {
          day += a.gap;
          return {
            event_id: `a${i}`,
            type: 'ALIAS',
            customer_id: a.customer,
            anonymous_id: a.anon,
            merged_customer_id: null,
            source: null,
            occurred_at: T0 + day * DAY,
          };
        });
        const positions = [0, 0, 0];
        const last: Array<[number, number]> = [
          [0, 0],
          [0, 0],
          [0, 0],
        ];
        let watermark = Number.NEGATIVE_INFINITY;
        const consume = async (who: number, from: number, to: number) => {
          if (who === 2) {
            for (let k = from; k < to; k++) {
              const e = aliases[k]!;
              const applied = await identity.apply(e);
              watermark = Math.max(watermark, e.occurred_at);
              if (applied.outcome.kind === 'aliased') {
                await foldAlias(aggregates, await identity.rootOf(e.customer_id), e.anonymous_id!, applied.held ?? [], {
                  topic: 'identities.v1',
                  partition: 0,
                  offset: String(k),
                });
              }
            }
            return;
          }
          const batch = parts[who]!.slice(from, to);
          const routed = routeByIdentity(
            batch.filter((r) => r.event.event.customer_id !== null),
            batch.filter((r) => r.event.event.customer_id === null),
            watermark,
            { identity, anonRetentionMs: R, appliedBeforeMerge: async (records) => records.map(() => false) },
          );
          // The named records first (the handler applies them while the hold runs), then the routed anonymous ones,
          // with the partitions they are applied with (forApply): not interleaved by offset with the named ones.
          const now = [...routed.now].map(([customerId, events]) => ({ customerId, events }));
          if (now.length > 0) await aggregates.applyBatch(now);
          const later = [...(await routed.later).byCustomer].map(([customerId, events]) => ({
            customerId,
            events: events.map((r) => forApply(r, routed.via.get(r))),
          }));
          if (later.length > 0) await aggregates.applyBatch(later);
        };
        const sizes = [parts[0]!.length, parts[1]!.length, aliases.length];
        const drive = async (who: number, n: number, redo: boolean) => {
          if (redo && last[who]![1] > last[who]![0]) await consume(who, last[who]![0], last[who]![1]);
          const from = positions[who]!;
          const to = Math.min(sizes[who]!, from + n);
          if (to > from) {
            await consume(who, from, to);
            last[who] = [from, to];
            positions[who] = to;
          }
        };
        for (const s of sc.steps) await drive(s.who, s.n, s.redo);
        for (const who of [0, 1, 2]) await drive(who, Number.MAX_SAFE_INTEGER, false);

        const inputs = [...parts[0]!, ...parts[1]!].map((r) => r.event);
        for (const asOfDay of [40, 55, 70]) {
          const asOf = T0 + asOfDay * DAY + DAY - 1;
          const want = oracleIdentityMetrics(inputs, aliases, asOf, cfg, {
            dedupeHorizonMs: 48 * 3_600_000,
            anonRetentionMs: R,
          });
          for (const c of CUSTOMERS) {
            const state = await aggregates.readState(c);
            const got = state ? metricsAt(state, asOf, cfg) : null;
            const expected = want.get(c) ?? null;
            if (expected === null) expect(got === null || got.web_events_90d === 0, c).toBe(true);
            else expect(got, `${c} as of day ${asOfDay}`).toEqual(expected);
          }
        }
      }),
      { numRuns: Number(process.env.IDENTITY_PROPERTY_RUNS ?? 60) },
    );
  });
});
