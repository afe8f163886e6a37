import {
  auditTrail,
  bootstrapPipeline,
  Clients,
  eraseCustomer,
  feedEvents,
  loadCliConfig,
  pipelineProgress,
  resetPipelineData,
  SERVICES,
  type ServiceName,
  type ServiceProcess,
  sendWatermarks,
  startService,
  stopService,
  waitForPipeline,
} from '@tierstream/cli';
import { customerHashTag, stackEndpoints, suppressionKey } from '@tierstream/config';
import { customerIdOf, type InputEvent, TOPICS } from '@tierstream/contracts';
import { generateWorkload, resolveOptions } from '@tierstream/generator';
import { dayOf, endOfDay } from '@tierstream/tierstate';
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aggregateMismatches, tierStateMismatches } from '../support/oracle-checks';
import { runPipelineOracle } from '../support/pipeline-oracle';
import { runEntry } from '../support/run-node';
import { createKafka } from '../support/stack';
import { warehouseTransitionIds } from '../support/warehouse-reads';

/**
 * Erasure end to end (issue 19, docs/security.md "Erasure"): the pipeline replays the `tiny` profile, then three
 * customers are erased three ways (tierctl, the ops function, a request on erasure-requests.v1 executed by the
 * warehouse writer, sent twice); nothing of them remains in Redis, in any ClickHouse table (raw and FINAL) or as a
 * live key on the compacted topic; their old events sent again do not bring them back; everyone else still equals
 * the oracle; the erasures are in the audit trail and the erasure log, without the customer ids.
 */
const CUTPOINTS_EVERY_DAYS = 7;
const OPERATOR = 'dpo-e2e';

