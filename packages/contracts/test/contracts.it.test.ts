import { randomBytes } from 'node:crypto';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { stackEndpoints } from '@tierstream/config';
import kafkajs, { type Admin } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AvroSerde,
  applyTopics,
  type CustomerSignal,
  decodeAndValidate,
  KNOWN_CURRENCIES,
  loadSchemas,
  loadTopicsSpec,
  type OrderEvent,
  SchemaCompatibilityError,
  type TicketEvent,
  type TierChange,
  type TierCutPoints,
  type TierTransition,
  TOPICS,
  type TopicsSpec,
  UndecodableMessageError,
  type WebBehaviorEvent,
} from '../src/index';

const endpoints = stackEndpoints();
const run = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
const subjectOf = (topic: string) => `it-${run}.${topic}-value`;
const NOW = Date.UTC(2026, 5, 30, 12);
const validate = { now: NOW, knownCurrencies: KNOWN_CURRENCIES };

const registry = new SchemaRegistry({ host: endpoints.schemaRegistryUrl });
const serde = new AvroSerde(registry, { registryUrl: endpoints.schemaRegistryUrl, subjectOf });

const order: OrderEvent = {
  event_id: 'E-1',
  customer_id: 'C000001',
  order_id: 'O-1',
  type: 'REFUNDED',
  amount_minor: 4599,
  currency: 'EUR',
  margin_minor: -120,
  channel: 'web',
  items: 3,
  occurred_at: NOW - 1000,
  original_placed_at: NOW - 5 * 86_400_000,
  refund_id: 'RF-1',
  attributes: { industry: 'retail', company_size: 42, region: 'EU' },
};
const web: WebBehaviorEvent = {
  event_id: 'W-1',
  customer_id: null,
  anonymous_id: 'A-1',
  type: 'DEMO_REQUESTED',
  url: '/demo',
  content_id: null,
  occurred_at: NOW - 1000,
};
const ticket: TicketEvent = {
  event_id: 'T-1',
  customer_id: 'C000001',
  ticket_id: 'TK-1',
  type: 'SATISFACTION_RATED',
  category: 'COMPLAINT',
  priority: 'URGENT',
  csat: 2,
  occurred_at: NOW - 1000,
};
const signal: CustomerSignal = {
  customer_id: 'C000001',
  first_event_at: NOW - 5000,
  last_event_at: NOW - 1000,
  applied: 3,
  sources: ['orders.v1', 'tickets.v1'],
  emitted_at: NOW,
};
const transition: TierTransition = {
  transition_id: 'X-1',
  customer_id: 'C000001',
  dimension: 'value_tier',
  from_tier: null,
  to_tier: 'GOLD',
  direction: 'ENTER',
  reason: 'value_tier.gold',
  rule_id: 'value_tier.gold',
  rules_version: 'r1',
  cutpoints_version: 'c1',
  metrics: { monetary_365d: 123.45 },
  occurred_at: NOW,
  evaluated_at: NOW + 5,
  aggregate_config: 'ac-0123456789ab',
  related_customer_id: null,
};
const change: TierChange = {
  customer_id: 'C000001',
  kind: 'SNAPSHOT',
  state_version: 7,
  snapshot_day: '2026-06-30',
  tiers: { value_tier: 'GOLD', lifecycle: 'ACTIVE' },
  metrics: { monetary_365d: 123.45 },
  rules_version: 'r1',
  cutpoints_version: 'c1',
  as_of: NOW,
  emitted_at: NOW + 1,
  basis_day: null,
  aggregate_config: null,
};
const cutPoints: TierCutPoints = {
  version: 'cp-2026-06-30',
  rules_version: 'r1',
  computed_at: NOW,
  measured_day: '2026-06-30',
  population: 1200,
  effective_from: '2026-07-01',
  rules_seq: null,
  cuts: [
    {
      key: 'rfm_segment.r',
      dimension: 'rfm_segment',
      metric: 'recency_days',
      better: 'lower',
      groups: ['5', '4', '3', '2', '1'],
      values: [3, 10, 20, 40.5],
      anchor_day: '2026-06-30',
    },
  ],
  aggregate_config: 'ac-0123456789ab',
  reporting_currency: 'USD',
  fx_rates: { USD: 1, EUR: 1.08 },
  aggregate_config_json: '{}',
  emitted_at: NOW + 2,
};
const SAMPLES: Record<string, unknown> = {
  [TOPICS.orders]: order,
  [TOPICS.web]: web,
  [TOPICS.tickets]: ticket,
  [TOPICS.signals]: signal,
  [TOPICS.transitions]: transition,
  [TOPICS.changes]: change,
  // A point of the metric history (kind METRICS, basis_day set, no tiers).
  [TOPICS.snapshots]: {
    ...change,
    kind: 'METRICS',
    snapshot_day: '2026-07-02',
    basis_day: '2026-06-30',
    tiers: {},
    aggregate_config: 'ac-0123456789ab',
  },
  [TOPICS.cutpoints]: cutPoints,
  [TOPICS.erasureRequests]: {
    request_id: 'req-1',
    customer_id: 'C-1',
    reason: 'test',
    requested_by: null,
    requested_at: NOW,
    suppress: true,
    suppress_days: 30,
  },
  [TOPICS.identities]: {
    event_id: 'I-1',
    type: 'MERGE',
    customer_id: 'C000002',
    anonymous_id: null,
    merged_customer_id: 'C000001',
    source: 'crm-merge',
    occurred_at: NOW - 10,
  },
};

