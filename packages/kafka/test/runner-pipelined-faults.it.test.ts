import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { createKafka as createTestKafka, createTopics, testEndpoints, uniqueName } from '../../../test/support/stack';
import { ConsumerRunner, createKafka, createProducer } from '../src/index';

async function waitUntil(what: string, probe: () => Promise<boolean>, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** mulberry32 */
function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('ConsumerRunner, pipelined apply and finish under random failures and delays', () => {
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

  /** A topic of `batches` record batches of 3 (offsets 0, 3, 6, ...), a runner fetching one batch at a time. */
  async function start(batches: number, handler: ConstructorParameters<typeof ConsumerRunner>[0]['handler']) {
    const topic = uniqueName('runner_faults');
    const groupId = uniqueName('runner_faults_group');
    topics.push(topic);
    await admin.connect();
    await createTopics(admin, [topic], 1);
    await producerClient.connect();
    for (let b = 0; b < batches; b++)
      await producerClient.send({
        topic,
        messages: Array.from({ length: 3 }, (_, i) => ({ key: `k${b * 3 + i}`, value: `v${b * 3 + i}` })),
      });
    const kafka = createKafka({ brokers: testEndpoints().kafkaBrokers, clientId: 'runner-faults-test' });
    const runner = new ConsumerRunner({
      kafka,
      groupId,
      topics: [topic],
      producer: await createProducer(kafka),
      logger: pino({ level: 'silent' }),
      service: 'runner-faults-test',
      maxBytesPerPartition: 100,
      handler,
    });
    runners.push(runner);
    await runner.start();
    const committed = async () =>
      Number((await admin.fetchOffsets({ groupId, topics: [topic] }))[0]!.partitions[0]!.offset);
    return { runner, committed };
  }

  it('applies each batch only after every earlier one was applied, finishes it only after its own apply and every earlier finish, and commits only finished batches', async () => {
    const BATCHES = 24;
    // RUNNER_FAULTS_SEED=<n> explores other schedules of failures and delays.
    const random = rng(Number(process.env.RUNNER_FAULTS_SEED ?? 20261130));
    const applied = new Set<number>();
    const finished = new Set<number>();
    const violations: string[] = [];
    const attempts = new Map<number, number>();
    let failures = 0;
    const { committed } = await start(BATCHES, async (batch) => {
      const first = Number(batch.records[0]!.offset);
      const b = first / 3;
      const attempt = (attempts.get(b) ?? 0) + 1;
      attempts.set(b, attempt);
      // Failures only on the first two attempts of a batch: the run ends.
      const failApply = attempt <= 2 && random() < 0.15;
      const failFinish = attempt <= 2 && random() < 0.15;
      const applyMs = Math.floor(random() * 40);
      const finishMs = Math.floor(random() * 40);
      let appliedNow = false;
      return {
        apply: async () => {
          for (let e = 0; e < b; e++)
            if (!applied.has(e)) violations.push(`apply ${b} started before batch ${e} was ever applied`);
          await sleep(applyMs);
          if (failApply) {
            failures++;
            throw new Error(`apply ${b} failed`);
          }
          applied.add(b);
          appliedNow = true;
        },
        finish: async () => {
          if (!appliedNow) violations.push(`finish ${b} (attempt ${attempt}) started without its own apply`);
          for (let e = 0; e < b; e++)
            if (!finished.has(e)) violations.push(`finish ${b} started before batch ${e} was ever finished`);
          await sleep(finishMs);
          if (failFinish) {
            failures++;
            throw new Error(`finish ${b} failed`);
          }
          finished.add(b);
        },
      };
    });
    await waitUntil('every batch committed', async () => {
      const c = await committed();
      // Every batch below the committed offset was finished (effects done) when the commit was seen.
      for (let e = 0; e * 3 < c; e++)
        if (!finished.has(e)) violations.push(`committed ${c} before batch ${e} finished`);
      return c === BATCHES * 3;
    });
    expect(violations).toEqual([]);
    expect(failures).toBeGreaterThan(3);
    expect([...finished].sort((x, y) => x - y)).toEqual(Array.from({ length: BATCHES }, (_, i) => i));
  });

  it('stop() waits for the queued apply and finish of the last batches and commits them', async () => {
    let open: () => void = () => undefined;
    const opened = new Promise<void>((resolve) => {
      open = resolve;
    });
    const done: string[] = [];
    const { runner, committed } = await start(2, async (batch) => {
      const first = batch.records[0]!.offset;
      return {
        apply: async () => {
          if (first === '3') await opened;
          done.push(`apply ${first}`);
        },
        finish: async () => {
          done.push(`finish ${first}`);
        },
      };
    });
    await waitUntil('the first batch committed', async () => (await committed()) === 3);
    await sleep(300);
    // The second batch's apply is held: stop must wait for it.
    let stopped = false;
    const stopping = runner.stop().then(() => {
      stopped = true;
    });
    await sleep(500);
    expect(stopped).toBe(false);
    open();
    await stopping;
    expect(done).toEqual(['apply 0', 'finish 0', 'apply 3', 'finish 3']);
    expect(await committed()).toBe(6);
  });
  it("a member whose partition was revoked while a batch's apply was held does not finish (or commit) it after: the new owner does", async () => {
    const topic = uniqueName('runner_revoked');
    const groupId = uniqueName('runner_revoked_group');
    topics.push(topic);
    await admin.connect();
    await createTopics(admin, [topic], 1);
    await producerClient.connect();
    const send = (b: number) =>
      producerClient.send({
        topic,
        messages: Array.from({ length: 3 }, (_, i) => ({ key: `k${b * 3 + i}`, value: `v${b * 3 + i}` })),
      });
    await send(0);
    const committed = async () =>
      Number((await admin.fetchOffsets({ groupId, topics: [topic] }))[0]!.partitions[0]!.offset);
    let open: () => void = () => undefined;
    const opened = new Promise<void>((resolve) => {
      open = resolve;
    });
    const log: string[] = [];
    const member = (name: string, clientId: string, hold: boolean) => {
      const kafka = createKafka({ brokers: testEndpoints().kafkaBrokers, clientId });
      return createProducer(kafka).then((producer) => {
        const runner = new ConsumerRunner({
          kafka,
          groupId,
          topics: [topic],
          producer,
          logger: pino({ level: 'silent' }),
          service: 'runner-faults-test',
          maxBytesPerPartition: 100,
          handler: async (batch) => {
            const first = batch.records[0]!.offset;
            log.push(`${name} handler ${first}`);
            return {
              apply: async () => {
                if (hold) await opened;
                log.push(`${name} apply ${first}`);
              },
              finish: async () => {
                log.push(`${name} finish ${first}`);
              },
            };
          },
        });
        runners.push(runner);
        return runner;
      });
    };
    // The round-robin assignor gives the only partition to the member whose id sorts first: "a-…" once it joins.
    const first = await member('old', 'z-runner-revoked', true);
    await first.start();
    await waitUntil('the old member holding the apply of batch 0', async () => log.includes('old handler 0'));
    const second = await member('new', 'a-runner-revoked', false);
    await second.start();
    await waitUntil('the new member committing batch 0', async () => (await committed()) === 3);
    await send(1);
    await waitUntil('the new member committing batch 1', async () => (await committed()) === 6);
    open();
    await waitUntil('the old member done applying batch 0', async () => log.includes('old apply 0'));
    await sleep(1_000);
    // The old member's held apply ran to its end (idempotent), but not its finish (a late write, e.g. attributes, would
    // land over the new owner's) nor its commit of 3.
    expect(await committed()).toBe(6);
    expect(log.indexOf('new finish 0')).toBeGreaterThanOrEqual(0);
    expect(log.indexOf('new finish 0')).toBeLessThan(log.indexOf('old apply 0'));
    expect(log.filter((l) => l.startsWith('old '))).toEqual(['old handler 0', 'old apply 0']);
  });
});
