import {
  AggregateStore,
  DEFAULT_AGGREGATE_CONFIG,
  DEFAULT_ANON_RETENTION_MS,
  metricsAt,
  oracleIdentityMetrics,
  oracleMetrics,
} from '@tierstream/aggregates';
import {
  bootstrapPipeline,
  Clients,
  feedEvents,
  groupLag,
  killService,
  loadCliConfig,
  resetPipelineData,
  SERVICES,
  type ServiceName,
  type ServiceProcess,
  sendWatermarks,
  startService,
  stopService,
  waitForPipeline,
} from '@tierstream/cli';
import { stackEndpoints } from '@tierstream/config';
import { type IdentityEvent, type InputEvent, TOPICS } from '@tierstream/contracts';
import { generateWorkload, resolveOptions } from '@tierstream/generator';
import { dayOf, endOfDay } from '@tierstream/tierstate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * Identity end to end (docs/design-decisions.md §22, issue 20): the `tiny` workload (anonymous web events included)
 * with aliases of anonymous ids to the customers they turn out to be, disjoint merges and a chain, replayed through
 * the whole pipeline (aggregator → tier engine → warehouse writer) with kill -9 of the aggregator while it applies the
 * identity events. The Redis aggregates of every customer must equal the batch oracle with identity semantics
 * (oracleIdentityMetrics), consumers of the transitions must see exactly one MERGED_INTO and one MERGED per merge,
 * and a survivor never ENTERs a tier twice.
 */
describe('identity end to end (aliases and merges, with crashes)', () => {
  const endpoints = stackEndpoints(process.env);
  const clients = new Clients(loadCliConfig({ ...process.env, REDIS_URL: endpoints.redisUrl }));
  const events: InputEvent[] = [...generateWorkload('tiny')];
  const options = resolveOptions('tiny');
  const endAt = endOfDay(dayOf(typeof options.end === 'number' ? options.end : Date.parse(options.end)));
  const startAt = Math.min(...events.map((e) => e.event.occurred_at));
  const identities = identityEventsFor(events, startAt, endAt);
  const merges = identities.filter((e) => e.type === 'MERGE');
  const procs = new Map<ServiceName, ServiceProcess>();
  const env = { CLOCK_MODE: 'replay', HTTP_PORT: '0', CUTPOINTS_EVERY_DAYS: '7', LOG_LEVEL: 'warn' };
  const start = (name: ServiceName) =>
    procs.set(
      name,
      startService(name, env, () => undefined),
    );

  beforeAll(async () => {
    await resetPipelineData(clients);
    await bootstrapPipeline(clients);
    for (const name of SERVICES) start(name);
    const producer = await clients.producer();
    const half = Math.floor(events.length / 2);
    await feedEvents(producer, clients.serde, events.slice(0, half));
    // The identity events (one partition, in event-time order) while the first half is being applied, then a crash
    // of the aggregator in the middle of their folds.
    const records = [];
    for (const e of identities)
      records.push({ key: e.customer_id, value: await clients.serde.encode(TOPICS.identities, e) });
    await producer.send(TOPICS.identities, records);
    await new Promise((r) => setTimeout(r, 1500));
    await killService(procs.get('aggregator')!);
    start('aggregator');
    await feedEvents(producer, clients.serde, events.slice(half));
    await new Promise((r) => setTimeout(r, 2500));
    await killService(procs.get('aggregator')!);
    start('aggregator');
    await sendWatermarks(await clients.admin(), producer, endAt);
    const isAlive = () => {
      const dead = [...procs.values()].find((p) => p.child.exitCode !== null);
      return dead ? `${dead.name} exited with ${dead.child.exitCode}` : null;
    };
    await waitForPipeline(clients, endAt, { timeoutMs: 480_000, isAlive });
    const admin = await clients.admin();
    for (let i = 0; (await groupLag(admin, clients.groups.aggregator, [TOPICS.identities])) > 0; i++) {
      if (i > 240) throw new Error('identities.v1 not consumed in 120 s');
      await new Promise((r) => setTimeout(r, 500));
    }
    // The last evaluations (the merges' MERGED_INTO / MERGED) reach the warehouse.
    await waitForPipeline(clients, endAt, { timeoutMs: 120_000, isAlive });
  }, 600_000);

  afterAll(async () => {
    await Promise.all([...procs.values()].map((p) => stopService(p)));
    await clients.close();
  });

  it('Redis aggregates equal the identity oracle for every surviving customer', async () => {
    const expected = oracleIdentityMetrics(events, identities, endAt, DEFAULT_AGGREGATE_CONFIG, {
      dedupeHorizonMs: 48 * 3_600_000,
      anonRetentionMs: DEFAULT_ANON_RETENTION_MS,
    });
    // Merged ids have no metrics of their own.
    for (const m of merges) expect(expected.has(m.merged_customer_id!)).toBe(false);
    const store = new AggregateStore(clients.redis, { prefix: clients.redisPrefix, config: DEFAULT_AGGREGATE_CONFIG });
    const states = await store.readMany([...expected.keys()]);
    const mismatches: string[] = [];
    for (const [id, want] of expected) {
      const state = states.get(id);
      const got = state ? metricsAt(state, endAt, DEFAULT_AGGREGATE_CONFIG) : null;
      if (JSON.stringify(got) !== JSON.stringify(want)) {
        const fields = Object.keys(want).filter(
          (k) => JSON.stringify(got?.[k as keyof typeof got]) !== JSON.stringify(want[k as keyof typeof want]),
        );
        mismatches.push(
          `${id}: ${fields.map((f) => `${f} ${got?.[f as keyof typeof got]} != ${want[f as keyof typeof want]}`).join(', ')}`,
        );
      }
    }
    expect(mismatches).toEqual([]);
    // The scenario exercises identity: some aliased or surviving customers' metrics differ from their own events'.
    const ownEvents = (id: string) => events.filter((e) => e.event.customer_id === id);
    const touched = [...new Set(identities.map((e) => e.customer_id))];
    const changed = touched.filter(
      (id) =>
        JSON.stringify(expected.get(id)) !==
        JSON.stringify(oracleMetrics(ownEvents(id), endAt, DEFAULT_AGGREGATE_CONFIG, 48 * 3_600_000)),
    );
    expect(changed.length).toBeGreaterThan(5);
    expect(expected.size).toBeGreaterThan(100);
  });

  it('transitions: exactly one MERGED_INTO and one MERGED per merge, and no survivor ENTERs a tier twice', async () => {
    const rs = await clients.clickhouse.query({
      query: `SELECT customer_id, dimension, to_tier, direction, reason, related_customer_id
              FROM ${clients.endpoints.clickhouseDatabase}.tier_transitions FINAL`,
      format: 'JSONEachRow',
    });
    const rows = await rs.json<{
      customer_id: string;
      dimension: string;
      to_tier: string;
      direction: string;
      reason: string;
      related_customer_id: string;
    }>();
    const count = (pred: (r: (typeof rows)[number]) => boolean) => rows.filter(pred).length;
    for (const m of merges) {
      const a = m.merged_customer_id!;
      expect(
        count((r) => r.reason === 'MERGED_INTO' && r.customer_id === a),
        `MERGED_INTO of ${a}`,
      ).toBe(1);
      expect(
        count((r) => r.reason === 'MERGED' && r.related_customer_id === a),
        `MERGED naming ${a}`,
      ).toBe(1);
    }
    expect(count((r) => r.reason === 'MERGED_INTO')).toBe(merges.length);
    expect(count((r) => r.reason === 'MERGED')).toBe(merges.length);
    const survivors = new Set(merges.map((m) => m.customer_id));
    const enters = rows.filter((r) => survivors.has(r.customer_id) && r.direction === 'ENTER');
    const keys = enters.map((r) => `${r.customer_id}|${r.dimension}|${r.to_tier}`);
    expect(keys.filter((k, i) => keys.indexOf(k) !== i)).toEqual([]);
  });
});

