import type { ApplyResult, CustomerBatch, HeldEvent, HoldResult } from '@tierstream/aggregates';
import type { WebBehaviorEvent } from '@tierstream/contracts';
import type { ConsumedRecord, OutgoingRecord } from '@tierstream/kafka';
import type { TierStateStore } from '@tierstream/tierstate';
import { describe, expect, it } from 'vitest';
import { createAggregatorHandler } from '../src/handler';
import { ctx, handlerSettings, jsonRecord, jsonSerde, NOW, none } from './support';

const web = (offset: string, customer: string | null, anon: string | null): ConsumedRecord => {
  const e: WebBehaviorEvent = {
    event_id: `w${offset}`,
    customer_id: customer,
    anonymous_id: anon,
    type: 'PAGE_VIEW',
    url: null,
    content_id: null,
    occurred_at: NOW - 3_600_000,
  };
  return jsonRecord('web-behavior.v1', 0, offset, e);
};
const serde = jsonSerde('io.tierstream.WebBehaviorEvent');

describe('aggregator handler with identity', () => {
  it('routes anonymous events to their alias, and re-routes the records of a customer merged before the write', async () => {
    // A is merged into B between the batch's routing (A is a root then) and the write: the script answers moved.
    let merged = false;
    const applyCalls: Array<Array<[string, string[]]>> = [];
    const partitions = new Map<string, Array<number | string>>();
    let namedApplied: () => void = () => undefined;
    const applying = new Promise<void>((resolve) => {
      namedApplied = resolve;
    });
    const aggregates = {
      applyBatch: async (items: CustomerBatch[]) => {
        namedApplied();
        applyCalls.push(items.map((it) => [it.customerId, it.events.map((e) => e.offset)]));
        for (const it of items)
          partitions.set(
            it.customerId,
            it.events.map((e) => e.partition),
          );
        const out = new Map<string, ApplyResult>();
        for (const it of items) {
          const moved = it.customerId === 'A' && !merged;
          if (moved) merged = true;
          out.set(it.customerId, moved ? { ...none, moved: true } : { ...none, applied: it.events.length });
        }
        return out;
      },
    };
    const held: string[] = [];
    const signals: OutgoingRecord[] = [];
    const scheduled: string[] = [];
    const handler = createAggregatorHandler({
      serde,
      aggregates: aggregates as never,
      tierState: {
        schedule: async (items: Array<{ customerId: string }>) => {
          scheduled.push(...items.map((i) => i.customerId));
        },
        setAttributes: async () => undefined,
        advanceWatermarks: async () => undefined,
        readWatermarks: async () => new Map([['identities.v1:0', NOW - 86_400_000]]),
        getPartitionMeta: async () => ({}),
      } as unknown as TierStateStore,
      producer: {
        send: async (_t, records) => {
          signals.push(...records);
        },
        sendMany: async () => undefined,
        disconnect: async () => undefined,
      },
      ...handlerSettings,
      identity: {
        anonRetentionMs: 30 * 86_400_000,
        watermarkKey: 'identities.v1:0',
        identity: {
          hold: async (items: ReadonlyArray<{ anonymousId: string; events: readonly HeldEvent[] }>, floor: number) => {
            expect(floor).toBe(NOW - 86_400_000 - 30 * 86_400_000);
            // The hold overlaps the apply of the named records: it answers only once they are being applied.
            await Promise.race([
              applying,
              new Promise((_, reject) =>
                setTimeout(() => reject(new Error('named records not applied meanwhile')), 2_000),
              ),
            ]);
            return new Map<string, HoldResult>(
              items.map((it): [string, HoldResult] => {
                if (it.anonymousId === 'x')
                  return [it.anonymousId, { customerId: 'C', aliasAt: NOW - 7_200_000, decisions: 'R' }];
                held.push(it.anonymousId);
                return [it.anonymousId, { customerId: null, aliasAt: null, decisions: 'H' }];
              }),
            );
          },
          resolveMany: async (ids: readonly string[]) =>
            new Map(ids.map((id) => [id, id === 'A' && merged ? 'B' : id])),
        },
        appliedBeforeMerge: async (records) => records.map(() => false),
      },
    });
    await handler(
      {
        topic: 'web-behavior.v1',
        partition: 0,
        highWatermark: '9',
        records: [web('1', 'A', null), web('2', null, 'x'), web('3', null, 'y'), web('4', 'A', null)],
      },
      ctx,
    );
    expect(held).toEqual(['y']);
    // First A (moved: nothing applied), then A's records again, to B; then C (the alias's customer, once the hold
    // answered).
    expect(applyCalls).toEqual([[['A', ['1', '4']]], [['B', ['1', '4']]], [['C', ['2']]]]);
    // Re-routed records keep a high-water mark of their own on the survivor (partition tagged by the id they name).
    expect(partitions.get('B')).toEqual([expect.stringMatching(/^0\/[0-9a-f]{12}$/), expect.stringMatching(/^0\//)]);
    // The anonymous record has a mark of its own on C too (tagged by its anonymous id): applied after the named ones.
    expect(partitions.get('C')).toEqual([expect.stringMatching(/^0\/[0-9a-f]{12}$/)]);
    expect(scheduled.sort()).toEqual(['B', 'C']);
    expect(signals.map((s) => s.key).sort()).toEqual(['B', 'C']);
  });
});

describe('aggregator handler with identity and erasure', () => {
  it("checks the routed customers' suppression beside their apply, and does not schedule or signal an erased one", async () => {
    const checks: string[][] = [];
    let routedChecked: () => void = () => undefined;
    const checking = new Promise<void>((resolve) => {
      routedChecked = resolve;
    });
    const scheduled: string[] = [];
    const signals: OutgoingRecord[] = [];
    const handler = createAggregatorHandler({
      serde,
      aggregates: {
        applyBatch: async (items: CustomerBatch[]) => {
          // C's records (routed by the hold) apply only once C's check is under way: it runs beside the apply.
          if (items.some((it) => it.customerId === 'C'))
            await Promise.race([
              checking,
              new Promise((_, reject) => setTimeout(() => reject(new Error('C not checked beside its apply')), 2_000)),
            ]);
          return new Map(items.map((it) => [it.customerId, { ...none, applied: it.events.length }]));
        },
      } as never,
      tierState: {
        schedule: async (items: Array<{ customerId: string }>) => {
          scheduled.push(...items.map((i) => i.customerId));
        },
        setAttributes: async () => undefined,
        advanceWatermarks: async () => undefined,
        readWatermarks: async () => new Map([['identities.v1:0', NOW - 86_400_000]]),
        getPartitionMeta: async () => ({}),
      } as unknown as TierStateStore,
      producer: {
        send: async (_t, records) => {
          signals.push(...records);
        },
        sendMany: async () => undefined,
        disconnect: async () => undefined,
      },
      ...handlerSettings,
      suppressed: async (ids) => {
        checks.push([...ids]);
        if (ids.includes('C')) routedChecked();
        return new Set(ids.filter((id) => id === 'C'));
      },
      identity: {
        anonRetentionMs: 30 * 86_400_000,
        watermarkKey: 'identities.v1:0',
        identity: {
          hold: async (items: ReadonlyArray<{ anonymousId: string }>) =>
            new Map<string, HoldResult>(
              items.map((it): [string, HoldResult] => [
                it.anonymousId,
                { customerId: 'C', aliasAt: NOW - 7_200_000, decisions: 'R' },
              ]),
            ),
          resolveMany: async (ids: readonly string[]) => new Map(ids.map((id) => [id, id])),
        },
        appliedBeforeMerge: async (records) => records.map(() => false),
      },
    });
    await handler(
      {
        topic: 'web-behavior.v1',
        partition: 0,
        highWatermark: '9',
        records: [web('1', 'A', null), web('2', null, 'x')],
      },
      ctx,
    );
    expect(checks).toEqual([['A'], ['C']]);
    expect(scheduled).toEqual(['A']);
    expect(signals.map((s) => s.key)).toEqual(['A']);
  });
});

describe('aggregator handler without identity (IDENTITY_ROUTING=off)', () => {
  it('skips anonymous web events and applies named events to the customer they name, without the graph', async () => {
    const applyCalls: Array<Array<[string, string[]]>> = [];
    const handler = createAggregatorHandler({
      serde,
      aggregates: {
        applyBatch: async (items: CustomerBatch[]) => {
          applyCalls.push(items.map((it) => [it.customerId, it.events.map((e) => e.offset)]));
          return new Map(items.map((it) => [it.customerId, { ...none, applied: it.events.length }]));
        },
      } as never,
      tierState: {
        schedule: async () => undefined,
        setAttributes: async () => undefined,
        advanceWatermarks: async () => undefined,
        // The identities watermark is never read without identity.
        readWatermarks: async () => {
          throw new Error('read the identities watermark');
        },
        getPartitionMeta: async () => ({}),
      } as unknown as TierStateStore,
      producer: { send: async () => undefined, sendMany: async () => undefined, disconnect: async () => undefined },
      ...handlerSettings,
    });
    await handler(
      {
        topic: 'web-behavior.v1',
        partition: 0,
        highWatermark: '9',
        records: [web('1', 'A', null), web('2', null, 'x'), web('3', 'A', 'x')],
      },
      ctx,
    );
    expect(applyCalls).toEqual([[['A', ['1', '3']]]]);
  });
});