/** Plain JSON view (avsc decodes records into class instances). */
const plain = (v: unknown) => JSON.parse(JSON.stringify(v));

let ids: Record<string, number>;

beforeAll(async () => {
  ids = await serde.registerAll();
});

afterAll(async () => {
  // Best effort: remove this run's subjects so the registry does not fill up with test subjects.
  for (const topic of Object.values(TOPICS)) {
    await fetch(`${serde.registryUrl}/subjects/${encodeURIComponent(subjectOf(topic))}`, { method: 'DELETE' }).catch(
      () => undefined,
    );
  }
});

describe('AvroSerde against the registry', () => {
  it('registers every schema under <topic>-value with compatibility BACKWARD, idempotently', async () => {
    expect(Object.keys(ids).sort()).toEqual(Object.values(TOPICS).map(subjectOf).sort());
    for (const id of Object.values(ids)) expect(id).toBeGreaterThan(0);
    expect(await serde.registerAll()).toEqual(ids);
    for (const subject of Object.keys(ids)) {
      const res = await fetch(`${serde.registryUrl}/config/${encodeURIComponent(subject)}`);
      expect(res.status).toBe(200);
      expect(((await res.json()) as { compatibilityLevel: string }).compatibilityLevel).toBe('BACKWARD');
    }
  });

  for (const topic of Object.values(TOPICS)) {
    it(`round-trips a ${topic} value`, async () => {
      const buf = await serde.encode(topic, SAMPLES[topic]);
      expect(buf[0]).toBe(0);
      expect(buf.readInt32BE(1)).toBe(ids[subjectOf(topic)]);
      const decoded = await serde.decode(buf);
      expect(decoded.schemaId).toBe(ids[subjectOf(topic)]);
      expect(decoded.schemaName).toBe(`io.tierstream.${loadSchemas()[topic].name}`);
      expect(plain(decoded.value)).toEqual(SAMPLES[topic]);
    });
  }

  it('a fresh serde finds the schema id of a topic from the registry (no local registration)', async () => {
    const other = new AvroSerde(new SchemaRegistry({ host: endpoints.schemaRegistryUrl }), {
      registryUrl: endpoints.schemaRegistryUrl,
      subjectOf,
    });
    expect(await other.schemaIdOf(TOPICS.orders)).toBe(ids[subjectOf(TOPICS.orders)]);
    const decoded = await other.decode(await other.encode(TOPICS.orders, order));
    expect(plain(decoded.value)).toEqual(order);
  });

  it('the promise-free paths (encodeIfCached/decodeIfCached) give the same bytes and values once cached', async () => {
    const other = new AvroSerde(new SchemaRegistry({ host: endpoints.schemaRegistryUrl }), {
      registryUrl: endpoints.schemaRegistryUrl,
      subjectOf,
    });
    expect(other.encodeIfCached(TOPICS.orders, order)).toBeUndefined();
    // Concurrent first uses share one lookup (and one built type) per schema id.
    const bufs = await Promise.all(Array.from({ length: 50 }, () => other.encode(TOPICS.orders, order)));
    expect(other.decodeIfCached(bufs[0]!)).toBeDefined();
    const cached = other.encodeIfCached(TOPICS.orders, order);
    expect(cached).toEqual(bufs[0]);
    expect(cached).toEqual(await serde.encode(TOPICS.orders, order));
    expect(plain(other.decodeIfCached(cached!)!.value)).toEqual(order);
    expect(other.encodeIfCached(TOPICS.orders, { ...order, amount_minor: 'x' })).toBeUndefined();
    expect(() => other.decodeIfCached(Buffer.from([1, 0, 0, 0, 1]))).toThrow(UndecodableMessageError);
  });

  it('refuses an incompatible change with a clear message, accepts a compatible one', async () => {
    const base = JSON.parse(loadSchemas()[TOPICS.orders].text);
    const incompatible = { ...base, fields: [...base.fields, { name: 'loyalty_points', type: 'long' }] };
    const err = await serde.register(TOPICS.orders, JSON.stringify(incompatible)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SchemaCompatibilityError);
    console.info(`registry refused as expected: ${(err as Error).message}`);
    expect((err as Error).message).toMatch(
      new RegExp(
        `^schema for subject ${subjectOf(TOPICS.orders).replace(/[.]/g, '\\.')} is not BACKWARD compatible with the registered version: .+`,
      ),
    );
    const compatible = {
      ...base,
      fields: [...base.fields, { name: 'loyalty_points', type: ['null', 'long'], default: null }],
    };
    const newId = await serde.register(TOPICS.orders, JSON.stringify(compatible));
    expect(newId).not.toBe(ids[subjectOf(TOPICS.orders)]);
    // Restore the encode id to the original schema for the tests below.
    expect(await serde.register(TOPICS.orders, loadSchemas()[TOPICS.orders].text)).toBe(ids[subjectOf(TOPICS.orders)]);
  });
});

