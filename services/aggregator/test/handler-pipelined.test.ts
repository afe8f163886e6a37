import type { ApplyResult, CustomerBatch } from '@tierstream/aggregates';
import type { WebBehaviorEvent } from '@tierstream/contracts';
import type { BatchFinish, ConsumedRecord } from '@tierstream/kafka';
import type { TierStateStore } from '@tierstream/tierstate';
import { describe, expect, it } from 'vitest';
import { createAggregatorHandler } from '../src/handler';
import { ctx, handlerSettings, jsonRecord, jsonSerde, NOW } from './support';

const web = (offset: string, customer: string): ConsumedRecord => {
  const e: WebBehaviorEvent = {
    event_id: `w${offset}`,
    customer_id: customer,
    anonymous_id: null,
    type: 'PAGE_VIEW',
    url: null,
    content_id: null,
    occurred_at: NOW - 3_600_000 + Number(offset),
  };
  return jsonRecord('web-behavior.v1', 2, offset, e);
};
const serde = jsonSerde('io.tierstream.WebBehaviorEvent');

/** A step that logs its start and end and resolves when the test releases it. */
function gatedSteps() {
  const log: string[] = [];
  const gates = new Map<string, () => void>();
  const step = (name: string) => {
    log.push(`${name} start`);
    return new Promise<void>((resolve) =>
      gates.set(name, () => {
        log.push(`${name} end`);
        resolve();
      }),
    );
  };
  const release = async (name: string) => {
    for (let i = 0; i < 50 && !gates.has(name); i++) await new Promise((r) => setImmediate(r));
    gates.get(name)!();
    gates.delete(name);
    await new Promise((r) => setImmediate(r));
  };
  return { log, step, release };
}

describe('aggregator handler, pipelined', () => {
  it('returns once decoded; apply applies (the suppression check beside it); finish schedules and stores attributes, then signals and moves the watermark together; suppressed customers are applied by the script only', async () => {
    const { log, step, release } = gatedSteps();
    const applied: string[][] = [];
    const aggregates = {
      applyBatch: async (items: CustomerBatch[]) => {
        applied.push(items.map((it) => it.customerId));
        await step('apply');
        return new Map<string, ApplyResult>(
          items.map((it) => [
            it.customerId,
            { applied: it.events.length, firstEventAt: 0, lastEventAt: 0, refundExcess: 0, expiredReversals: 0 },
          ]),
        );
      },
    };
    const scheduled: string[] = [];
    const signalled: string[] = [];
    const marks: number[] = [];
    const handler = createAggregatorHandler({
      serde,
      aggregates: aggregates as never,
      tierState: {
        schedule: async (items: Array<{ customerId: string }>) => {
          scheduled.push(...items.map((i) => i.customerId));
          await step('schedule');
        },
        setAttributes: () => step('attributes'),
        advanceWatermarks: async (m: Array<{ at: number }>) => {
          marks.push(...m.map((x) => x.at));
          await step('watermark');
        },
        getPartitionMeta: async () => ({}),
      } as unknown as TierStateStore,
      producer: {
        send: async (_t, records) => {
          signalled.push(...records.map((r) => String(r.key)));
          await step('signal');
        },
        sendMany: async () => undefined,
        disconnect: async () => undefined,
      },
      ...handlerSettings,
      // The check runs beside the apply (the script drops an erased customer's events itself).
      suppressed: async (ids) => {
        await step('suppressed');
        return new Set(ids.filter((id) => id === 'E'));
      },
      pipelined: true,
    });
    const result = (await handler(
      {
        topic: 'web-behavior.v1',
        partition: 2,
        highWatermark: '9',
        records: [web('1', 'A'), web('2', 'E'), web('3', 'B')],
      },
      ctx,
    )) as BatchFinish | undefined;
    // Returned once decoded: nothing applied yet (the runner calls apply after the previous batch's).
    expect(applied).toEqual([]);
    expect(log).toEqual([]);
    expect(result?.apply).toBeTypeOf('function');
    const applying = result!.apply!();
    await release('apply');
    await release('suppressed');
    await applying;
    // Applied: nothing scheduled, signalled or moved yet.
    expect(applied).toEqual([['A', 'E', 'B']]);
    expect(log).toEqual(['apply start', 'suppressed start', 'apply end', 'suppressed end']);
    expect(result?.finish).toBeTypeOf('function');
    const finished = result!.finish();
    await new Promise((r) => setImmediate(r));
    // Schedule and attributes together; nothing else until both are done.
    expect(log.slice(4)).toEqual(['schedule start', 'attributes start']);
    await release('schedule');
    expect(log.slice(6)).toEqual(['schedule end']);
    await release('attributes');
    // Then the signals and the watermark together.
    expect(log.slice(7)).toEqual(['attributes end', 'signal start', 'watermark start']);
    await release('signal');
    await release('watermark');
    await finished;
    expect(scheduled.sort()).toEqual(['A', 'B']);
    expect(signalled.sort()).toEqual(['A', 'B']);
    expect(marks).toEqual([NOW - 3_600_000 + 3]);
  });
});