describe('erasure end to end', () => {
  const endpoints = stackEndpoints(process.env);
  const clients = new Clients(loadCliConfig({ ...process.env, OPERATOR_NAME: OPERATOR, ERASURE_SETTLE_MS: '500' }));
  const events: InputEvent[] = [...generateWorkload('tiny')];
  const options = resolveOptions('tiny');
  const endAt = endOfDay(dayOf(typeof options.end === 'number' ? options.end : Date.parse(options.end)));
  const oracle = runPipelineOracle({ events, cutPointsEveryDays: CUTPOINTS_EVERY_DAYS, endAt });
  const procs = new Map<ServiceName, ServiceProcess>();
  const env = {
    CLOCK_MODE: 'replay',
    HTTP_PORT: '0',
    CUTPOINTS_EVERY_DAYS: String(CUTPOINTS_EVERY_DAYS),
    LOG_LEVEL: 'warn',
    REDIS_URL: endpoints.redisUrl,
    ERASURE_SETTLE_MS: '500',
  };
  const isAlive = () => {
    const dead = [...procs.values()].find((p) => p.child.exitCode !== null);
    return dead ? `${dead.name} exited with ${dead.child.exitCode}` : null;
  };

  // The three customers with the most events (each has transitions and history rows), erased three ways.
  const byCustomer = new Map<string, InputEvent[]>();
  for (const e of events) {
    const id = customerIdOf(e);
    if (id !== null) byCustomer.set(id, [...(byCustomer.get(id) ?? []), e]);
  }
  const [viaCli, viaOps, viaTopic] = [...byCustomer]
    .sort((a, b) => b[1].length - a[1].length || (a[0] < b[0] ? -1 : 1))
    .slice(0, 3)
    .map(([id]) => id) as [string, string, string];
  const erased = [viaCli, viaOps, viaTopic];
  const kept = events.filter((e) => !erased.includes(customerIdOf(e) ?? ''));
  const db = endpoints.clickhouseDatabase;

  const count = async (query: string) =>
    Number((await (await clients.clickhouse.query({ query, format: 'JSONEachRow' })).json<{ n: string }>())[0]!.n);

  /** Every key and shared-index entry under the prefix that names one of `ids` (the suppression markers aside). */
  async function redisTraces(ids: string[]): Promise<string[]> {
    const redis = clients.redis;
    const nodes = redis instanceof Cluster ? redis.nodes('master') : [redis];
    const traces: string[] = [];
    for (const node of nodes) {
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', `${clients.redisPrefix}:*`, 'COUNT', 1000);
        cursor = next;
        for (const key of keys) {
          for (const id of ids) {
            if (key === suppressionKey(clients.redisPrefix, id)) continue;
            if (key.includes(customerHashTag(id))) traces.push(`key ${key}`);
          }
          const type = await redis.type(key);
          for (const id of ids) {
            if (type === 'zset' && (await redis.zscore(key, id)) !== null) traces.push(`${key} member ${id}`);
            if (type === 'set' && (await redis.sismember(key, id)) === 1) traces.push(`${key} member ${id}`);
            if (type === 'hash' && (await redis.hexists(key, id)) === 1) traces.push(`${key} field ${id}`);
          }
        }
      } while (cursor !== '0');
    }
    return traces;
  }

  /** Rows of `ids` in every MergeTree table with a customer_id column, raw and FINAL (`table raw|final: n`). */
  async function warehouseTraces(ids: string[]): Promise<string[]> {
    const tables = (
      await (
        await clients.clickhouse.query({
          query: `SELECT table FROM system.columns WHERE database = '${db}' AND name = 'customer_id' AND table IN (SELECT name FROM system.tables WHERE database = '${db}' AND engine LIKE '%MergeTree')`,
          format: 'JSONEachRow',
        })
      ).json<{ table: string }>()
    ).map((r) => r.table);
    expect(tables.length).toBeGreaterThanOrEqual(5);
    const list = ids.map((id) => `'${id}'`).join(', ');
    const traces: string[] = [];
    for (const table of tables) {
      const raw = await count(`SELECT count() AS n FROM ${db}.${table} WHERE customer_id IN (${list})`);
      const final = await count(`SELECT count() AS n FROM ${db}.${table} FINAL WHERE customer_id IN (${list})`);
      if (raw + final > 0) traces.push(`${table} raw ${raw}, final ${final}`);
    }
    return traces;
  }

  /** The latest record per key of the compacted changes topic: key → live (a value) or not (a tombstone). */
  async function liveKeys(): Promise<Map<string, boolean>> {
    const kafka = createKafka();
    const admin = kafka.admin();
    await admin.connect();
    const ends = await admin.fetchTopicOffsets(TOPICS.changes);
    await admin.disconnect();
    const pending = new Map(ends.filter((p) => p.high !== p.low).map((p) => [p.partition, BigInt(p.high) - 1n]));
    const latest = new Map<string, boolean>();
    const consumer = kafka.consumer({ groupId: `erasure-e2e-${process.pid}-${Date.now()}` });
    await consumer.connect();
    await consumer.subscribe({ topics: [TOPICS.changes], fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      if (pending.size === 0) resolve();
      const timer = setTimeout(() => reject(new Error('reading the changes topic timed out')), 60_000);
      void consumer.run({
        eachMessage: async ({ partition, message }) => {
          if (message.key) latest.set(message.key.toString('utf8'), message.value !== null);
          if (pending.has(partition) && BigInt(message.offset) >= pending.get(partition)!) pending.delete(partition);
          if (pending.size === 0) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
    await consumer.disconnect();
    return latest;
  }

  beforeAll(async () => {
    await resetPipelineData(clients);
    await bootstrapPipeline(clients);
    for (const name of SERVICES)
      procs.set(
        name,
        startService(name, env, () => undefined),
      );
    const producer = await clients.producer();
    await feedEvents(producer, clients.serde, events);
    await sendWatermarks(await clients.admin(), producer, endAt);
    await waitForPipeline(clients, endAt, { timeoutMs: 300_000, isAlive });
  });

  afterAll(async () => {
    await Promise.all([...procs.values()].map((p) => stopService(p)));
    await clients.close();
  });

  it('before: the three customers are everywhere (the checks below can see them)', async () => {
    expect((await redisTraces(erased)).length).toBeGreaterThan(6);
    expect((await warehouseTraces(erased)).length).toBeGreaterThanOrEqual(4);
    const live = await liveKeys();
    for (const id of erased) expect(live.get(id), id).toBe(true);
  });

  it('erases through tierctl, the ops function and the topic (a request sent twice runs once)', async () => {
    const cli = await runEntry(
      'packages/cli/src/tierctl.ts',
      ['customer', 'erase', viaCli, '--reason', 'GDPR art. 17 request e2e-1', '--request-id', 'e2e-1'],
      { env: { OPERATOR_NAME: OPERATOR, ERASURE_SETTLE_MS: '500' } },
    );
    expect(cli.stderr).toBe('');
    expect(cli.code).toBe(0);
    expect(cli.stdout).toMatch(
      /^erased \(request e2e-1\): redis [1-9]\d* keys, [1-9]\d* index entries; warehouse rows /,
    );
    expect(cli.stdout).toContain('tombstones on customer-tier-changes.v1');

    const outcome = await eraseCustomer(clients, viaOps, { reason: 'PIPL art. 47 e2e-2', requestId: 'e2e-2' });
    expect(outcome.status).toBe('done');
    // The same request id again is not executed twice.
    expect((await eraseCustomer(clients, viaOps, { reason: 'again', requestId: 'e2e-2' })).status).toBe('skipped');

    for (let i = 0; i < 2; i++) {
      const sent = await runEntry(
        'packages/cli/src/tierctl.ts',
        ['customer', 'erase', viaTopic, '--reason', 'automation e2e-3', '--request-id', 'e2e-3', '--via-topic'],
        { env: { OPERATOR_NAME: OPERATOR } },
      );
      expect(sent.stdout.trim()).toBe('erasure request e2e-3 sent to erasure-requests.v1');
    }
    const deadline = Date.now() + 60_000;
    while ((await count(`SELECT count() AS n FROM ${db}.erasure_log WHERE request_id = 'e2e-3'`)) === 0) {
      expect(isAlive()).toBeNull();
      if (Date.now() > deadline) throw new Error('the writer did not execute erasure request e2e-3 within 60 s');
      await new Promise((r) => setTimeout(r, 500));
    }
    // Both records consumed (group lag 0), executed once.
    await waitForGroupDone('tierstream-erasure', TOPICS.erasureRequests);
    expect(await count(`SELECT count() AS n FROM ${db}.erasure_log WHERE request_id = 'e2e-3'`)).toBe(1);
  });

  async function waitForGroupDone(group: string, topic: string): Promise<void> {
    const admin = await clients.admin();
    const deadline = Date.now() + 60_000;
    for (;;) {
      const [committed] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
      const ends = await admin.fetchTopicOffsets(topic);
      const lag = ends.reduce((n, e) => {
        const done = committed?.partitions.find((p) => p.partition === e.partition)?.offset ?? '-1';
        return n + Math.max(0, Number(e.high) - Math.max(0, Number(done)));
      }, 0);
      if (lag === 0) return;
      if (Date.now() > deadline) throw new Error(`${group} still lags ${lag} on ${topic}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  it('nothing of them remains in Redis, in any warehouse table (raw and FINAL) or as a live key', async () => {
    expect(await redisTraces(erased)).toEqual([]);
    expect(await warehouseTraces(erased)).toEqual([]);
    const live = await liveKeys();
    for (const id of erased) expect(live.get(id), id).toBe(false);
    for (const id of erased) expect(await clients.redis.exists(suppressionKey(clients.redisPrefix, id))).toBe(1);
  });

  it('their old events sent again do not bring them back while suppressed', async () => {
    const producer = await clients.producer();
    await feedEvents(
      producer,
      clients.serde,
      events.filter((e) => erased.includes(customerIdOf(e) ?? '')),
    );
    const lastDay = dayOf(endAt + 1) - 1;
    const deadline = Date.now() + 120_000;
    while (!(await pipelineProgress(clients, lastDay)).done) {
      expect(isAlive()).toBeNull();
      if (Date.now() > deadline) throw new Error('the pipeline did not take up the re-sent events within 120 s');
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(await redisTraces(erased)).toEqual([]);
    expect(await warehouseTraces(erased)).toEqual([]);
  });

  it('everyone else still equals the oracle (aggregates, tiers, transitions)', async () => {
    expect(await aggregateMismatches(clients, kept, endAt)).toEqual([]);
    const others = { ...oracle, states: new Map([...oracle.states].filter(([id]) => !erased.includes(id))) };
    expect(await tierStateMismatches(clients, others)).toEqual([]);
    const expected = oracle.transitions.filter((t) => !erased.includes(t.customer_id)).map((t) => t.transition_id);
    expect(new Set(await warehouseTransitionIds(clients))).toEqual(new Set(expected));
  });

  it('the audit trail and the erasure log name the requests and the operator, never the customer ids', async () => {
    const audit = (await auditTrail(clients, { action: 'customer.erase' })).filter((a) => a.subject.startsWith('e2e-'));
    expect(audit.map((a) => [a.subject, a.actor]).sort()).toEqual([
      ['e2e-1', OPERATOR],
      ['e2e-2', OPERATOR],
      ['e2e-3', OPERATOR],
    ]);
    const log = await (
      await clients.clickhouse.query({
        query: `SELECT * FROM ${db}.erasure_log FINAL WHERE request_id LIKE 'e2e-%' ORDER BY request_id`,
        format: 'JSONEachRow',
      })
    ).json<Record<string, unknown>>();
    expect(log.map((r) => [r.request_id, r.source, r.executed_by])).toEqual([
      ['e2e-1', 'tierctl', OPERATOR],
      ['e2e-2', 'tierctl', OPERATOR],
      ['e2e-3', TOPICS.erasureRequests, expect.any(String)],
    ]);
    for (const row of log) expect(Number(row.redis_keys), String(row.request_id)).toBeGreaterThan(0);
    const text = JSON.stringify({ audit, log });
    for (const id of erased) expect(text).not.toContain(`"${id}"`);
  });
});