describe('OrderEvent.refund_id (issue 14): a BACKWARD-compatible addition', () => {
  const prevSubjectOf = (topic: string) => `it-${run}-prev.${topic}-value`;
  const prevSerde = new AvroSerde(new SchemaRegistry({ host: endpoints.schemaRegistryUrl }), {
    registryUrl: endpoints.schemaRegistryUrl,
    subjectOf: prevSubjectOf,
  });
  const current = JSON.parse(loadSchemas()[TOPICS.orders].text) as { fields: Array<{ name: string }> };
  const previous = { ...current, fields: current.fields.filter((f) => f.name !== 'refund_id') };

  afterAll(async () => {
    await fetch(`${serde.registryUrl}/subjects/${encodeURIComponent(prevSubjectOf(TOPICS.orders))}`, {
      method: 'DELETE',
    }).catch(() => undefined);
  });

  it('is optional with default null, and the registry accepts it over the schema without it', async () => {
    const field = current.fields.find((f) => f.name === 'refund_id') as unknown as { type: unknown; default: unknown };
    expect(field.type).toEqual(['null', 'string']);
    expect(field.default).toBeNull();
    const prevId = await prevSerde.register(TOPICS.orders, JSON.stringify(previous));
    const newId = await prevSerde.register(TOPICS.orders, loadSchemas()[TOPICS.orders].text);
    expect(newId).not.toBe(prevId);
  });

  it('a value written before it validates with refund_id null', async () => {
    const { refund_id: _, ...withoutRefundId } = order;
    const old = new AvroSerde(new SchemaRegistry({ host: endpoints.schemaRegistryUrl }), {
      registryUrl: endpoints.schemaRegistryUrl,
      subjectOf: (topic) => `it-${run}-old.${topic}-value`,
    });
    try {
      await old.register(TOPICS.orders, JSON.stringify(previous));
      const buf = await old.encode(TOPICS.orders, withoutRefundId);
      const r = await decodeAndValidate(serde, TOPICS.orders, buf, validate);
      expect(r.ok && plain(r.event)).toEqual({ kind: 'order', event: { ...order, refund_id: null } });
    } finally {
      await fetch(`${serde.registryUrl}/subjects/${encodeURIComponent(`it-${run}-old.${TOPICS.orders}-value`)}`, {
        method: 'DELETE',
      }).catch(() => undefined);
    }
  });
});

