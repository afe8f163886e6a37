/**
 * The webhook and CRM handlers against a real HTTP server on loopback that answers 500, 429 with Retry-After, 410,
 * slow responses past the timeout and dropped connections on a script. Kafka is replaced by hand-made batches, the
 * schema registry by JSON values, the producer by a recorder (the e2e test runs the service on the real stack).
 */
import type { AvroSerde, TierChange, TierTransition } from '@tierstream/contracts';
import {
  type CrmDestination,
  DestinationGate,
  destinationDlqTopic,
  parseDestination,
  verifySignature,
  type WebhookDestination,
} from '@tierstream/destinations';
import type { BatchContext, OutgoingRecord, PartitionBatch, RecordProducer } from '@tierstream/kafka';
import { createLogger, createMetrics } from '@tierstream/observability';
import { afterEach, describe, expect, it } from 'vitest';
import { startZohoServer } from '../../../test/support/crm-server';
import { type Fault, startReceiver } from '../../../test/support/webhook-receiver';
import { DESTINATION_DLQ_HEADERS, type DestinationDeadLetter } from '../src/dead-letter';
import { agentFor } from '../src/deliver';
import { createDeliveryMetrics } from '../src/delivery-metrics';
import { crmHandler, webhookHandler } from '../src/handlers';

const SECRET = 'test-secret';
const serde = {
  decode: async (b: Buffer) => ({ value: JSON.parse(b.toString('utf8')) as unknown }),
} as unknown as AvroSerde;
const logger = createLogger('destinations-test', 'silent');
const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

function transition(n: number, customer: string, over: Partial<TierTransition> = {}): TierTransition {
  return {
    transition_id: `tx-${customer}-${n}`,
    customer_id: customer,
    dimension: 'value',
    from_tier: 'SILVER',
    to_tier: 'GOLD',
    direction: 'UP',
    reason: 'METRIC_CROSSED',
    rule_id: 'value.gold',
    rules_version: 'r1',
    cutpoints_version: 'cp1',
    metrics: { revenue_365d: n },
    occurred_at: 1_780_000_000_000 + n,
    evaluated_at: 1_780_000_000_000 + n,
    ...over,
  };
}

function batchOf(topic: string, values: Array<{ customer_id: string }>): PartitionBatch {
  return {
    topic,
    partition: 0,
    highWatermark: String(values.length),
    records: values.map((v, i) => ({
      topic,
      partition: 0,
      offset: String(i),
      key: Buffer.from(v.customer_id),
      value: Buffer.from(JSON.stringify(v)),
      headers: {},
      timestamp: 0,
    })),
  };
}

function recorder(): RecordProducer & { sent: Array<{ topic: string; records: OutgoingRecord[] }> } {
  const sent: Array<{ topic: string; records: OutgoingRecord[] }> = [];
  return {
    sent,
    send: async (topic, records) => {
      sent.push({ topic, records });
    },
    sendMany: async (batches) => {
      sent.push(...batches);
    },
    disconnect: async () => undefined,
  };
}

const ctx: BatchContext = { deadLetter: () => undefined, heartbeat: async () => undefined, isStale: () => false };

function deps(dest: WebhookDestination | CrmDestination, producer: RecordProducer) {
  const agent = agentFor(dest.delivery.concurrency, dest.delivery.timeout_ms);
  closers.push(() => agent.close());
  const metrics = createDeliveryMetrics(createMetrics('destinations-test').registry);
  return {
    gate: new DestinationGate(dest.delivery, Date.now()),
    agent,
    serde,
    producer,
    metrics,
    logger,
    service: 'destinations',
    stopping: () => false,
  };
}

const secrets = { env: (n: string) => ({ HOOK_SECRET: SECRET, CRM_TOKEN: 'crm-token' })[n], readFile: () => '' };

