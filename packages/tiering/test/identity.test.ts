import { describe, expect, it } from 'vitest';
import {
  finalMergedState,
  IDENTITY_DIMENSION,
  identityTransitionId,
  inheritedState,
  mergedTransitions,
  unannouncedMerges,
} from '../src/identity';
import type { TierState } from '../src/types';

const state = (id: string, tiers: Record<string, string>, extra: Partial<TierState> = {}): TierState => ({
  customer_id: id,
  version: 3,
  rules_version: 'r1',
  cutpoints_version: 'cp',
  last_eval_day: 100,
  tiers,
  pending: {},
  decided_by: Object.fromEntries(Object.keys(tiers).map((d) => [d, `rule:${d}`])),
  ...extra,
});
const ctx = (customerId: string) => ({ customerId, at: 1_000, rulesVersion: 'r2', cutpointsVersion: 'cp2', day: 101 });

describe('identity transitions (design-decisions §22)', () => {
  it("A's final state: one MERGED_INTO naming the survivor, identity = MERGED only, and nothing on a second call", () => {
    const a = state('A', { value_tier: 'GOLD', lifecycle: 'ACTIVE' });
    const facts = { mergedInto: { customerId: 'B', mergeId: 'm1' }, merges: [] };
    const r = finalMergedState(ctx('A'), a, facts);
    expect(r.changed).toBe(true);
    expect(r.transitions).toEqual([
      {
        transition_id: identityTransitionId('A', 'MERGED_INTO', 'm1'),
        customer_id: 'A',
        dimension: IDENTITY_DIMENSION,
        from_tier: 'ACTIVE',
        to_tier: 'MERGED',
        direction: 'LATERAL',
        reason: 'MERGED_INTO',
        rule_id: 'merge:m1',
        rules_version: 'r2',
        cutpoints_version: 'cp2',
        metrics: {},
        occurred_at: 1_000,
        related_customer_id: 'B',
      },
    ]);
    expect(r.state).toMatchObject({ version: 4, tiers: { identity: 'MERGED' }, merged_into: 'B', last_eval_day: 101 });
    const again = finalMergedState({ ...ctx('A'), at: 2_000 }, r.state, facts);
    expect(again).toEqual({ state: r.state, transitions: [], changed: false });
  });

  it('a merged customer that absorbed another first announces that merge, then its own end (a chain)', () => {
    const r = finalMergedState(ctx('B'), state('B', { value_tier: 'SILVER' }), {
      mergedInto: { customerId: 'C', mergeId: 'm2' },
      merges: [{ customerId: 'A', mergeId: 'm1' }],
    });
    expect(r.transitions.map((t) => [t.reason, t.related_customer_id])).toEqual([
      ['MERGED', 'A'],
      ['MERGED_INTO', 'C'],
    ]);
    expect(r.state.merges).toEqual(['m1']);
  });

  it('the survivor announces each merge once, with a stable id', () => {
    const facts = {
      mergedInto: null,
      merges: [
        { customerId: 'A', mergeId: 'm1' },
        { customerId: 'D', mergeId: 'm3' },
      ],
    };
    const b = state('B', { value_tier: 'SILVER' }, { merges: ['m1'] });
    const fresh = unannouncedMerges(b, facts);
    expect(fresh).toEqual([{ customerId: 'D', mergeId: 'm3' }]);
    const [t] = mergedTransitions(ctx('B'), fresh);
    expect(t).toMatchObject({ reason: 'MERGED', related_customer_id: 'D', from_tier: 'ACTIVE', to_tier: 'ACTIVE' });
    expect(t!.transition_id).toBe(identityTransitionId('B', 'MERGED', 'm3'));
    expect(mergedTransitions({ ...ctx('B'), at: 5 }, fresh)[0]!.transition_id).toBe(t!.transition_id);
    expect(unannouncedMerges(null, undefined)).toEqual([]);
  });

  it("a survivor without a state starts from the merged customer's tiers (no second ENTER), under its own id", () => {
    const states = new Map([
      ['Z', state('Z', { value_tier: 'BRONZE' })],
      [
        'A',
        finalMergedState(ctx('A'), state('A', { value_tier: 'GOLD' }), {
          mergedInto: { customerId: 'B', mergeId: 'm' },
          merges: [],
        }).state,
      ],
    ]);
    const s = inheritedState('B', [{ customerId: 'Z' }, { customerId: 'A' }], states);
    expect(s).toEqual({
      customer_id: 'B',
      version: 0,
      rules_version: 'r2',
      cutpoints_version: 'cp2',
      last_eval_day: 101,
      tiers: { value_tier: 'GOLD' },
      pending: {},
      decided_by: {},
    });
    expect(inheritedState('B', [{ customerId: 'Q' }], states)).toBeNull();
  });
});
