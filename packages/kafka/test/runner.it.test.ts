import { createMetrics } from '@tierstream/observability';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { createKafka as createTestKafka, createTopics, testEndpoints, uniqueName } from '../../../test/support/stack';
import { ConsumerRunner, createKafka, createProducer } from '../src/index';

/** Sum of one metric's samples whose labels include every pair of `labels`. */
async function sample(
  metrics: ReturnType<typeof createMetrics>,
  name: string,
  labels: Record<string, string> = {},
): Promise<number | undefined> {
  const values = (await metrics.registry.getSingleMetric(name)?.get())?.values ?? [];
  const hits = values.filter((v) => Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want));
  return hits.length === 0 ? undefined : hits.reduce((s, v) => s + v.value, 0);
}

async function waitUntil(what: string, probe: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('ConsumerRunner metrics while a partition is stuck retrying', () => {
  const topic = uniqueName('runner_retry');
  const groupId = uniqueName('runner_retry_group');
  const admin = createTestKafka().admin();
  const producerClient = createTestKafka().producer();
  let runner: ConsumerRunner | undefined;
  afterAll(async () => {
    await runner?.stop();
    await producerClient.disconnect();
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
  });

  it('counts failures and retries per group and topic, flags the partition, and keeps the lag gauge moving', async () => {
    await admin.connect();
    await createTopics(admin, [topic], 1);
    await producerClient.connect();
    const send = (n: number, from: number) =>
      producerClient.send({
        topic,
        messages: Array.from({ length: n }, (_, i) => ({ key: `k${from + i}`, value: `v${from + i}` })),
      });
    await send(5, 0);
    const metrics = createMetrics('runner-test');
    const kafka = createKafka({ brokers: testEndpoints().kafkaBrokers, clientId: 'runner-test' });
    let failing = true;
    let attempts = 0;
    runner = new ConsumerRunner({
      kafka,
      groupId,
      topics: [topic],
      producer: await createProducer(kafka),
      logger: pino({ level: 'silent' }),
      metrics,
      service: 'runner-test',
      handler: async () => {
        attempts++;
        if (failing) throw new Error('downstream unavailable');
      },
    });
    await runner.start();
    const labels = { group: groupId, topic };
    await waitUntil(
      'two failed attempts',
      async () => ((await sample(metrics, 'tierstream_batch_failures_total', labels)) ?? 0) >= 2,
    );
    expect(await sample(metrics, 'tierstream_batch_retries_total', labels)).toBeGreaterThanOrEqual(1);
    expect(await sample(metrics, 'tierstream_partition_retrying', { ...labels, partition: '0' })).toBe(1);
    // Nothing was processed, yet the lag is known: 5 records behind.
    expect(await sample(metrics, 'tierstream_consumer_lag', { topic, partition: '0' })).toBe(5);
    // More input arrives while the partition is stuck: the gauge follows at the next attempt.
    await send(7, 5);
    await waitUntil(
      'the lag gauge to move to 12',
      async () => (await sample(metrics, 'tierstream_consumer_lag', { topic })) === 12,
    );
    expect(await sample(metrics, 'tierstream_records_in_total', { topic })).toBeUndefined();
    // The dependency is back: the batch goes through, the flag clears and the lag drops to 0.
    failing = false;
    await waitUntil(
      'the partition to catch up',
      async () => (await sample(metrics, 'tierstream_consumer_lag', { topic })) === 0,
    );
    expect(await sample(metrics, 'tierstream_partition_retrying', { ...labels, partition: '0' })).toBe(0);
    expect(await sample(metrics, 'tierstream_records_in_total', { topic })).toBe(12);
    expect(attempts).toBeGreaterThanOrEqual(3);
  });
});

describe('ConsumerRunner per-partition gauges after a rebalance', () => {
  const topic = uniqueName('runner_rebalance');
  const groupId = uniqueName('runner_rebalance_group');
  const admin = createTestKafka().admin();
  const producerClient = createTestKafka().producer();
  const runners: ConsumerRunner[] = [];
  afterAll(async () => {
    for (const r of runners) await r.stop();
    await producerClient.disconnect();
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
  });

  it('keeps lag series only for the partitions the member still owns', async () => {
    await admin.connect();
    await createTopics(admin, [topic], 2);
    await producerClient.connect();
    for (const partition of [0, 1])
      await producerClient.send({ topic, messages: [{ key: `k${partition}`, value: 'v', partition }] });
    const start = async () => {
      const metrics = createMetrics('runner-test');
      const kafka = createKafka({ brokers: testEndpoints().kafkaBrokers, clientId: 'runner-test' });
      const runner = new ConsumerRunner({
        kafka,
        groupId,
        topics: [topic],
        producer: await createProducer(kafka),
        logger: pino({ level: 'silent' }),
        metrics,
        service: 'runner-test',
        sessionTimeoutMs: 10_000,
        handler: async () => undefined,
      });
      runners.push(runner);
      await runner.start();
      return metrics;
    };
    const lagSeries = async (metrics: ReturnType<typeof createMetrics>) =>
      ((await metrics.registry.getSingleMetric('tierstream_consumer_lag')?.get())?.values ?? []).map(
        (v) => v.labels.partition,
      );
    const first = await start();
    await waitUntil('the first member to report both partitions', async () => (await lagSeries(first)).length === 2);
    await start();
    // The second member takes one partition: the first one's gauge of that partition goes away.
    await waitUntil(
      'the first member to drop the revoked partition',
      async () => (await lagSeries(first)).length === 1,
    );
  });
});
