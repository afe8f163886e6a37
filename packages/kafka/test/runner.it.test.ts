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

describe('ConsumerRunner with a pipelined handler (BatchFinish)', () => {
  const topic = uniqueName('runner_pipelined');
  const groupId = uniqueName('runner_pipelined_group');
  const admin = createTestKafka().admin();
  const producerClient = createTestKafka().producer();
  let runner: ConsumerRunner | undefined;
  afterAll(async () => {
    await runner?.stop();
    await producerClient.disconnect();
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
  });

  it('hands out the next batch while the previous one finishes, commits finished batches only, and after a failed finish fetches the partition again from that batch', async () => {
    await admin.connect();
    await createTopics(admin, [topic], 1);
    await producerClient.connect();
    // Three record batches of 5 (offsets 0, 5, 10); a fetch of 100 bytes per partition returns one at a time.
    for (let b = 0; b < 3; b++)
      await producerClient.send({
        topic,
        messages: Array.from({ length: 5 }, (_, i) => ({ key: `k${b * 5 + i}`, value: `v${b * 5 + i}` })),
      });
    const committed = async () =>
      Number((await admin.fetchOffsets({ groupId, topics: [topic] }))[0]!.partitions[0]!.offset);
    const heads: string[] = [];
    const finishes: string[] = [];
    let releaseFirst: (ok: boolean) => void = () => undefined;
    const firstFinish = new Promise<boolean>((resolve) => {
      releaseFirst = resolve;
    });
    const kafka = createKafka({ brokers: testEndpoints().kafkaBrokers, clientId: 'runner-test' });
    runner = new ConsumerRunner({
      kafka,
      groupId,
      topics: [topic],
      producer: await createProducer(kafka),
      logger: pino({ level: 'silent' }),
      service: 'runner-test',
      maxBytesPerPartition: 100,
      handler: async (batch) => {
        const first = batch.records[0]!.offset;
        heads.push(first);
        const attempt = heads.filter((h) => h === first).length;
        return {
          finish: async () => {
            finishes.push(first);
            if (first === '0' && attempt === 1 && !(await firstFinish)) throw new Error('signal produce failed');
          },
        };
      },
    });
    await runner.start();
    await waitUntil('the second batch handed out while the first is finishing', async () => heads.includes('5'));
    // One batch ahead at most: the third waits for the first to finish; nothing is committed yet.
    await new Promise((r) => setTimeout(r, 500));
    expect(heads).toEqual(['0', '5']);
    expect(finishes).toEqual(['0']);
    expect(await committed()).toBeLessThan(0);
    releaseFirst(false);
    await waitUntil('every batch finished and committed', async () => (await committed()) === 15);
    // The failed batch and the one behind it came again; the second's first finish never ran.
    expect(heads).toEqual(['0', '5', '0', '5', '10']);
    expect(finishes).toEqual(['0', '0', '5', '10']);
  });
});

describe('ConsumerRunner with a pipelined handler that returns an apply (BatchFinish.apply)', () => {
  const admin = createTestKafka().admin();
  const producerClient = createTestKafka().producer();
  const runners: ConsumerRunner[] = [];
  const topics: string[] = [];
  afterAll(async () => {
    for (const r of runners) await r.stop();
    await producerClient.disconnect();
    await admin.deleteTopics({ topics }).catch(() => undefined);
    await admin.disconnect();
  });

  /** A topic of three record batches of 5 (offsets 0, 5, 10) and a runner fetching one batch at a time. */
  async function start(handler: ConstructorParameters<typeof ConsumerRunner>[0]['handler']) {
    const topic = uniqueName('runner_apply');
    const groupId = uniqueName('runner_apply_group');
    topics.push(topic);
    await admin.connect();
    await createTopics(admin, [topic], 1);
    await producerClient.connect();
    for (let b = 0; b < 3; b++)
      await producerClient.send({
        topic,
        messages: Array.from({ length: 5 }, (_, i) => ({ key: `k${b * 5 + i}`, value: `v${b * 5 + i}` })),
      });
    const kafka = createKafka({ brokers: testEndpoints().kafkaBrokers, clientId: 'runner-test' });
    const runner = new ConsumerRunner({
      kafka,
      groupId,
      topics: [topic],
      producer: await createProducer(kafka),
      logger: pino({ level: 'silent' }),
      service: 'runner-test',
      maxBytesPerPartition: 100,
      handler,
    });
    runners.push(runner);
    await runner.start();
    return async () => Number((await admin.fetchOffsets({ groupId, topics: [topic] }))[0]!.partitions[0]!.offset);
  }
  const gate = () => {
    let open: (ok: boolean) => void = () => undefined;
    const opened = new Promise<boolean>((resolve) => {
      open = resolve;
    });
    return { open, opened };
  };

  it("hands out the next batch while a batch's apply runs, applies in batch order, and finishes after the apply", async () => {
    const steps: string[] = [];
    const firstApply = gate();
    const committed = await start(async (batch) => {
      const first = batch.records[0]!.offset;
      steps.push(`handler ${first}`);
      return {
        apply: async () => {
          steps.push(`apply ${first}`);
          if (first === '0') await firstApply.opened;
          steps.push(`applied ${first}`);
        },
        finish: async () => {
          steps.push(`finish ${first}`);
        },
      };
    });
    await waitUntil('the second batch handed out while the first applies', async () => steps.includes('handler 5'));
    await new Promise((r) => setTimeout(r, 500));
    // The second batch's apply waits for the first's; the third batch waits (one batch ahead at most).
    expect(steps).toEqual(['handler 0', 'apply 0', 'handler 5']);
    expect(await committed()).toBeLessThan(0);
    firstApply.open(true);
    await waitUntil('every batch finished and committed', async () => (await committed()) === 15);
    const order = (s: string) => steps.indexOf(s);
    expect(steps.filter((s) => s.startsWith('apply '))).toEqual(['apply 0', 'apply 5', 'apply 10']);
    expect(steps.filter((s) => s.startsWith('finish '))).toEqual(['finish 0', 'finish 5', 'finish 10']);
    for (const b of ['0', '5', '10']) expect(order(`finish ${b}`)).toBeGreaterThan(order(`applied ${b}`));
    expect(order('apply 5')).toBeGreaterThan(order('applied 0'));
  });

  it('after a failed apply while the previous batch fails to finish, fetches the partition again from the earlier batch', async () => {
    const finishes: string[] = [];
    const applies: string[] = [];
    const firstFinish = gate();
    const attempts = new Map<string, number>();
    const committed = await start(async (batch) => {
      const first = batch.records[0]!.offset;
      const attempt = (attempts.get(first) ?? 0) + 1;
      attempts.set(first, attempt);
      return {
        apply: async () => {
          applies.push(first);
          if (first === '5' && attempt === 1) throw new Error('Redis unreachable');
        },
        finish: async () => {
          finishes.push(first);
          if (first === '0' && attempt === 1 && !(await firstFinish.opened)) throw new Error('signal produce failed');
        },
      };
    });
    await waitUntil('the second batch applied (and failed)', async () => applies.includes('5'));
    await new Promise((r) => setTimeout(r, 300));
    firstFinish.open(false);
    await waitUntil('every batch finished and committed', async () => (await committed()) === 15);
    // Batch 0 failed to finish after batch 5 failed to apply: both come again, from batch 0.
    expect(finishes).toEqual(['0', '0', '5', '10']);
    expect(applies).toEqual(['0', '5', '0', '5', '10']);
  });
});
