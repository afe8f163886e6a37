import type { IdentityEvent, InputEvent, OrderEvent } from '@tierstream/contracts';
import { describe, expect, it } from 'vitest';
import { DEFAULT_AGGREGATE_CONFIG } from '../src/config';
import { attributeEvents, buildIdentityGraph, oracleIdentityMetrics, rootOf } from '../src/identity-oracle';
import { oracleMetrics } from '../src/oracle';

const DAY = 86_400_000;
const D = 20_000;
const at = (day: number, hour = 12) => day * DAY + hour * 3_600_000;
const cfg = DEFAULT_AGGREGATE_CONFIG;
const R = 30 * DAY; // anonymous retention horizon
const opts = { dedupeHorizonMs: 48 * 3_600_000, anonRetentionMs: R };

let n = 0;
const placed = (
  customer: string,
  orderId: string,
  day: number,
  amount: number,
  o: Partial<OrderEvent> = {},
): InputEvent => ({
  kind: 'order',
  event: {
    event_id: `o${n++}`,
    customer_id: customer,
    order_id: orderId,
    type: 'PLACED',
    amount_minor: amount,
    currency: 'USD',
    margin_minor: null,
    channel: null,
    items: null,
    occurred_at: at(day),
    original_placed_at: null,
    attributes: null,
    ...o,
  },
});
const web = (who: { customer?: string; anon?: string }, day: number, id = `w${n++}`): InputEvent => ({
  kind: 'web',
  event: {
    event_id: id,
    customer_id: who.customer ?? null,
    anonymous_id: who.anon ?? null,
    type: 'ADD_TO_CART',
    url: null,
    content_id: null,
    occurred_at: at(day),
  },
});
const alias = (anon: string, customer: string, day: number, id = `i${n++}`): IdentityEvent => ({
  event_id: id,
  type: 'ALIAS',
  customer_id: customer,
  anonymous_id: anon,
  merged_customer_id: null,
  source: null,
  occurred_at: at(day),
});
const merge = (a: string, b: string, day: number, id = `m${n++}`): IdentityEvent => ({
  event_id: id,
  type: 'MERGE',
  customer_id: b,
  anonymous_id: null,
  merged_customer_id: a,
  source: null,
  occurred_at: at(day),
});

describe('identity oracle: alias', () => {
  it('folds the anonymous events of the horizon before the alias and every later one into the customer, once', () => {
    const inputs = [
      web({ anon: 'x' }, D - 45), // more than R before the alias: not folded
      web({ anon: 'x' }, D - 20),
      web({ anon: 'x' }, D - 10),
      web({ customer: 'C' }, D - 5),
      web({ anon: 'x' }, D - 1), // after the alias
      web({ anon: 'y' }, D - 1), // never aliased: counts for nobody
    ];
    const ids = [alias('x', 'C', D - 12)];
    const m = oracleIdentityMetrics(inputs, ids, at(D, 23), cfg, opts);
    expect([...m.keys()]).toEqual(['C']);
    expect(m.get('C')!.web_add_to_cart_90d).toBe(4);
    expect(m.get('C')!.web_add_to_cart_30d).toBe(4);
    // The same count whatever the arrival order of inputs (the alias is a fact, not a moment of processing).
    const reversed = oracleIdentityMetrics([...inputs].reverse(), ids, at(D, 23), cfg, opts);
    expect(reversed.get('C')).toEqual(m.get('C'));
    // A copy of an anonymous event (same event_id) counts once.
    const copy = web({ anon: 'x' }, D - 10, inputs[2]!.event.event_id);
    expect(oracleIdentityMetrics([...inputs, copy], ids, at(D, 23), cfg, opts).get('C')).toEqual(m.get('C'));
  });

  it('keeps the first alias of an anonymous id: a second one to another customer is ALIAS_CONFLICT', () => {
    const g = buildIdentityGraph([alias('x', 'C', D), alias('x', 'C', D + 1), alias('x', 'E', D + 2)]);
    expect(g.outcomes.map((o) => o.outcome.kind)).toEqual(['aliased', 'duplicate', 'rejected']);
    expect(g.outcomes[2]!.outcome).toEqual({ kind: 'rejected', reason: 'ALIAS_CONFLICT' });
    expect(attributeEvents([web({ anon: 'x' }, D)], g, R).get('C')).toHaveLength(1);
  });
});

