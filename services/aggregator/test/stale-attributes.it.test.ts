import type { OrderEvent } from '@tierstream/contracts';
import { ConsumerRunner, createKafka, type RecordProducer } from '@tierstream/kafka';
import type { TierStateStore } from '@tierstream/tierstate';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { createKafka as createTestKafka, createTopics, testEndpoints, uniqueName } from '../../../test/support/stack';
import { createAggregatorHandler } from '../src/handler';
import { handlerSettings, jsonSerde, NOW, none } from './support';

/**
 * A member whose partition is revoked while a batch's apply is still running must not finish that batch afterwards:
 * setAttributes is a plain HSET (last writer wins), so a late finish would write the attributes of batch N over those
 * the new owner wrote from batch N+1. The runner skips the apply and finish of batches fetched before the current
 * group generation (the partition's owner fetches them again from the committed offset).
 */
async function waitUntil(what: string, probe: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('aggregator: a revoked member finishing a batch late', () => {
  const admin = createTestKafka().admin();
  const producerClient = createTestKafka().producer();
  const runners: ConsumerRunner[] = [];
  const topic = uniqueName('agg_stale_attrs');
  const groupId = uniqueName('agg_stale_attrs_group');
  afterAll(async () => {
    for (const r of runners) await r.stop();
    await producerClient.disconnect();
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
  });

  it("does not write a batch's attributes over those of a later batch applied by the partition's new owner", async () => {
    await admin.connect();
    await createTopics(admin, [topic], 1);
    await producerClient.connect();
    const order = (n: number, region: string): OrderEvent => ({
      event_id: `e${n}`,
      customer_id: 'C',
      order_id: `o${n}`,
      type: 'PLACED',
      amount_minor: 100,
      currency: 'USD',
      margin_minor: null,
      channel: null,
      items: 1,
      occurred_at: NOW - 3_600_000 + n,
      original_placed_at: null,
      refund_id: null,
      attributes: { industry: null, company_size: null, region },
    });
    const send = (n: number, region: string) =>
      producerClient.send({ topic, messages: [{ key: 'C', value: JSON.stringify(order(n, region)) }] });
    await send(0, 'EU');
    const committed = async () =>
      Number((await admin.fetchOffsets({ groupId, topics: [topic] }))[0]!.partitions[0]!.offset);
    // One store of attributes (Redis HSET: last writer wins).
    const attributes = new Map<string, Record<string, string | number>>();
    let open: () => void = () => undefined;
    const opened = new Promise<void>((resolve) => {
      open = resolve;
    });
    const log: string[] = [];
    const noProducer: RecordProducer = {
      send: async () => undefined,
      sendMany: async () => undefined,
      disconnect: async () => undefined,
    };
    const member = (name: string, clientId: string, hold: boolean) => {
      const handler = createAggregatorHandler({
        serde: jsonSerde('io.tierstream.OrderEvent'),
        aggregates: {
          applyBatch: async (items: Array<{ customerId: string; events: unknown[] }>) => {
            log.push(`${name} apply`);
            if (hold) await opened;
            return new Map(items.map((it) => [it.customerId, { ...none, applied: it.events.length }]));
          },
        } as never,
        tierState: {
          schedule: async () => undefined,
          setAttributes: async (items: Array<{ customerId: string; attributes: Record<string, string | number> }>) => {
            for (const it of items) {
              log.push(`${name} attributes ${JSON.stringify(it.attributes)}`);
              attributes.set(it.customerId, { ...attributes.get(it.customerId), ...it.attributes });
            }
          },
          advanceWatermarks: async () => undefined,
          getPartitionMeta: async () => ({}),
        } as unknown as TierStateStore,
        producer: noProducer,
        ...handlerSettings,
        inputTopics: { 'orders.v1': topic, 'web-behavior.v1': 'unused-web', 'tickets.v1': 'unused-tickets' },
        pipelined: true,
      });
      const runner = new ConsumerRunner({
        kafka: createKafka({ brokers: testEndpoints().kafkaBrokers, clientId }),
        groupId,
        topics: [topic],
        handler,
        producer: noProducer,
        logger: pino({ level: 'silent' }),
        service: 'aggregator-test',
        maxBytesPerPartition: 100,
      });
      runners.push(runner);
      return runner;
    };
    // The only partition goes to the member whose id sorts first ("a-…") once it joins.
    await member('old', 'z-agg-stale', true).start();
    await waitUntil('the old member applying batch 0', async () => log.includes('old apply'));
    await member('new', 'a-agg-stale', false).start();
    await waitUntil('the new member committing batch 0', async () => (await committed()) === 1);
    await send(1, 'US');
    await waitUntil('the new member committing batch 1', async () => (await committed()) === 2);
    expect(attributes.get('C')?.region).toBe('US');
    open();
    await waitUntil(
      'the old member done',
      async () => log.filter((l) => l.startsWith('old attributes')).length > 0,
      5_000,
    ).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 500));
    // The customer's latest order says US.
    expect(attributes.get('C')?.region, log.join('\n')).toBe('US');
  });
});
