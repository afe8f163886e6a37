import type { Admin } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import {
  applyTopics,
  DLQ_TOPICS,
  INPUT_TOPICS,
  loadTopicsSpec,
  parseTopicsSpec,
  TOPICS,
  type TopicsSpec,
} from '../src/index';

const DAY = 86_400_000;

describe('infra/kafka/topics.yaml', () => {
  const spec = loadTopicsSpec();
  const byName = new Map(spec.topics.map((t) => [t.name, t]));

  it('defines every topic of the contracts and the DLQ of each (every one is consumed, so each can dead-letter)', () => {
    for (const topic of Object.values(TOPICS)) expect(byName.has(topic), topic).toBe(true);
    for (const topic of Object.values(TOPICS)) expect(byName.has(`${topic}.dlq`), `${topic}.dlq`).toBe(true);
    expect(DLQ_TOPICS).toEqual(Object.values(TOPICS).map((t) => `${t}.dlq`));
    // Beside them only the dead-letter topics of destinations (customer-tier-destinations.<name>.dlq).
    const destinationDlqs = spec.topics.filter((t) => /^customer-tier-destinations\.[a-z0-9-]+\.dlq$/.test(t.name));
    expect(destinationDlqs.map((t) => t.name)).toContain('customer-tier-destinations.example-webhook.dlq');
    expect(spec.topics).toHaveLength(2 * Object.values(TOPICS).length + destinationDlqs.length);
  });

  it('has the agreed cleanup policies and retention', () => {
    const expectTopic = (name: string, policy: string, days: number) => {
      expect(byName.get(name)?.config).toEqual({ 'cleanup.policy': policy, 'retention.ms': String(days * DAY) });
    };
    for (const t of INPUT_TOPICS) expectTopic(t, 'delete', 7);
    for (const t of DLQ_TOPICS) expectTopic(t, 'delete', 30);
    expectTopic('customer-tier-destinations.example-webhook.dlq', 'delete', 30);
    expectTopic(TOPICS.signals, 'delete', 1);
    expectTopic(TOPICS.transitions, 'delete', 30);
    expectTopic(TOPICS.changes, 'compact,delete', 30);
    expectTopic(TOPICS.identities, 'delete', 30);
    for (const t of spec.topics) {
      // identities.v1: one partition, so the identity graph is applied in one total order (design-decisions §22).
      expect(t.partitions, t.name).toBe(t.name === TOPICS.identities ? 1 : 3);
      expect(t.replicationFactor).toBe(1);
    }
  });
});

describe('parseTopicsSpec', () => {
  it('applies defaults and normalises values to strings', () => {
    const spec = parseTopicsSpec(
      'defaults: { partitions: 2, replication_factor: 1 }\ntopics:\n  - name: a\n    partitions: 4\n    config: { cleanup.policy: "delete,compact", retention.ms: 10, segment.ms: 5 }\n  - name: b\n    config: { cleanup.policy: delete, retention.ms: "-1" }\n',
    );
    expect(spec.topics).toEqual([
      {
        name: 'a',
        partitions: 4,
        replicationFactor: 1,
        config: { 'cleanup.policy': 'compact,delete', 'retention.ms': '10', 'segment.ms': '5' },
      },
      { name: 'b', partitions: 2, replicationFactor: 1, config: { 'cleanup.policy': 'delete', 'retention.ms': '-1' } },
    ]);
  });

  it('rejects bad specs with messages naming the problem', () => {
    expect(() => parseTopicsSpec('topics: []')).toThrow(/topics/);
    expect(() =>
      parseTopicsSpec(
        'topics:\n  - name: "a b"\n    partitions: 1\n    replication_factor: 1\n    config: { cleanup.policy: delete, retention.ms: 1 }',
      ),
    ).toThrow(/letters, digits/);
    expect(() =>
      parseTopicsSpec(
        'topics:\n  - name: a\n    partitions: 0\n    replication_factor: 1\n    config: { cleanup.policy: delete, retention.ms: 1 }',
      ),
    ).toThrow(/partitions/);
    expect(() =>
      parseTopicsSpec(
        'topics:\n  - name: a\n    partitions: 1\n    replication_factor: 1\n    config: { cleanup.policy: shred, retention.ms: 1 }',
      ),
    ).toThrow(/cleanup\.policy/);
    expect(() =>
      parseTopicsSpec(
        'topics:\n  - name: a\n    partitions: 1\n    replication_factor: 1\n    config: { cleanup.policy: delete, retention.ms: 7d }',
      ),
    ).toThrow(/milliseconds/);
    expect(() =>
      parseTopicsSpec('topics:\n  - name: a\n    config: { cleanup.policy: delete, retention.ms: 1 }'),
    ).toThrow(/no partitions/);
    expect(() =>
      parseTopicsSpec(
        'topics:\n  - name: a\n    partitions: 1\n    replication_factor: 1\n    config: { cleanup.policy: delete, retention.ms: 1 }\n  - name: a\n    partitions: 1\n    replication_factor: 1\n    config: { cleanup.policy: delete, retention.ms: 1 }',
      ),
    ).toThrow(/defined twice/);
    expect(() => parseTopicsSpec('topics: [', 'x.yaml')).toThrow(/^x\.yaml: invalid YAML/);
  });
});

