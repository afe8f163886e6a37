import type { IdentityApplied } from '@tierstream/aggregates';
import type { IdentityEvent, InputEvent } from '@tierstream/contracts';
import type { ConsumedRecord } from '@tierstream/kafka';
import { describe, expect, it } from 'vitest';
import { routeAnonymous } from '../src/steps/anonymous';
import { applyIdentityRecords } from '../src/steps/identity-events';

const NOW = Date.UTC(2026, 5, 1);
const DAY = 86_400_000;
const rec = (value: unknown): ConsumedRecord =>
  ({
    topic: 'identities.v1',
    partition: 0,
    offset: '1',
    key: null,
    value: value === null ? null : Buffer.from(JSON.stringify(value)),
    headers: {},
  }) as unknown as ConsumedRecord;
const serde = {
  decode: async (buf: Buffer) => ({
    schemaId: 1,
    schemaName: 'io.tierstream.IdentityEvent',
    value: JSON.parse(buf.toString()),
  }),
};
const merge = (a: string, b: string, id: string): IdentityEvent => ({
  event_id: id,
  type: 'MERGE',
  customer_id: b,
  anonymous_id: null,
  merged_customer_id: a,
  source: null,
  occurred_at: NOW - DAY,
});

describe('applyIdentityRecords', () => {
  it('gives a typed result per record: dead letters with their reason, folds to run, duplicates', async () => {
    const outcomes: IdentityApplied[] = [
      { outcome: { kind: 'merged', merged: 'A', into: 'C' }, redo: false },
      { outcome: { kind: 'rejected', reason: 'MERGE_CYCLE' }, redo: false },
      {
        outcome: { kind: 'aliased', anonymousId: 'x', customerId: 'C' },
        redo: true,
        held: [{ eventId: 'w', occurredAt: NOW - 2 * DAY, type: 'PAGE_VIEW' }],
      },
      { outcome: { kind: 'duplicate' }, redo: false },
    ];
    const applied: string[] = [];
    const identity = {
      applyMany: async (events: readonly IdentityEvent[]) =>
        events.map((e) => {
          applied.push(e.event_id);
          return outcomes.shift()!;
        }),
    };
    const alias: IdentityEvent = {
      ...merge('', 'C', 'a1'),
      type: 'ALIAS',
      merged_customer_id: null,
      anonymous_id: 'x',
    };
    const results = await applyIdentityRecords(
      [
        rec(merge('A', 'B', 'm1')),
        rec(merge('A', 'A', 'm0')),
        rec(merge('B', 'A', 'm2')),
        rec(alias),
        rec(null),
        rec(merge('A', 'B', 'm3')),
      ],
      { serde, identity, validation: { now: NOW } },
    );
    // The self-merge and the tombstone never reach the graph.
    expect(applied).toEqual(['m1', 'm2', 'a1', 'm3']);
    expect(results.map((r) => (r.kind === 'dead' ? `dead:${r.reason}` : r.kind))).toEqual([
      'merge',
      'dead:SELF_MERGE',
      'dead:MERGE_CYCLE',
      'alias',
      'dead:UNDECODABLE',
      'duplicate',
    ]);
    expect(results[0]).toMatchObject({ merged: 'A', into: 'C', redo: false });
    expect(results[2]).toMatchObject({
      message: 'MERGE of B into A: A was merged into B before (directly or through a chain)',
    });
    expect(results[3]).toMatchObject({ customerId: 'C', redo: true, held: [{ eventId: 'w' }] });
  });
});

describe('routeAnonymous', () => {
  const web = (anon: string, id: string, at: number) => ({
    event: {
      kind: 'web',
      event: {
        event_id: id,
        customer_id: null,
        anonymous_id: anon,
        type: 'PAGE_VIEW',
        url: null,
        content_id: null,
        occurred_at: at,
      },
    } as InputEvent,
    topic: 'web-behavior.v1',
    partition: 1,
    offset: id,
  });

  it('routes events of aliased ids (not those before the horizon or already folded), counts the rest', async () => {
    let floorSeen = 0;
    const identity = {
      hold: async (items: ReadonlyArray<{ anonymousId: string }>, floor: number) => {
        floorSeen = floor;
        return new Map(
          items.map((it) => [
            it.anonymousId,
            it.anonymousId === 'x'
              ? { customerId: 'C', aliasAt: NOW, decisions: 'RRF' }
              : { customerId: null, aliasAt: null, decisions: 'HOD' },
          ]),
        );
      },
    };
    const records = [
      web('x', '1', NOW - DAY),
      web('y', '2', NOW),
      web('x', '3', NOW - 40 * DAY),
      web('y', '4', NOW),
      web('x', '5', NOW),
      web('y', '6', NOW),
    ];
    const r = await routeAnonymous(records, NOW, { identity, anonRetentionMs: 30 * DAY });
    expect(floorSeen).toBe(NOW - 30 * DAY);
    expect(r.routed).toEqual([{ customerId: 'C', record: records[0] }]);
    expect(r.counts).toEqual({ held: 1, old: 1, dropped: 1, folded: 1, beforeHorizon: 1 });
    await expect(
      routeAnonymous(
        [
          {
            ...records[0]!,
            event: { ...records[0]!.event, event: { ...records[0]!.event.event, customer_id: 'C' } } as InputEvent,
          },
        ],
        NOW,
        { identity, anonRetentionMs: 1 },
      ),
    ).rejects.toThrow(/not an anonymous/);
  });
});
