import type { WebBehaviorEvent } from '@tierstream/contracts';
import type { ConsumedRecord } from '@tierstream/kafka';
import type { TierStateStore } from '@tierstream/tierstate';
import { afterEach, describe, expect, it } from 'vitest';
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

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('aggregator handler: the anonymous events hold fails while the apply reads the engine partitions', () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => {
    unhandled.push(reason);
  };
  afterEach(() => {
    process.off('unhandledRejection', onUnhandled);
  });

  it('the apply rejects with the hold error (the runner rewinds), and no rejection is left unhandled (a crash of the process)', async () => {
    process.on('unhandledRejection', onUnhandled);
    const handler = createAggregatorHandler({
      serde: jsonSerde('io.tierstream.WebBehaviorEvent'),
      aggregates: {
        applyBatch: async (items: Array<{ customerId: string }>) => new Map(items.map((it) => [it.customerId, none])),
      } as never,
      tierState: {
        schedule: async () => undefined,
        setAttributes: async () => undefined,
        advanceWatermarks: async () => undefined,
        readWatermarks: async () => new Map([['identities.v1:0', NOW - 86_400_000]]),
        // The engine partitions' metadata (read at most once a second) answers after the hold failed, as a Redis
        // reply arriving in a later read of the socket does.
        getPartitionMeta: async () => {
          await sleep(50);
          return {};
        },
      } as unknown as TierStateStore,
      producer: { send: async () => undefined, sendMany: async () => undefined, disconnect: async () => undefined },
      ...handlerSettings,
      identity: {
        anonRetentionMs: 30 * 86_400_000,
        watermarkKey: 'identities.v1:0',
        identity: {
          hold: async () => {
            await sleep(5);
            throw new Error('OOM command not allowed when used memory > maxmemory');
          },
          resolveMany: async (ids: readonly string[]) => new Map(ids.map((id) => [id, id])),
        },
        appliedBeforeMerge: async (records) => records.map(() => false),
      },
      pipelined: true,
    });
    const result = await handler(
      {
        topic: 'web-behavior.v1',
        partition: 0,
        highWatermark: '9',
        records: [web('1', 'A', null), web('2', null, 'x')],
      },
      ctx,
    );
    await expect(result!.apply!()).rejects.toThrow(/OOM/);
    // Node reports an unhandled rejection after the macrotask in which it happened (and then ends the process).
    await sleep(20);
    expect(unhandled).toEqual([]);
  });
});
