import type { ApplyResult, CustomerBatch, HoldResult } from '@tierstream/aggregates';
import type { OrderEvent } from '@tierstream/contracts';
import type { ConsumedRecord } from '@tierstream/kafka';
import type { TierStateStore } from '@tierstream/tierstate';
import { describe, expect, it } from 'vitest';
import { createAggregatorHandler } from '../src/handler';
import { ctx, handlerSettings, jsonRecord, jsonSerde, NOW, none } from './support';

const order = (offset: string, customer: string, region: string): ConsumedRecord => {
  const e: OrderEvent = {
    event_id: `o${offset}`,
    customer_id: customer,
    order_id: `order-${offset}`,
    type: 'PLACED',
    amount_minor: 100,
    currency: 'USD',
    margin_minor: null,
    channel: null,
    items: null,
    occurred_at: NOW - 3_600_000,
    original_placed_at: null,
    refund_id: null,
    attributes: { industry: null, company_size: null, region },
  };
  return jsonRecord('orders.v1', 0, offset, e);
};
const serde = jsonSerde('io.tierstream.OrderEvent');

/**
 * A is taken as a root (routed without a lookup: not in MergedIds) but was merged into B meanwhile (by another
 * deployment's identity processing): the apply script answers MOVED and the records go to B.
 */
function handlerWithMergedA(suppressedIds: Set<string>) {
  let merged = false;
  const attributes: Array<{ customerId: string; attributes: Record<string, string | number> }> = [];
  const scheduled: string[] = [];
  const signalled: string[] = [];
  const handler = createAggregatorHandler({
    serde,
    aggregates: {
      applyBatch: async (items: CustomerBatch[]) => {
        const out = new Map<string, ApplyResult>();
        for (const it of items) {
          const moved = it.customerId === 'A' && !merged;
          if (moved) merged = true;
          out.set(it.customerId, moved ? { ...none, moved: true } : { ...none, applied: it.events.length });
        }
        return out;
      },
    } as never,
    tierState: {
      schedule: async (items: Array<{ customerId: string }>) => {
        scheduled.push(...items.map((i) => i.customerId));
      },
      setAttributes: async (items: Array<{ customerId: string; attributes: Record<string, string | number> }>) => {
        attributes.push(...items);
      },
      advanceWatermarks: async () => undefined,
      readWatermarks: async () => new Map([['identities.v1:0', NOW - 86_400_000]]),
      getPartitionMeta: async () => ({}),
    } as unknown as TierStateStore,
    producer: {
      send: async (_t, records) => {
        signalled.push(...records.map((r) => String(r.key)));
      },
      sendMany: async () => undefined,
      disconnect: async () => undefined,
    },
    ...handlerSettings,
    suppressed: async (ids) => new Set(ids.filter((id) => suppressedIds.has(id))),
    identity: {
      anonRetentionMs: 30 * 86_400_000,
      watermarkKey: 'identities.v1:0',
      identity: {
        hold: async () => new Map<string, HoldResult>(),
        resolveMany: async (ids: readonly string[]) => new Map(ids.map((id) => [id, id === 'A' && merged ? 'B' : id])),
      },
      appliedBeforeMerge: async (records) => records.map(() => false),
    },
  });
  return { handler, attributes, scheduled, signalled };
}

describe('aggregator handler: records of a customer merged before the write (MOVED)', () => {
  it('stores the attributes of the moved records on the survivor, in delivery order, not on the merged customer', async () => {
    const { handler, attributes, scheduled, signalled } = handlerWithMergedA(new Set());
    await handler(
      {
        topic: 'orders.v1',
        partition: 0,
        highWatermark: '9',
        records: [order('1', 'B', 'north'), order('2', 'A', 'south')],
      },
      ctx,
    );
    // B's own record and A's moved to it: one item, scheduled and signalled once.
    expect(scheduled).toEqual(['B']);
    expect(signalled).toEqual(['B']);
    // B's latest order (offset 2, named A) says south; nothing is written for A (merged: it has no attributes now).
    expect(attributes).toEqual([{ customerId: 'B', attributes: { region: 'south' } }]);
  });

  it('does not schedule, signal or give attributes to a suppressed (erased) survivor', async () => {
    const { handler, attributes, scheduled, signalled } = handlerWithMergedA(new Set(['B']));
    await handler({ topic: 'orders.v1', partition: 0, highWatermark: '9', records: [order('2', 'A', 'south')] }, ctx);
    expect(scheduled).toEqual([]);
    expect(signalled).toEqual([]);
    expect(attributes).toEqual([]);
  });
});
