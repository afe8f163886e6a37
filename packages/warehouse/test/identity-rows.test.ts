import type { IdentityEvent, TierTransition } from '@tierstream/contracts';
import { describe, expect, it } from 'vitest';
import { routeIdentityRecord, toTransitionRow, WarehouseError } from '../src/index';

const T = Date.UTC(2026, 2, 1, 10);
const merge: IdentityEvent = {
  event_id: 'm1',
  type: 'MERGE',
  customer_id: 'B',
  anonymous_id: null,
  merged_customer_id: 'A',
  source: 'crm',
  occurred_at: T,
};

describe('identity rows (migration 0006)', () => {
  it('maps an identity event as received, and as rejected with its reason (a higher rank: it wins under FINAL)', () => {
    expect(routeIdentityRecord(merge, null, 7)).toEqual({
      table: 'identity_events',
      row: {
        event_id: 'm1',
        type: 'MERGE',
        customer_id: 'B',
        anonymous_id: '',
        merged_customer_id: 'A',
        source: 'crm',
        occurred_at: T,
        occurred_day: '2026-03-01',
        status: 'RECEIVED',
        reason: '',
        status_rank: 0,
        written_at: 7,
      },
    });
    const rejected = routeIdentityRecord(merge, { reason: 'MERGE_CYCLE' }, 8).row;
    expect(rejected).toMatchObject({ status: 'REJECTED', reason: 'MERGE_CYCLE', status_rank: 1 });
    expect(() => routeIdentityRecord({ ...merge, event_id: '' }, null, 1)).toThrow(WarehouseError);
  });

  it('keeps the other customer of a merge transition, and leaves the column to its default otherwise', () => {
    const t: TierTransition = {
      transition_id: 'x',
      customer_id: 'A',
      dimension: 'identity',
      from_tier: 'ACTIVE',
      to_tier: 'MERGED',
      direction: 'LATERAL',
      reason: 'MERGED_INTO',
      rule_id: 'merge:m1',
      rules_version: 'r',
      cutpoints_version: 'c',
      metrics: {},
      occurred_at: T,
      evaluated_at: T,
      related_customer_id: 'B',
    };
    expect(toTransitionRow(t).related_customer_id).toBe('B');
    expect('related_customer_id' in toTransitionRow({ ...t, related_customer_id: null })).toBe(false);
  });
});