describe('webhookHandler', () => {
  it('delivers every transition passing the filter, per customer in order, signed, through 500/429/timeout/drop/410', async () => {
    // Per key: what the receiver answers the n-th time.
    const script: Record<string, (n: number) => Fault | undefined> = {
      'tx-c1-1': (n) => (n <= 2 ? { status: 500, body: 'boom' } : undefined),
      'tx-c1-2': (n) => (n === 1 ? { status: 429, headers: { 'retry-after': '1' } } : undefined),
      'tx-c2-1': (n) => (n === 1 ? { status: 200, delayMs: 600 } : undefined), // past the 300 ms timeout
      'tx-c2-2': (n) => (n === 1 ? 'destroy' : undefined),
      'tx-c3-1': () => ({ status: 410, body: 'gone: this hook was removed' }),
      'tx-c4-1': () => ({ status: 503, body: 'down' }),
    };
    const receiver = await startReceiver((key, n) => script[key]?.(n));
    closers.push(receiver.close);
    const dest = parseDestination(
      'hook.yaml',
      `kind: webhook
url: ${receiver.url}
secret: { env: HOOK_SECRET }
headers: { X-Team: sales }
filter: { exclude_reasons: [RULES_CHANGED] }
delivery: { timeout_ms: 300, max_attempts: 4, initial_backoff_ms: 20, max_backoff_ms: 2000, concurrency: 4 }
`,
      secrets,
    ) as WebhookDestination;
    const values = [
      transition(1, 'c1'),
      transition(1, 'c2'),
      transition(2, 'c1'),
      transition(1, 'c3'),
      transition(9, 'c1', { reason: 'RULES_CHANGED' }),
      transition(2, 'c2'),
      transition(3, 'c1'),
      transition(1, 'c4'),
      transition(2, 'c3'),
    ];
    const producer = recorder();
    const started = Date.now();
    await webhookHandler(dest, deps(dest, producer))(batchOf('customer-tier-transitions.v1', values), ctx);

    const ok = receiver.received.filter((r) => r.status === 200);
    const keys = new Set(ok.map((r) => r.idempotencyKey));
    expect([...keys].sort()).toEqual(['tx-c1-1', 'tx-c1-2', 'tx-c1-3', 'tx-c2-1', 'tx-c2-2', 'tx-c3-2'].sort());
    expect(receiver.received.some((r) => r.idempotencyKey === 'tx-c1-9')).toBe(false); // filtered out
    // Per customer, requests (first attempts and retries) never go back to an earlier transition.
    for (const c of ['c1', 'c2', 'c3']) {
      const order = receiver.received
        .filter((r) => r.idempotencyKey.startsWith(`tx-${c}-`))
        .map((r) => Number(r.idempotencyKey.split('-')[2]));
      for (let i = 1; i < order.length; i++) expect(order[i]!).toBeGreaterThanOrEqual(order[i - 1]!);
    }
    // 429 Retry-After: 1 honoured
    const c12 = receiver.received.filter((r) => r.idempotencyKey === 'tx-c1-2');
    expect(c12[1]!.at - c12[0]!.at).toBeGreaterThanOrEqual(950);
    // The timed-out and the dropped request were retried with the same key and a higher attempt number.
    expect(receiver.received.filter((r) => r.idempotencyKey === 'tx-c2-1').map((r) => r.attempt)).toEqual([1, 2]);
    expect(receiver.received.filter((r) => r.idempotencyKey === 'tx-c2-2').map((r) => r.attempt)).toEqual([1, 2]);
    for (const r of receiver.received) {
      expect(verifySignature(SECRET, r.signature, r.body, Date.now())).toMatchObject({ ok: true });
      expect(verifySignature(SECRET, r.signature, r.body.replace('GOLD', 'PLATINUM'), Date.now())).toEqual({
        ok: false,
        reason: 'mismatch',
      });
      expect(JSON.parse(r.body)).toMatchObject({ type: 'tier.transition', payload_version: 1, id: r.idempotencyKey });
    }
    expect(Date.now() - started).toBeLessThan(15_000);

    // Dead letters: the 410 at once, the 503 after 4 attempts; c3's next transition was delivered after its 410.
    expect(producer.sent.map((s) => s.topic)).toEqual([destinationDlqTopic('hook')]);
    const letters = producer.sent[0]!.records.map((r) => ({
      value: JSON.parse(r.value.toString()) as DestinationDeadLetter,
      headers: r.headers!,
    }));
    const byKey = Object.fromEntries(letters.map((l) => [l.value.idempotency_key, l]));
    expect(byKey['tx-c3-1']!.value).toMatchObject({
      reason: 'NON_RETRIABLE_STATUS',
      status: 410,
      body_excerpt: 'gone: this hook was removed',
      attempts: 1,
      customer_id: 'c3',
    });
    expect(byKey['tx-c4-1']!.value).toMatchObject({ reason: 'ATTEMPTS_EXHAUSTED', status: 503, attempts: 4 });
    expect(byKey['tx-c4-1']!.headers[DESTINATION_DLQ_HEADERS.attempts]).toBe('4');
    expect(letters).toHaveLength(2);
  });

  it('refuses to finish a batch it was stopped in (so the runner does not commit it)', async () => {
    const receiver = await startReceiver(() => ({ status: 500 }));
    closers.push(receiver.close);
    const dest = parseDestination(
      'hook.yaml',
      `kind: webhook\nurl: ${receiver.url}\nsecret: { env: HOOK_SECRET }\ndelivery: { initial_backoff_ms: 5 }\n`,
      secrets,
    ) as WebhookDestination;
    let stop = false;
    setTimeout(() => {
      stop = true;
    }, 100);
    const d = { ...deps(dest, recorder()), stopping: () => stop };
    await expect(webhookHandler(dest, d)(batchOf('t', [transition(1, 'c1')]), ctx)).rejects.toThrow(/stopping/);
  });
});