describe('TierTransition.related_customer_id (issue 20): a BACKWARD-compatible addition', () => {
  const subject = (topic: string) => `it-${run}-prev-tt.${topic}-value`;
  const prevSerde = new AvroSerde(new SchemaRegistry({ host: endpoints.schemaRegistryUrl }), {
    registryUrl: endpoints.schemaRegistryUrl,
    subjectOf: subject,
  });
  afterAll(async () => {
    await fetch(`${serde.registryUrl}/subjects/${encodeURIComponent(subject(TOPICS.transitions))}`, {
      method: 'DELETE',
    }).catch(() => undefined);
  });

  it('the registry accepts the schema with it over the schema without it, and values written before it decode', async () => {
    const current = JSON.parse(loadSchemas()[TOPICS.transitions].text) as { fields: Array<{ name: string }> };
    const previous = { ...current, fields: current.fields.filter((f) => f.name !== 'related_customer_id') };
    expect(previous.fields.length).toBe(current.fields.length - 1);
    const prevId = await prevSerde.register(TOPICS.transitions, JSON.stringify(previous));
    const { related_customer_id: _, ...old } = transition;
    const buf = await prevSerde.encode(TOPICS.transitions, old);
    expect(await prevSerde.register(TOPICS.transitions, loadSchemas()[TOPICS.transitions].text)).not.toBe(prevId);
    expect(plain((await serde.decode(buf)).value)).toEqual(old);
  });
});

describe('decodeAndValidate against the registry', () => {
  const classify = async (topic: string, buf: Buffer, maxMessageBytes?: number) => {
    const r = await decodeAndValidate(serde, topic, buf, { ...validate, maxMessageBytes });
    return r.ok ? 'OK' : r.reason;
  };
  const encodedOrder = (o: Partial<OrderEvent>) => serde.encode(TOPICS.orders, { ...order, ...o });

  it('accepts valid input events of every input topic', async () => {
    expect(await classify(TOPICS.orders, await encodedOrder({}))).toBe('OK');
    expect(await classify(TOPICS.web, await serde.encode(TOPICS.web, web))).toBe('OK');
    expect(await classify(TOPICS.tickets, await serde.encode(TOPICS.tickets, ticket))).toBe('OK');
    const r = await decodeAndValidate(serde, TOPICS.orders, await encodedOrder({}), validate);
    expect(r.ok && plain(r.event)).toEqual({ kind: 'order', event: order });
  });

  it('random bytes, a bad Avro body and an empty value are UNDECODABLE', async () => {
    const random = randomBytes(64);
    random[0] = 0xff;
    expect(await classify(TOPICS.orders, random)).toBe('UNDECODABLE');
    expect(await classify(TOPICS.orders, Buffer.from([0, 0]))).toBe('UNDECODABLE');
    const header = Buffer.alloc(5);
    header.writeInt32BE(ids[subjectOf(TOPICS.orders)]!, 1);
    expect(await classify(TOPICS.orders, Buffer.concat([header, Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f])]))).toBe(
      'UNDECODABLE',
    );
    const truncated = await encodedOrder({});
    expect(await classify(TOPICS.orders, truncated.subarray(0, truncated.length - 3))).toBe('UNDECODABLE');
    expect(await classify(TOPICS.orders, Buffer.concat([await encodedOrder({}), Buffer.from([1, 2, 3])]))).toBe(
      'UNDECODABLE',
    );
  });

  it('an unknown schema id is UNKNOWN_SCHEMA_ID', async () => {
    const buf = Buffer.concat([Buffer.from([0]), Buffer.alloc(4), randomBytes(20)]);
    buf.writeInt32BE(2_000_000_000, 1);
    expect(await classify(TOPICS.orders, buf)).toBe('UNKNOWN_SCHEMA_ID');
  });

  it("a value written with another topic's schema is WRONG_SCHEMA", async () => {
    expect(await classify(TOPICS.orders, await serde.encode(TOPICS.tickets, ticket))).toBe('WRONG_SCHEMA');
    expect(await classify(TOPICS.web, await serde.encode(TOPICS.signals, signal))).toBe('WRONG_SCHEMA');
  });

  it('classifies bad content: missing customer, negative amount, unknown currency, far future', async () => {
    expect(await classify(TOPICS.orders, await encodedOrder({ customer_id: '' }))).toBe('MISSING_CUSTOMER_ID');
    expect(await classify(TOPICS.orders, await encodedOrder({ amount_minor: -100 }))).toBe('NEGATIVE_AMOUNT');
    expect(await classify(TOPICS.orders, await encodedOrder({ currency: 'ZZZ' }))).toBe('UNKNOWN_CURRENCY');
    expect(await classify(TOPICS.orders, await encodedOrder({ occurred_at: NOW + 365 * 86_400_000 }))).toBe(
      'FUTURE_TIMESTAMP',
    );
    expect(
      await classify(TOPICS.web, await serde.encode(TOPICS.web, { ...web, customer_id: null, anonymous_id: null })),
    ).toBe('MISSING_CUSTOMER_ID');
    expect(await classify(TOPICS.tickets, await serde.encode(TOPICS.tickets, { ...ticket, csat: 9 }))).toBe(
      'INVALID_CSAT',
    );
  });

  it('an oversized message is OVERSIZED, before any decoding', async () => {
    expect(await classify(TOPICS.orders, Buffer.alloc(1024 * 1024 + 1))).toBe('OVERSIZED');
    const big = await encodedOrder({ channel: 'x'.repeat(2000) });
    expect(await classify(TOPICS.orders, big, 1000)).toBe('OVERSIZED');
    expect(await classify(TOPICS.orders, big)).toBe('OK');
  });
});

