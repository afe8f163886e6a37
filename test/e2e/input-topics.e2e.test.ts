import { AggregateStore, DEFAULT_AGGREGATE_CONFIG, metricsAt } from '@tierstream/aggregates';
import {
  Clients,
  deleteRedisKeys,
  feedEvents,
  loadCliConfig,
  type ServiceProcess,
  startService,
  stopService,
} from '@tierstream/cli';
import { loadSchemas, TOPICS } from '@tierstream/contracts';
import { dayOf } from '@tierstream/tierstate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { placed, readTopic, tierctl, waitForGroupLag } from '../support/journeys';

/**
 * Input topic names are settings (ORDERS_TOPIC, WEB_BEHAVIOR_TOPIC, TICKETS_TOPIC) with the contracts unchanged: an
 * existing stream under another name is consumed as the contract of its kind once its records are the contract's
 * Avro (registered under `<topic>-value`); its dead letters go to `<topic>.dlq`. tierctl registers, feeds and shows
 * lag under the configured names.
 */
describe('configurable input topic names', () => {
  const run = `intopics${process.pid}`;
  const ordersTopic = `${run}.shop-orders`;
  const signalsTopic = `${run}.signals`;
  const group = `${run}-aggregator`;
  const settings = {
    CONFIG_FILE: '',
    REDIS_PREFIX: run,
    ORDERS_TOPIC: ordersTopic,
    SIGNALS_TOPIC: signalsTopic,
    AGGREGATOR_GROUP_ID: group,
  };
  const clients = new Clients(loadCliConfig({ ...process.env, ...settings }));
  let aggregator: ServiceProcess | null = null;
  const logs: string[] = [];

  beforeAll(async () => {
    const admin = await clients.admin();
    await admin.createTopics({
      topics: [ordersTopic, `${ordersTopic}.dlq`, signalsTopic].map((topic) => ({
        topic,
        numPartitions: topic === signalsTopic ? 1 : 2,
        replicationFactor: 1,
      })),
      waitForLeaders: true,
    });
  });

  afterAll(async () => {
    if (aggregator) await stopService(aggregator);
    await deleteRedisKeys(clients).catch(() => undefined);
    const admin = await clients.admin();
    await admin.deleteTopics({ topics: [ordersTopic, `${ordersTopic}.dlq`, signalsTopic] }).catch(() => undefined);
    await admin.deleteGroups([group]).catch(() => undefined);
    await clients.close();
  });

  it('refuses at start (exit 2, naming the setting) a topic that is no configured input topic', async () => {
    const start = async (env: Record<string, string>) => {
      const lines: string[] = [];
      const svc = startService('aggregator', { ...settings, HTTP_PORT: '0', ...env }, (_n, line) => lines.push(line));
      const code = await svc.exited;
      return { code, out: lines.join('\n') };
    };
    // orders.v1 is no input topic once ORDERS_TOPIC names another.
    const renamed = await start({ AGGREGATOR_TOPICS: 'orders.v1' });
    expect(renamed.code).toBe(2);
    expect(renamed.out).toMatch(
      new RegExp(
        `^aggregator: invalid configuration: AGGREGATOR_TOPICS: orders\\.v1 is not an input topic \\(ORDERS_TOPIC=${ordersTopic.replace(/\./g, '\\.')}, `,
      ),
    );
    const unknown = await start({ AGGREGATOR_TOPICS: `${ordersTopic},clicks` });
    expect(unknown.code).toBe(2);
    expect(unknown.out).toContain('AGGREGATOR_TOPICS: clicks is not an input topic');
    const twice = await start({ TICKETS_TOPIC: ordersTopic });
    expect(twice.code).toBe(2);
    expect(twice.out).toContain(`TICKETS_TOPIC: ${ordersTopic} is already ORDERS_TOPIC`);
  });

  it('the aggregator consumes a renamed orders topic as the order contract; tierctl uses the configured names', async () => {
    // tierctl registers the order contract under the configured topic's subject too.
    const registered = await tierctl(['schemas', 'register', '--json'], { env: settings });
    expect(registered.code, registered.stderr).toBe(0);
    expect(Object.keys(JSON.parse(registered.stdout) as object)).toContain(`${ordersTopic}-value`);
    await clients.serde.register(signalsTopic, loadSchemas()[TOPICS.signals].text);

    aggregator = startService(
      'aggregator',
      { ...settings, AGGREGATOR_TOPICS: ordersTopic, HTTP_PORT: '0', LOG_LEVEL: 'warn' },
      (_n, line) => logs.push(line),
    );
    const today = dayOf(Date.now());
    const customer = `${run}-c1`;
    const producer = await clients.producer();
    const fed = await feedEvents(
      producer,
      clients.serde,
      [placed(customer, today - 3, 1_500), placed(customer, today - 1, 2_500)],
      { topics: clients.inputTopicNames },
    );
    expect(fed.byTopic).toEqual({ [ordersTopic]: 2 });
    // A record that is not the contract: dead-lettered to <topic>.dlq.
    await producer.sendMany([{ topic: ordersTopic, records: [{ key: customer, value: Buffer.from('not avro') }] }]);
    await waitForGroupLag(clients, group, [ordersTopic], {
      timeoutMs: 90_000,
      isAlive: () => (aggregator?.child.exitCode == null ? null : `aggregator exited: ${logs.join('\n')}`),
    });

    const store = new AggregateStore(clients.redis, { prefix: run, config: DEFAULT_AGGREGATE_CONFIG });
    await store.init();
    const state = await store.readState(customer);
    expect(state, logs.join('\n')).not.toBeNull();
    const m = metricsAt(state!, Date.now(), DEFAULT_AGGREGATE_CONFIG);
    expect(m.orders_lifetime).toBe(2);
    expect(m.revenue_lifetime).toBe(4_000);
    // Signals went to the configured signals topic.
    const signals = await readTopic(clients, signalsTopic);
    expect(signals.map((s) => s.key)).toContain(customer);
    const dead = await readTopic(clients, `${ordersTopic}.dlq`);
    expect(dead).toHaveLength(1);
    expect(dead[0]!.value?.toString()).toBe('not avro');

    // tierctl status: lag of the configured group on the configured topic, and its dead-letter topic.
    const status = await tierctl(['status', '--json'], { env: settings });
    const parsed = JSON.parse(status.stdout) as {
      lag: Array<{ group: string; topic: string; partition: number; lag: number }>;
      dlq: Record<string, number>;
    };
    const ordersLag = parsed.lag.filter((l) => l.group === group && l.topic === ordersTopic);
    expect(ordersLag.length).toBeGreaterThan(0);
    expect(ordersLag.every((l) => l.lag === 0 && Number.isInteger(l.partition))).toBe(true);
    expect(parsed.dlq[`${ordersTopic}.dlq`]).toBe(1);
  });
});
