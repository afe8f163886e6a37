import type { IdentityApplied } from '@tierstream/aggregates';
import type { IdentityEvent } from '@tierstream/contracts';
import type { BatchContext, ConsumedRecord, OutgoingRecord } from '@tierstream/kafka';
import { dayOf, endOfDay } from '@tierstream/tierstate';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { createIdentityHandler } from '../src/identity-handler';

const NOW = Date.UTC(2026, 5, 1, 12);
const DAY = 86_400_000;
const event = (o: Partial<IdentityEvent> & Pick<IdentityEvent, 'event_id' | 'type'>): IdentityEvent => ({
  customer_id: 'B',
  anonymous_id: null,
  merged_customer_id: null,
  source: null,
  occurred_at: NOW - DAY,
  ...o,
});
const rec = (e: unknown, offset: string): ConsumedRecord =>
  ({
    topic: 'identities.v1',
    partition: 0,
    offset,
    key: null,
    value: Buffer.from(JSON.stringify(e)),
    headers: {},
  }) as unknown as ConsumedRecord;

describe('identity handler', () => {
  it('dead-letters refusals, runs the folds in order, schedules and signals the customers, moves the watermark', async () => {
    const calls: string[] = [];
    const outcomes: Record<string, IdentityApplied> = {
      m1: { outcome: { kind: 'merged', merged: 'A', into: 'B' }, redo: false },
      m2: { outcome: { kind: 'rejected', reason: 'ALREADY_MERGED' }, redo: false },
      a1: {
        outcome: { kind: 'aliased', anonymousId: 'x', customerId: 'A' },
        redo: false,
        held: [{ eventId: 'w1', occurredAt: NOW - 3 * DAY, type: 'PAGE_VIEW' }],
      },
    };
    const scheduled: Array<{ customerId: string; dueAt: number }> = [];
    const signals: OutgoingRecord[] = [];
    const marks: Array<{ topic: string; at: number }> = [];
    const dead: string[] = [];
    const handler = createIdentityHandler({
      serde: {
        decode: async (b: Buffer) => ({
          schemaId: 1,
          schemaName: 'io.tierstream.IdentityEvent',
          value: JSON.parse(b.toString()),
        }),
        encodeIfCached: () => undefined,
        encode: async (_t: string, v: unknown) => Buffer.from(JSON.stringify(v)),
      } as never,
      identity: {
        applyMany: async (events: readonly IdentityEvent[]) => events.map((e) => outcomes[e.event_id]!),
        resolveMany: async (ids: readonly string[]) => new Map(ids.map((id) => [id, id === 'A' ? 'B' : id])),
      },
      folds: {
        alias: async (c, anon, held, src) => void calls.push(`alias ${anon}@${src.offset} → ${c} (${held.length})`),
        merge: async (a, b, id) => void calls.push(`merge ${id}: ${a} → ${b}`),
      },
      tierState: {
        schedule: async (items) => void scheduled.push(...items),
        advanceWatermarks: async (m) => void marks.push(...m),
      },
      producer: { send: async (_t: string, r: OutgoingRecord[]) => void signals.push(...r) } as never,
      signalsTopic: 'customer-signals.v1',
      signalPartitions: 3,
      validation: { maxFutureSkewMs: 3_600_000 },
      logger: pino({ level: 'silent' }),
      now: () => NOW,
    });
    const ctx = {
      deadLetter: (_r: ConsumedRecord, reason: string) => void dead.push(reason),
      heartbeat: async () => undefined,
      isStale: () => false,
    } as BatchContext;
    const records = [
      rec(event({ event_id: 'm1', type: 'MERGE', merged_customer_id: 'A' }), '1'),
      rec(event({ event_id: 'm0', type: 'MERGE', merged_customer_id: 'B' }), '2'),
      rec(event({ event_id: 'm2', type: 'MERGE', merged_customer_id: 'A', customer_id: 'C' }), '3'),
      rec(event({ event_id: 'a1', type: 'ALIAS', customer_id: 'A', anonymous_id: 'x', occurred_at: NOW }), '4'),
    ];
    await handler({ topic: 'identities.v1', partition: 0, records } as never, ctx);
    expect(dead).toEqual(['SELF_MERGE', 'ALREADY_MERGED']);
    // The alias names A, merged into B by then: the held events go to B.
    expect(calls).toEqual(['merge m1: A → B', 'alias x@4 → B (1)']);
    expect(scheduled.map((s) => [s.customerId, s.dueAt]).sort()).toEqual([
      ['A', endOfDay(dayOf(NOW - DAY))],
      ['B', endOfDay(dayOf(NOW - 3 * DAY))],
    ]);
    expect(signals.map((s) => s.key).sort()).toEqual(['A', 'B']);
    expect(marks).toEqual([{ topic: 'identities.v1', partition: 0, at: NOW }]);
  });

  it('applies the batch with one applyMany call and looks up the roots of all folds at once', async () => {
    const calls: string[] = [];
    const outcomes: Record<string, IdentityApplied> = {
      a1: {
        outcome: { kind: 'aliased', anonymousId: 'x', customerId: 'A' },
        redo: false,
        held: [{ eventId: 'w1', occurredAt: NOW - 3 * DAY, type: 'PAGE_VIEW' }],
      },
      a2: { outcome: { kind: 'aliased', anonymousId: 'y', customerId: 'C' }, redo: false, held: [] },
      a3: {
        outcome: { kind: 'aliased', anonymousId: 'z', customerId: 'D' },
        redo: true,
        held: [{ eventId: 'w2', occurredAt: NOW - 2 * DAY, type: 'PAGE_VIEW' }],
      },
    };
    const handler = createIdentityHandler({
      serde: {
        decode: async (b: Buffer) => ({
          schemaId: 1,
          schemaName: 'io.tierstream.IdentityEvent',
          value: JSON.parse(b.toString()),
        }),
        encodeIfCached: () => undefined,
        encode: async (_t: string, v: unknown) => Buffer.from(JSON.stringify(v)),
      } as never,
      identity: {
        applyMany: async (events: readonly IdentityEvent[]) => {
          calls.push(`applyMany ${events.map((e) => e.event_id).join(',')}`);
          return events.map((e) => outcomes[e.event_id]!);
        },
        resolveMany: async (ids: readonly string[]) => {
          calls.push(`roots ${ids.join(',')}`);
          return new Map(ids.map((id) => [id, id === 'A' ? 'B' : id]));
        },
      },
      folds: {
        alias: async (c, anon, held, src) => void calls.push(`alias ${anon}@${src.offset} → ${c} (${held.length})`),
        merge: async () => undefined,
      },
      tierState: { schedule: async () => undefined, advanceWatermarks: async () => undefined },
      producer: { send: async () => undefined } as never,
      signalsTopic: 'customer-signals.v1',
      signalPartitions: 3,
      validation: { maxFutureSkewMs: 3_600_000 },
      logger: pino({ level: 'silent' }),
      now: () => NOW,
    });
    const ctx = { deadLetter: () => undefined, heartbeat: async () => undefined, isStale: () => false } as never;
    const alias = (id: string, anon: string, customer: string, offset: string) =>
      rec(event({ event_id: id, type: 'ALIAS', customer_id: customer, anonymous_id: anon, occurred_at: NOW }), offset);
    await handler(
      {
        topic: 'identities.v1',
        partition: 0,
        records: [alias('a1', 'x', 'A', '1'), alias('a2', 'y', 'C', '2'), alias('a3', 'z', 'D', '3')],
      } as never,
      ctx,
    );
    // An alias with nothing held folds nothing (no root needed).
    expect(calls).toEqual(['applyMany a1,a2,a3', 'roots A,D', 'alias x@1 → B (1)', 'alias z@3 → D (1)']);
  });

  it('runs alias folds of distinct customers together; one of a customer already folding, or a merge, waits', async () => {
    const calls: string[] = [];
    const held = [{ eventId: 'w', occurredAt: NOW - DAY, type: 'PAGE_VIEW' as const }];
    const aliased = (anon: string, customer: string): IdentityApplied => ({
      outcome: { kind: 'aliased', anonymousId: anon, customerId: customer },
      redo: false,
      held,
    });
    const outcomes: Record<string, IdentityApplied> = {
      a1: aliased('x', 'A'),
      a2: aliased('y', 'C'),
      a3: aliased('z', 'A'),
      m1: { outcome: { kind: 'merged', merged: 'D', into: 'C' }, redo: false },
      a4: aliased('v', 'E'),
    };
    const handler = createIdentityHandler({
      serde: {
        decode: async (b: Buffer) => ({
          schemaId: 1,
          schemaName: 'io.tierstream.IdentityEvent',
          value: JSON.parse(b.toString()),
        }),
        encodeIfCached: () => undefined,
        encode: async (_t: string, v: unknown) => Buffer.from(JSON.stringify(v)),
      } as never,
      identity: {
        applyMany: async (events: readonly IdentityEvent[]) => events.map((e) => outcomes[e.event_id]!),
        resolveMany: async (ids: readonly string[]) => new Map(ids.map((id) => [id, id])),
      },
      folds: {
        alias: async (_c, anon) => {
          calls.push(`start ${anon}`);
          await new Promise((r) => setTimeout(r, 5));
          calls.push(`end ${anon}`);
        },
        merge: async (_a, _b, id) => void calls.push(`merge ${id}`),
      },
      tierState: { schedule: async () => undefined, advanceWatermarks: async () => undefined },
      producer: { send: async () => undefined } as never,
      signalsTopic: 'customer-signals.v1',
      signalPartitions: 3,
      validation: { maxFutureSkewMs: 3_600_000 },
      logger: pino({ level: 'silent' }),
      now: () => NOW,
    });
    const ctx = { deadLetter: () => undefined, heartbeat: async () => undefined, isStale: () => false } as never;
    const alias = (id: string, anon: string, customer: string, offset: string) =>
      rec(event({ event_id: id, type: 'ALIAS', customer_id: customer, anonymous_id: anon, occurred_at: NOW }), offset);
    const records = [
      alias('a1', 'x', 'A', '1'),
      alias('a2', 'y', 'C', '2'),
      alias('a3', 'z', 'A', '3'),
      rec(event({ event_id: 'm1', type: 'MERGE', customer_id: 'C', merged_customer_id: 'D', occurred_at: NOW }), '4'),
      alias('a4', 'v', 'E', '5'),
    ];
    await handler({ topic: 'identities.v1', partition: 0, records } as never, ctx);
    expect(calls).toEqual(['start x', 'start y', 'end x', 'end y', 'start z', 'end z', 'merge m1', 'start v', 'end v']);
  });
});
