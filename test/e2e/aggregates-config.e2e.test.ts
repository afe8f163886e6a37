import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AggregateStore, DEFAULT_AGGREGATE_CONFIG, metricsAt } from '@tierstream/aggregates';
import {
  Clients,
  deleteRedisKeys,
  loadCliConfig,
  type ServiceProcess,
  startService,
  stopService,
} from '@tierstream/cli';
import { type CustomerSignal, loadSchemas, TOPICS } from '@tierstream/contracts';
import { dayOf, TierStateStore } from '@tierstream/tierstate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tierctl, web } from '../support/journeys';

/**
 * AGGREGATES_CONFIG_FILE applies everywhere metrics are computed: the aggregator (already), the tier engine and
 * tierctl. Engagement weights are read-side (the aggregates count web events per type), so a weight the engine
 * ignored would change nothing it decides. Two page views yesterday score about 2 with the default weight 1, about
 * 30 with weight 15: above the rules' engagement threshold (engagement_score >= 20 → value_potential QUESTION_MARK
 * for a customer with no orders; DOG below it).
 */
describe('AGGREGATES_CONFIG_FILE in the tier engine and tierctl', () => {
  const run = `aggcfg${process.pid}`;
  const prefix = run;
  const customer = `${run}-c1`;
  const topics = {
    SIGNALS_TOPIC: `${run}.signals`,
    TRANSITIONS_TOPIC: `${run}.transitions`,
    CHANGES_TOPIC: `${run}.changes`,
    SNAPSHOTS_TOPIC: `${run}.snapshots`,
  };
  const clients = new Clients(loadCliConfig({ ...process.env, CONFIG_FILE: '', REDIS_PREFIX: prefix }));
  let tmp = '';
  let weightsFile = '';
  let engine: ServiceProcess | null = null;
  const logs: string[] = [];

  beforeAll(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'tierstream-aggcfg-'));
    weightsFile = path.join(tmp, 'aggregates.yaml');
    writeFileSync(weightsFile, 'weights:\n  PAGE_VIEW: 15\n');
    // The engine's own topics (one signal partition), the output ones registered with their contracts.
    const admin = await clients.admin();
    // The engine also waits at start for its signals' dead-letter topic.
    await admin.createTopics({
      topics: [...Object.values(topics), `${topics.SIGNALS_TOPIC}.dlq`].map((topic) => ({
        topic,
        numPartitions: 1,
        replicationFactor: 1,
      })),
      waitForLeaders: true,
    });
    const schemas = loadSchemas();
    await clients.serde.register(topics.TRANSITIONS_TOPIC, schemas[TOPICS.transitions].text);
    await clients.serde.register(topics.CHANGES_TOPIC, schemas[TOPICS.changes].text);
    await clients.serde.register(topics.SNAPSHOTS_TOPIC, schemas[TOPICS.snapshots].text);
    // Aggregates as the aggregator stores them: two page views yesterday.
    const store = new AggregateStore(clients.redis, { prefix, config: DEFAULT_AGGREGATE_CONFIG });
    await store.init();
    const yesterday = dayOf(Date.now()) - 1;
    await store.applyBatch([
      {
        customerId: customer,
        events: [web(customer, yesterday, 'PAGE_VIEW'), web(customer, yesterday, 'PAGE_VIEW', 5)].map((event, i) => ({
          event,
          topic: TOPICS.web,
          partition: 0,
          offset: String(i + 1),
        })),
      },
    ]);
  });

  afterAll(async () => {
    if (engine) await stopService(engine);
    await deleteRedisKeys(clients).catch(() => undefined);
    const admin = await clients.admin();
    await admin
      .deleteTopics({ topics: [...Object.values(topics), `${topics.SIGNALS_TOPIC}.dlq`] })
      .catch(() => undefined);
    await admin.deleteGroups([`${run}-engine`]).catch(() => undefined);
    await clients.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('tierctl customer --json computes the metrics with the configured weights', async () => {
    const env = { CONFIG_FILE: '', REDIS_PREFIX: prefix, AGGREGATES_CONFIG_FILE: '' };
    const plain = await tierctl(['customer', customer, '--json'], { env });
    expect(plain.code, plain.stderr).toBe(0);
    const configured = await tierctl(['customer', customer, '--json'], {
      env: { ...env, AGGREGATES_CONFIG_FILE: weightsFile },
    });
    expect(configured.code, configured.stderr).toBe(0);
    const before = (JSON.parse(plain.stdout) as { metrics: Record<string, number> }).metrics;
    const after = (JSON.parse(configured.stdout) as { metrics: Record<string, number> }).metrics;
    expect(before.engagement_score).toBeGreaterThan(1);
    expect(before.engagement_score).toBeLessThan(2.01);
    // The score is linear in the weights: 15 times the default's.
    expect(after.engagement_score).toBeCloseTo(15 * before.engagement_score!, 4);
    // An unreadable file is a configuration error naming the setting (exit 2).
    const bad = await tierctl(['customer', customer, '--json'], {
      env: { ...env, AGGREGATES_CONFIG_FILE: path.join(tmp, 'missing.yaml') },
    });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^tierctl: invalid configuration: AGGREGATES_CONFIG_FILE: cannot read /);
  });

  it('the tier engine evaluates with the configured weights', async () => {
    engine = startService(
      'tier-engine',
      {
        ...topics,
        CONFIG_FILE: '',
        REDIS_PREFIX: prefix,
        AGGREGATES_CONFIG_FILE: weightsFile,
        ENGINE_GROUP_ID: `${run}-engine`,
        CLOCK_MODE: 'live',
        HTTP_PORT: '0',
        LOG_LEVEL: 'warn',
      },
      (_name, line) => logs.push(line),
    );
    const signal: CustomerSignal = {
      customer_id: customer,
      first_event_at: Date.now() - 86_400_000,
      last_event_at: Date.now() - 86_400_000,
      applied: 2,
      sources: [TOPICS.web],
      emitted_at: Date.now(),
    };
    // Encoded with the contract topic's schema id (the engine decodes by the id in the record).
    const value = await clients.serde.encode(TOPICS.signals, signal);
    const producer = await clients.producer();
    const tierState = new TierStateStore(clients.redis, prefix);
    const deadline = Date.now() + 90_000;
    let tiers: Record<string, string> | undefined;
    while (Date.now() < deadline && tiers === undefined) {
      // Re-sent until evaluated: the engine may join its group after the first send (it reads from the start, and an
      // evaluation of the same customer again is idempotent).
      if (tiers === undefined)
        await producer.sendMany([{ topic: topics.SIGNALS_TOPIC, records: [{ key: customer, value }] }]);
      await new Promise((r) => setTimeout(r, 2_000));
      tiers = (await tierState.readStates([customer])).get(customer)?.tiers;
      if (engine.child.exitCode !== null) throw new Error(`tier engine exited: ${logs.join('\n')}`);
    }
    expect(tiers, logs.join('\n')).toBeDefined();
    // With the default weights the same aggregates score below 20: DOG.
    const state = await new AggregateStore(clients.redis, { prefix, config: DEFAULT_AGGREGATE_CONFIG }).readState(
      customer,
    );
    expect(metricsAt(state!, Date.now(), DEFAULT_AGGREGATE_CONFIG).engagement_score).toBeLessThan(20);
    expect(tiers!.value_potential).toBe('QUESTION_MARK');
    expect(tiers!.lifecycle).toBe('PROSPECT');
  });
});