describe('identity oracle: merge', () => {
  it("folds A into B: A's orders and web count for B, an order both ids reported counts once, A disappears", () => {
    const inputs = [
      placed('A', 'o-1', D - 3, 1000),
      placed('A', 'shared', D - 2, 500),
      placed('B', 'shared', D - 2, 500), // the same order reported under both ids
      placed('B', 'o-2', D - 1, 2000),
      web({ customer: 'A' }, D - 1),
      placed('A', 'o-3', D, 300), // after the merge: routed to B
    ];
    const m = oracleIdentityMetrics(inputs, [merge('A', 'B', D - 1)], at(D, 23), cfg, opts);
    expect([...m.keys()]).toEqual(['B']);
    const b = m.get('B')!;
    expect(b.orders_lifetime).toBe(4);
    expect(b.revenue_lifetime).toBe(3800);
    expect(b.web_add_to_cart_30d).toBe(1);
    expect(b.first_order_at).toBe(at(D - 3));
    // Equal to the batch computation over the union with one copy of the shared order.
    const union = inputs
      .filter((_, i) => i !== 2)
      .map((e) => ({ ...e, event: { ...e.event, customer_id: 'B' } }) as InputEvent);
    expect(b).toEqual(oracleMetrics(union, at(D, 23), cfg, opts.dedupeHorizonMs));
  });

  it('follows chains in either order, and decides cycles, second merges and self-merges by topic order', () => {
    const chain1 = buildIdentityGraph([merge('A', 'B', D), merge('B', 'C', D + 1)]);
    const chain2 = buildIdentityGraph([merge('B', 'C', D + 1), merge('A', 'B', D)]);
    for (const g of [chain1, chain2]) expect(['A', 'B', 'C'].map((id) => rootOf(g, id))).toEqual(['C', 'C', 'C']);
    expect(chain2.outcomes[1]!.outcome).toEqual({ kind: 'merged', merged: 'A', into: 'C' });

    const g = buildIdentityGraph([
      merge('A', 'B', D, g0id),
      merge('B', 'A', D + 1), // B's root would become A's root, which is B
      merge('A', 'C', D + 2), // A is already B
      merge('A', 'B', D + 3, 'other-id'), // says again what is known
      merge('C', 'C', D + 4),
      merge('A', 'B', D + 5, g0id), // a copy of the first event (same id): skipped
    ]);
    expect(g.outcomes.map((o) => (o.outcome.kind === 'rejected' ? o.outcome.reason : o.outcome.kind))).toEqual([
      'merged',
      'MERGE_CYCLE',
      'ALREADY_MERGED',
      'duplicate',
      'SELF_MERGE',
    ]);
    expect(buildIdentityGraph([merge('A', 'B', D)], (id) => id === 'B').outcomes[0]!.outcome).toEqual({
      kind: 'rejected',
      reason: 'ERASED_ID',
    });
  });

  it('is commutative for merges of different ids and an alias to a merged customer', () => {
    const inputs = [
      placed('A', 'o-1', D - 3, 1000),
      placed('B', 'o-2', D - 2, 700),
      placed('C', 'o-3', D - 1, 300),
      web({ anon: 'x' }, D - 1),
    ];
    const events = [merge('A', 'B', D), merge('C', 'B', D), alias('x', 'A', D)];
    const expected = oracleIdentityMetrics(inputs, events, at(D, 23), cfg, opts);
    expect(expected.get('B')!.orders_lifetime).toBe(3);
    expect(expected.get('B')!.web_add_to_cart_30d).toBe(1);
    for (const order of [
      [2, 1, 0],
      [1, 2, 0],
      [0, 2, 1],
    ]) {
      expect(
        oracleIdentityMetrics(
          inputs,
          order.map((i) => events[i]!),
          at(D, 23),
          cfg,
          opts,
        ),
      ).toEqual(expected);
    }
  });
});

const g0id = 'first-merge';