describe('applyTopics against Kafka', () => {
  const kafka = new kafkajs.Kafka({
    clientId: `contracts-it-${run}`,
    brokers: endpoints.kafkaBrokers,
    logLevel: kafkajs.logLevel.NOTHING,
  });
  let admin: Admin;
  const base = loadTopicsSpec();
  const spec: TopicsSpec = { topics: base.topics.map((t) => ({ ...t, name: `it-${run}.${t.name}` })) };
  const names = spec.topics.map((t) => t.name);

  beforeAll(async () => {
    admin = kafka.admin();
    await admin.connect();
  });
  afterAll(async () => {
    await admin.deleteTopics({ topics: names }).catch(() => undefined);
    await admin.disconnect();
  });

  it('creates all topics, then finds them unchanged, and repairs drift', async () => {
    expect(await applyTopics(admin, spec)).toEqual({ created: names, unchanged: [], updated: [] });
    expect(await applyTopics(admin, spec)).toEqual({ created: [], unchanged: names, updated: [] });

    const meta = await admin.fetchTopicMetadata({ topics: names });
    for (const t of meta.topics) expect(t.partitions, t.name).toHaveLength(t.name.endsWith('.identities.v1') ? 1 : 3);
    const changes = spec.topics.find((t) => t.name.endsWith('customer-tier-changes.v1'))!;
    const described = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [
        {
          type: kafkajs.ConfigResourceTypes.TOPIC,
          name: changes.name,
          configNames: ['cleanup.policy', 'retention.ms'],
        },
      ],
    });
    const cfg = Object.fromEntries(described.resources[0]!.configEntries.map((e) => [e.configName, e.configValue]));
    expect(cfg).toEqual({ 'cleanup.policy': 'compact,delete', 'retention.ms': String(30 * 86_400_000) });

    // Drift: someone shortens retention by hand and the spec asks for more partitions on another topic.
    await admin.alterConfigs({
      validateOnly: false,
      resources: [
        {
          type: kafkajs.ConfigResourceTypes.TOPIC,
          name: changes.name,
          configEntries: [
            { name: 'cleanup.policy', value: 'compact,delete' },
            { name: 'retention.ms', value: '1000' },
          ],
        },
      ],
    });
    // Config changes reach the broker's view asynchronously (KRaft metadata): wait until the drift is visible.
    const retentionOf = async () => {
      const d = await admin.describeConfigs({
        includeSynonyms: false,
        resources: [{ type: kafkajs.ConfigResourceTypes.TOPIC, name: changes.name, configNames: ['retention.ms'] }],
      });
      return d.resources[0]!.configEntries[0]!.configValue;
    };
    for (let i = 0; i < 50 && (await retentionOf()) !== '1000'; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await retentionOf()).toBe('1000');
    const grown: TopicsSpec = {
      topics: spec.topics.map((t) => (t.name === names[0] ? { ...t, partitions: 4 } : t)),
    };
    const third = await applyTopics(admin, grown);
    expect(third.created).toEqual([]);
    expect(third.updated.sort()).toEqual([names[0]!, changes.name].sort());
    for (let i = 0; i < 50 && (await retentionOf()) === '1000'; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await retentionOf()).toBe(String(30 * 86_400_000));
    expect(await applyTopics(admin, grown)).toEqual({ created: [], unchanged: names, updated: [] });
    const after = await admin.fetchTopicMetadata({ topics: [names[0]!] });
    expect(after.topics[0]!.partitions).toHaveLength(4);
  });
});