describe('crmHandler (zoho-crm template)', () => {
  it('upserts the latest tiers per customer in batches, through 429s; refused records are dead-lettered', async () => {
    const zoho = await startZohoServer({ maxBatch: 100, rejectIds: new Set(['c-bad']), rateLimitEvery: 2 });
    closers.push(zoho.close);
    const dest = parseDestination(
      'zoho.yaml',
      `kind: crm-upsert
template: zoho-crm
base_url: http://127.0.0.1:${zoho.port}
token: { env: CRM_TOKEN }
id_field: Tierstream_Id
fields: { value: Value_Tier, engagement: Engagement_Tier }
picklists: { value: { PLATINUM: Platinum } }
batch_size: 3
delivery: { initial_backoff_ms: 10, max_backoff_ms: 50 }
`,
      secrets,
    ) as CrmDestination;
    const change = (c: string, v: number, tiers: Record<string, string>): TierChange => ({
      customer_id: c,
      kind: 'CHANGE',
      state_version: v,
      snapshot_day: null,
      tiers,
      metrics: {},
      rules_version: 'r1',
      cutpoints_version: 'cp1',
      as_of: 0,
      emitted_at: 0,
    });
    const values = [
      change('c1', 1, { value: 'GOLD', engagement: 'ACTIVE' }),
      change('c2', 1, { value: 'SILVER', engagement: 'ACTIVE' }),
      change('c1', 2, { value: 'PLATINUM', engagement: 'ACTIVE' }),
      ...['c3', 'c4', 'c5', 'c6', 'c-bad'].map((c) => change(c, 1, { value: 'BRONZE' })),
    ];
    const producer = recorder();
    await crmHandler(dest, deps(dest, producer))(batchOf('customer-tier-changes.v1', values), ctx);
    expect(zoho.records.get('c1')).toEqual({ Tierstream_Id: 'c1', Value_Tier: 'Platinum', Engagement_Tier: 'ACTIVE' });
    expect(zoho.records.get('c2')).toMatchObject({ Value_Tier: 'SILVER' });
    expect(zoho.records.get('c6')).toEqual({ Tierstream_Id: 'c6', Value_Tier: 'BRONZE', Engagement_Tier: null });
    expect(zoho.records.has('c-bad')).toBe(false);
    expect(zoho.maxBatchSeen).toBeLessThanOrEqual(3);
    expect(zoho.rateLimited).toBeGreaterThan(0);
    expect(zoho.auth.every((a) => a === 'Zoho-oauthtoken crm-token')).toBe(true);
    const letters = producer.sent.flatMap((s) =>
      s.records.map((r) => JSON.parse(r.value.toString()) as DestinationDeadLetter),
    );
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({
      reason: 'REJECTED_RECORD',
      customer_id: 'c-bad',
      message: 'INVALID_DATA: invalid data',
    });
  });
});
