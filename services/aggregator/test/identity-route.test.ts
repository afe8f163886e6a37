import type { InputEvent } from '@tierstream/contracts';
import { describe, expect, it } from 'vitest';
import { forApply, MergedIds, rerouteMoved, routeByIdentity } from '../src/steps/identity-route';

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
  it('gives the named records at once, per id, and the anonymous ones of aliased ids once the hold answers, tagged by their anonymous id', async () => {
    const records = [web('9', 'A', null), web('10', 'B', null), web('12', 'A', null)];
    const anonymous = [web('11', null, 'x'), web('8', null, 'y'), web('7', null, 'x')];
    let answer: (() => void) | undefined;
    const r = routeByIdentity(records, anonymous, 5_000, {
      anonRetentionMs: 100_000,
      identity: {
        // The hold answers only when the test says so: the named records are given before.
        hold: (items) =>
          new Promise((resolve) => {
            answer = () =>
              resolve(
                new Map(
                  items.map((it) => [
                    it.anonymousId,
                    it.anonymousId === 'x'
                      ? { customerId: 'A', aliasAt: 2_000, decisions: 'RR' }
                      : { customerId: null, aliasAt: null, decisions: 'H' },
                  ]),
                ),
              );
          }),
        resolveMany: async () => {
          throw new Error('no lookup before the apply');
        },
      },
      appliedBeforeMerge: async () => {
        throw new Error('no id is known merged');
      },
    });
    expect([...r.now].map(([c, list]) => [c, list.map((x) => x.offset)])).toEqual([
      ['A', ['9', '12']],
      ['B', ['10']],
    ]);
    expect(answer).toBeDefined();
    answer!();
    const later = await r.later;
    expect([...later.byCustomer].map(([c, list]) => [c, list.map((x) => x.offset)])).toEqual([['A', ['7', '11']]]);
    expect(later.anonymous).toMatchObject({ held: 1 });
    // Applied with a partition of their own (A's own records of partition 0 may pass them first).
    const routed = later.byCustomer.get('A')!;
    expect(routed.map((x) => r.via.get(x))).toEqual(['anon:x', 'anon:x']);
    expect(forApply(routed[0]!, r.via.get(routed[0]!)).partition).toMatch(/^0\/[0-9a-f]{12}$/);
    expect(forApply(routed[0]!, r.via.get(routed[0]!)).partition).not.toBe(forApply(routed[0]!, 'A').partition);
  });

  it('routes the records of ids known merged to their roots, minus those applied before the merge, without a lookup', async () => {
    const merged = new MergedIds();
    merged.set('A', 'B');
    merged.set('B', 'D');
    const checked: Array<[string, string, string]> = [];
    const r = routeByIdentity(
      [web('9', 'A', null), web('10', 'C', null), web('12', 'A', null)],
      [],
      5_000,
      {
        anonRetentionMs: 100_000,
        identity: {
          hold: async () => new Map(),
          resolveMany: async () => {
            throw new Error('no lookup');
          },
        },
        // A's own aggregates had applied offset 9 before the merge (a redelivery now): not applied to D again.
        appliedBeforeMerge: async (records) =>
          records.map((x) => {
            checked.push([x.customerId, String(x.partition), x.offset]);
            return x.customerId === 'A' && x.offset === '9';
          }),
      },
      merged,
    );
    expect([...r.now.keys()]).toEqual(['C']);
    const later = await r.later;
    expect([...later.byCustomer].map(([c, list]) => [c, list.map((x) => x.offset)])).toEqual([['D', ['12']]]);
    expect(checked).toEqual([
      ['A', '0', '9'],
      ['A', '0', '12'],
    ]);
    expect(r.via.get(later.byCustomer.get('D')![0]!)).toBe('A');
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

  it('checks a moved record on the partition it was applied with there: tagged when routed from another id', async () => {
    const fromX = web('10', null, 'x');
    const own = web('11', 'C', null);
    const via = new Map([[fromX, 'anon:x']]);
    const seen: string[] = [];
    await rerouteMoved(
      new Map([['C', [fromX, own]]]),
      {
        identity: { resolveMany: async (ids) => new Map(ids.map((id) => [id, 'D'])) },
        appliedBeforeMerge: async (records) =>
          records.map((x) => {
            seen.push(String(x.partition));
            return false;
          }),
      },
      via,
    );
    // X's record was applied to C (before C's merge) with X's tag: C's mark of that tag says whether it was.
    expect(seen).toEqual([forApply(fromX, 'anon:x').partition, '0']);
    expect(via.get(fromX)).toBe('anon:x');
    expect(via.get(own)).toBe('C');
  });

  it('remembers ids the apply script found merged: their next records go to the root without a MOVED round', async () => {
    const merged = new MergedIds();
    const deps = {
      anonRetentionMs: 100_000,
      identity: {
        hold: async () => new Map(),
        resolveMany: async (ids: readonly string[]) => new Map(ids.map((id) => [id, id === 'A' ? 'B' : id])),
      },
      appliedBeforeMerge: async (records: readonly unknown[]) => records.map(() => false),
    };
    const first = routeByIdentity([web('1', 'A', null), web('2', 'C', null)], [], 5_000, deps, merged);
    expect([...first.now.keys()]).toEqual(['A', 'C']);
    // A was merged into B: the apply script answers moved, rerouteMoved sends A's records to B and remembers A.
    const r = await rerouteMoved(new Map([['A', first.now.get('A')!]]), deps, first.via, merged);
    expect([...r.keys()]).toEqual(['B']);
    const second = routeByIdentity([web('3', 'A', null), web('4', 'C', null)], [], 5_000, deps, merged);
    expect([...second.now.keys()]).toEqual(['C']);
    const later = await second.later;
    expect([...later.byCustomer.keys()]).toEqual(['B']);
    expect(second.via.get(later.byCustomer.get('B')![0]!)).toBe('A');
  });

  it('MergedIds follows known links, forgets an id set to itself, and the oldest quarter when full', () => {
    const merged = new MergedIds(8);
    merged.set('a', 'b');
    merged.set('b', 'c');
    expect(merged.rootOf('a')).toBe('c');
    expect(merged.rootOf('c')).toBeUndefined();
    merged.set('b', 'b');
    expect(merged.rootOf('a')).toBe('b');
    for (let i = 0; i < 8; i++) merged.set(`m${i}`, 'r');
    expect(merged.size).toBe(7);
    expect(merged.rootOf('a')).toBeUndefined();
    expect(merged.rootOf('m7')).toBe('r');
  });
});