/** In-memory stand-in for the few Admin calls applyTopics makes. */
function fakeAdmin(initial: Record<string, { partitions: number; config: Record<string, string> }>) {
  const topics = new Map(Object.entries(structuredClone(initial)));
  const calls: string[] = [];
  const admin = {
    listTopics: async () => [...topics.keys()],
    createTopics: async ({
      topics: ts,
    }: {
      topics: { topic: string; numPartitions: number; configEntries: { name: string; value: string }[] }[];
    }) => {
      calls.push('createTopics');
      for (const t of ts)
        topics.set(t.topic, {
          partitions: t.numPartitions,
          config: Object.fromEntries(t.configEntries.map((e) => [e.name, e.value])),
        });
      return true;
    },
    fetchTopicMetadata: async ({ topics: names }: { topics: string[] }) => ({
      topics: names.map((n) => ({
        name: n,
        partitions: Array.from({ length: topics.get(n)!.partitions }, (_, i) => ({ partitionId: i })),
      })),
    }),
    describeConfigs: async ({ resources }: { resources: { name: string; configNames: string[] }[] }) => ({
      resources: resources.map((r) => ({
        errorCode: 0,
        errorMessage: '',
        resourceName: r.name,
        configEntries: r.configNames.map((c) => ({
          configName: c,
          configValue: topics.get(r.name)!.config[c] ?? 'broker-default',
        })),
      })),
    }),
    createPartitions: async ({ topicPartitions }: { topicPartitions: { topic: string; count: number }[] }) => {
      calls.push('createPartitions');
      for (const p of topicPartitions) topics.get(p.topic)!.partitions = p.count;
      return true;
    },
    alterConfigs: async ({
      resources,
    }: {
      resources: { name: string; configEntries: { name: string; value: string }[] }[];
    }) => {
      calls.push('alterConfigs');
      for (const r of resources)
        topics.get(r.name)!.config = Object.fromEntries(r.configEntries.map((e) => [e.name, e.value]));
    },
    deleteTopics: async () => {
      throw new Error('applyTopics must never delete');
    },
  };
  return { admin: admin as unknown as Admin, topics, calls };
}

describe('applyTopics', () => {
  const spec: TopicsSpec = {
    topics: [
      {
        name: 'new',
        partitions: 3,
        replicationFactor: 1,
        config: { 'cleanup.policy': 'delete', 'retention.ms': '100' },
      },
      {
        name: 'same',
        partitions: 3,
        replicationFactor: 1,
        config: { 'cleanup.policy': 'delete', 'retention.ms': '100' },
      },
      {
        name: 'fewer',
        partitions: 3,
        replicationFactor: 1,
        config: { 'cleanup.policy': 'delete', 'retention.ms': '100' },
      },
      {
        name: 'more',
        partitions: 3,
        replicationFactor: 1,
        config: { 'cleanup.policy': 'delete', 'retention.ms': '100' },
      },
      {
        name: 'drift',
        partitions: 3,
        replicationFactor: 1,
        config: { 'cleanup.policy': 'compact,delete', 'retention.ms': '100' },
      },
    ],
  };

  it('creates missing topics, grows partitions, fixes config drift, keeps the rest, and is idempotent', async () => {
    const ok = { 'cleanup.policy': 'delete', 'retention.ms': '100' };
    const { admin, topics, calls } = fakeAdmin({
      same: { partitions: 3, config: ok },
      fewer: { partitions: 1, config: ok },
      more: { partitions: 6, config: ok },
      drift: { partitions: 3, config: { 'cleanup.policy': 'delete', 'retention.ms': '100' } },
      unrelated: { partitions: 1, config: {} },
    });
    const first = await applyTopics(admin, spec);
    expect(first).toEqual({ created: ['new'], unchanged: ['same', 'more'], updated: ['fewer', 'drift'] });
    expect(topics.get('new')).toEqual({ partitions: 3, config: ok });
    expect(topics.get('fewer')!.partitions).toBe(3);
    expect(topics.get('more')!.partitions).toBe(6);
    expect(topics.get('drift')!.config['cleanup.policy']).toBe('compact,delete');
    expect(topics.has('unrelated')).toBe(true);

    calls.length = 0;
    const second = await applyTopics(admin, spec);
    expect(second).toEqual({ created: [], unchanged: ['new', 'same', 'fewer', 'more', 'drift'], updated: [] });
    expect(calls).toEqual([]);
  });
});