/**
 * The identity events of the scenario, in event-time order: an ALIAS for each anonymous id (of the first 30) that has
 * anonymous events, at the median time of them (behaviour before and after the alias), to the customer that id
 * belongs to (seen on its identified web events); five disjoint merges and a chain (A into B, later B into C), spread
 * over the range.
 */
function identityEventsFor(events: readonly InputEvent[], startAt: number, endAt: number): IdentityEvent[] {
  const owner = new Map<string, string>();
  const anonTimes = new Map<string, number[]>();
  for (const e of events) {
    if (e.kind !== 'web' || e.event.anonymous_id === null) continue;
    if (e.event.customer_id !== null) owner.set(e.event.anonymous_id, e.event.customer_id);
    else anonTimes.set(e.event.anonymous_id, [...(anonTimes.get(e.event.anonymous_id) ?? []), e.event.occurred_at]);
  }
  const out: IdentityEvent[] = [];
  const base = { source: 'e2e', anonymous_id: null, merged_customer_id: null };
  const aliased = [...anonTimes].filter(([x]) => owner.has(x)).slice(0, 30);
  for (const [x, times] of aliased) {
    const sorted = [...times].sort((p, q) => p - q);
    out.push({
      ...base,
      event_id: `alias-${x}`,
      type: 'ALIAS',
      anonymous_id: x,
      customer_id: owner.get(x)!,
      occurred_at: sorted[Math.floor(sorted.length / 2)]!,
    });
  }
  const customers = [
    ...new Set(events.filter((e) => e.kind === 'order').map((e) => e.event.customer_id as string)),
  ].sort();
  const at = (k: number) => Math.floor(startAt + ((endAt - startAt) * (k + 1)) / 9);
  const merge = (a: string, b: string, when: number): IdentityEvent => ({
    ...base,
    event_id: `merge-${a}-${b}`,
    type: 'MERGE',
    customer_id: b,
    merged_customer_id: a,
    occurred_at: when,
  });
  for (let i = 0; i < 5; i++) out.push(merge(customers[2 * i]!, customers[2 * i + 1]!, at(i)));
  out.push(merge(customers[10]!, customers[11]!, at(5)), merge(customers[11]!, customers[12]!, at(6)));
  return out.sort((p, q) => p.occurred_at - q.occurred_at);
}
