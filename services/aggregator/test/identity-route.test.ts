import type { InputEvent } from '@tierstream/contracts';
import { describe, expect, it } from 'vitest';
import { KnownRoots, rerouteMoved, routeByIdentity } from '../src/steps/identity-route';

const web = (offset: string, customer: string | null, anon: string | null) => ({
  event: {
    kind: 'web',
    event: {
      event_id: `w${offset}`,
      customer_id: customer,
      anonymous_id: anon,
      type: 'PAGE_VIEW',
      url: null,
      content_id: null,
      occurred_at: 1_000,
    },
  } as InputEvent,
  topic: 'web-behavior.v1',
  partition: 0,
  offset,
});

describe('routeByIdentity', () => {
  it('groups events by the root of their customer, anonymous ones of aliased ids included, in offset order', async () => {
    const records = [web('9', 'A', null), web('10', 'B', null), web('12', 'C', null)];
    const anonymous = [web('11', null, 'x'), web('8', null, 'y')];
    const r = await routeByIdentity(records, anonymous, 5_000, {
      anonRetentionMs: 100_000,
      identity: {
        hold: async (items) =>
          new Map(
            items.map((it) => [
              it.anonymousId,
              it.anonymousId === 'x'
                ? { customerId: 'A', aliasAt: 2_000, decisions: 'R' }
                : { customerId: null, aliasAt: null, decisions: 'H' },
            ]),
          ),
        // A was merged into B.
        resolveMany: async (ids) => new Map(ids.map((id) => [id, id === 'A' ? 'B' : id])),
      },
      // A's own aggregates had applied offset 9 before the merge (a redelivery now): not applied to B again.
      appliedBeforeMerge: async (records) => records.map((r) => r.customerId === 'A' && r.offset === '9'),
    });
    expect([...r.byCustomer].map(([c, list]) => [c, list.map((x) => x.offset)])).toEqual([
      ['B', ['10', '11']],
      ['C', ['12']],
    ]);
    expect(r.anonymous).toMatchObject({ held: 1 });
  });

  it('routes the records of customers merged meanwhile to their roots now, in offset order, minus those applied before', async () => {
    const moved = new Map([
      ['A', [web('12', 'A', null), web('9', 'A', null)]],
      ['D', [web('10', null, 'x')]],
    ]);
    const r = await rerouteMoved(moved, {
      identity: { resolveMany: async (ids) => new Map(ids.map((id) => [id, id === 'A' ? 'B' : 'B'])) },
      // A's own aggregates applied offset 9 before its merge: folded into B already.
      appliedBeforeMerge: async (records) => records.map((x) => x.customerId === 'A' && x.offset === '9'),
    });
    expect([...r].map(([c, list]) => [c, list.map((x) => x.offset)])).toEqual([['B', ['10', '12']]]);
  });

  it('looks up only ids not known to be roots, and forgets an id the apply script found merged', async () => {
    const lookedUp: string[][] = [];
    let merged = false;
    const deps = {
      anonRetentionMs: 100_000,
      identity: {
        hold: async () => new Map(),
        resolveMany: async (ids: readonly string[]) => {
          lookedUp.push([...ids]);
          return new Map(ids.map((id) => [id, id === 'A' && merged ? 'B' : id]));
        },
      },
      appliedBeforeMerge: async (records: readonly unknown[]) => records.map(() => false),
    };
    const known = new KnownRoots();
    await routeByIdentity([web('1', 'A', null), web('2', 'C', null)], [], 5_000, deps, known);
    // A and C are roots: the next batch routes them without a lookup; D is new.
    const second = await routeByIdentity([web('3', 'A', null), web('4', 'D', null)], [], 5_000, deps, known);
    expect(lookedUp).toEqual([['A', 'C'], ['D']]);
    expect([...second.byCustomer.keys()]).toEqual(['A', 'D']);
    // A is merged into B meanwhile: the apply script answers moved, rerouteMoved sends A's records to B and forgets A.
    merged = true;
    const r = await rerouteMoved(new Map([['A', [web('3', 'A', null)]]]), deps, new Map(), known);
    expect([...r.keys()]).toEqual(['B']);
    expect(known.has('A')).toBe(false);
    const third = await routeByIdentity([web('5', 'A', null)], [], 5_000, deps, known);
    expect(lookedUp.at(-1)).toEqual(['A']);
    expect([...third.byCustomer.keys()]).toEqual(['B']);
    expect(third.via.get([...third.byCustomer.values()][0]![0]!)).toBe('A');
  });

  it('KnownRoots forgets the oldest quarter when full', () => {
    const known = new KnownRoots(8);
    for (let i = 0; i < 9; i++) known.add(`c${i}`);
    expect(known.size).toBe(7);
    expect(['c0', 'c1', 'c2', 'c3'].map((id) => known.has(id))).toEqual([false, false, true, true]);
    expect(known.has('c8')).toBe(true);
  });
});
