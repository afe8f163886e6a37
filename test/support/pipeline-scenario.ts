import { readFileSync } from 'node:fs';
import path from 'node:path';
import { AggregateStore, DEFAULT_AGGREGATE_CONFIG, metricsAt, oracleMetrics } from '@tierstream/aggregates';
import {
  bootstrapPipeline,
  Clients,
  feedEvents,
  killService,
  REPO_ROOT,
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
import { customerIdOf, type InputEvent } from '@tierstream/contracts';
import { generateWorkload, resolveOptions } from '@tierstream/generator';
import { parseRules } from '@tierstream/tiering';
import { dayOf, endOfDay, TierStateStore } from '@tierstream/tierstate';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type OracleResult, runPipelineOracle } from './pipeline-oracle';

/**
 * The e2e pipeline scenario, shared by test/e2e/pipeline.e2e.test.ts (single Redis) and test/e2e/cluster.e2e.test.ts
 * (Redis Cluster): the whole pipeline (aggregator → tier engine → warehouse writer) as real processes over the real
 * stack, in replay mode, on the `tiny` profile, with kill -9 of the aggregator (twice) and of the writer mid-run.
 * Everything that comes out — Redis aggregates, tier state, the set of transition ids, ClickHouse snapshots per tier
 * per day — must equal the batch oracle computed from the generator's events.
 */
export const CUTPOINTS_EVERY_DAYS = 7;

export interface PipelineScenario {
  /** Connections of the test process, on the same Redis as the services. */
  clients: Clients;
  events: InputEvent[];
  oracle: OracleResult;
  /** The replay's end (closing watermark). */
  endAt: number;
}

export interface PipelineScenarioOptions {
  /** Redis of the services and of `clients` (`redis://…` or `redis-cluster://h:p,h:p,…`); default: REDIS_URL. */
  redisUrl?: string;
}

/**
 * Call inside a `describe`: computes the oracle at once, runs the pipeline in `beforeAll`, stops the services in
 * `afterAll`, and registers the checks of the pipeline's outputs against the oracle. Further checks may use the
 * returned scenario (the data stays in place after the services stop).
 */
export function pipelineScenario(opts: PipelineScenarioOptions = {}): PipelineScenario {
  const endpoints = stackEndpoints(process.env);
  const redisUrl = opts.redisUrl ?? endpoints.redisUrl;
  const clients = new Clients({ ...endpoints, redisUrl });
  const events: InputEvent[] = [...generateWorkload('tiny')];
  const options = resolveOptions('tiny');
  const endAt = endOfDay(dayOf(typeof options.end === 'number' ? options.end : Date.parse(options.end)));
  const rules = parseRules(readFileSync(path.join(REPO_ROOT, 'rules/default.yaml'), 'utf8'), 'rules/default.yaml');
  const oracle = runPipelineOracle({
    events,
    rules,
    aggregateConfig: DEFAULT_AGGREGATE_CONFIG,
    cutPointsEveryDays: CUTPOINTS_EVERY_DAYS,
    endAt,
  });
  const procs = new Map<ServiceName, ServiceProcess>();
  const env = {
    CLOCK_MODE: 'replay',
    HTTP_PORT: '0',
    CUTPOINTS_EVERY_DAYS: String(CUTPOINTS_EVERY_DAYS),
    LOG_LEVEL: 'warn',
    REDIS_URL: redisUrl,
  };
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
    // Crash the aggregator twice while it works (no shutdown hook runs), and the writer once; restart them.
    await new Promise((r) => setTimeout(r, 1500));
    await killService(procs.get('aggregator')!);
    start('aggregator');
    await feedEvents(producer, clients.serde, events.slice(half));
    await new Promise((r) => setTimeout(r, 2500));
    await killService(procs.get('aggregator')!);
    await killService(procs.get('warehouse-writer')!);
    start('aggregator');
    start('warehouse-writer');
    await sendWatermarks(await clients.admin(), producer, endAt);
    await waitForPipeline(clients, endAt, {
      timeoutMs: 480_000,
      isAlive: () => {
        const dead = [...procs.values()].find((p) => p.child.exitCode !== null);
        return dead ? `${dead.name} exited with ${dead.child.exitCode}` : null;
      },
    });
  });

  afterAll(async () => {
    await Promise.all([...procs.values()].map((p) => stopService(p)));
    await clients.close();
  });

  it('Redis aggregates equal the batch oracle for every customer', async () => {
    const store = new AggregateStore(clients.redis, { prefix: clients.redisPrefix, config: DEFAULT_AGGREGATE_CONFIG });
    await store.init();
    const byCustomer = new Map<string, InputEvent[]>();
    for (const e of events) {
      const id = customerIdOf(e);
      if (id) byCustomer.set(id, [...(byCustomer.get(id) ?? []), e]);
    }
    const ids = [...byCustomer.keys()];
    const states = await store.readMany(ids);
    expect(states.size).toBe(ids.length);
    for (const id of ids) {
      expect(metricsAt(states.get(id)!, endAt, DEFAULT_AGGREGATE_CONFIG), id).toEqual(
        oracleMetrics(byCustomer.get(id)!, endAt, DEFAULT_AGGREGATE_CONFIG, 48 * 3_600_000),
      );
    }
  });

  it('tier state in Redis equals the oracle for every customer', async () => {
    const states = await new TierStateStore(clients.redis, clients.redisPrefix).readStates([...oracle.states.keys()]);
    for (const [id, expected] of oracle.states) {
      expect(states.get(id)?.tiers, id).toEqual(expected.tiers);
    }
  });

  it('ClickHouse holds exactly the oracle transitions (by id), none duplicated', async () => {
    const db = clients.endpoints.clickhouseDatabase;
    const rs = await clients.clickhouse.query({
      query: `SELECT transition_id FROM ${db}.tier_transitions FINAL`,
      format: 'JSONEachRow',
    });
    const ids = (await rs.json<{ transition_id: string }>()).map((r) => r.transition_id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(new Set(ids)).toEqual(new Set(oracle.transitions.map((t) => t.transition_id)));
    expect(oracle.transitions.length).toBeGreaterThan(100);
  });

  it('ClickHouse snapshot counts per tier per day equal the oracle, for every dimension and day', async () => {
    const db = clients.endpoints.clickhouseDatabase;
    const rs = await clients.clickhouse.query({
      query: `SELECT toString(snapshot_day) AS day, dim, tier, count() AS n
              FROM ${db}.tier_snapshots FINAL ARRAY JOIN dims AS dim, tiers AS tier
              GROUP BY day, dim, tier`,
      format: 'JSONEachRow',
    });
    const actual = new Map(
      (await rs.json<{ day: string; dim: string; tier: string; n: string }>()).map((r) => [
        `${r.day}|${r.dim}|${r.tier}`,
        Number(r.n),
      ]),
    );
    expect(actual).toEqual(oracle.distribution);
  });

  return { clients, events, oracle, endAt };
}
