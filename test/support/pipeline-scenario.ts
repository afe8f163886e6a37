import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DEFAULT_AGGREGATE_CONFIG } from '@tierstream/aggregates';
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
import type { InputEvent } from '@tierstream/contracts';
import { generateWorkload, resolveOptions } from '@tierstream/generator';
import { parseRules } from '@tierstream/tiering';
import { dayOf, endOfDay, isoDay } from '@tierstream/tierstate';
import { QUERIES_DIR, runNamedQuery } from '@tierstream/warehouse';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aggregateMismatches, tierStateMismatches } from './oracle-checks';
import { type OracleResult, runPipelineOracle } from './pipeline-oracle';
import { snapshotDistribution, warehouseTransitionIds } from './warehouse-reads';

/**
 * The e2e pipeline scenario, shared by test/e2e/pipeline.e2e.test.ts (single Redis) and test/e2e/cluster.e2e.test.ts
 * (Redis Cluster): the whole pipeline (aggregator → tier engine → warehouse writer) as real processes over the real
 * stack, in replay mode, on the `tiny` profile, with kill -9 of the aggregator (twice) and of the writer mid-run.
 * Everything that comes out — Redis aggregates, tier state, the set of transition ids, ClickHouse snapshots per tier
 * per day, and every query of the analyst SQL pack — must equal the batch oracle computed from the generator's events.
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
    expect(await aggregateMismatches(clients, events, endAt)).toEqual([]);
  });

  it('tier state in Redis equals the oracle for every customer', async () => {
    expect(await tierStateMismatches(clients, oracle)).toEqual([]);
  });

  it('ClickHouse holds exactly the oracle transitions (by id), none duplicated', async () => {
    const ids = await warehouseTransitionIds(clients);
    expect(new Set(ids).size).toBe(ids.length);
    expect(new Set(ids)).toEqual(new Set(oracle.transitions.map((t) => t.transition_id)));
    expect(oracle.transitions.length).toBeGreaterThan(100);
  });

  it('ClickHouse snapshot counts per tier per day equal the oracle, for every dimension and day', async () => {
    expect(await snapshotDistribution(clients)).toEqual(oracle.distribution);
  });

  describe('every query of the analyst SQL pack, against the oracle', () => {
    const db = () => clients.endpoints.clickhouseDatabase;
    const lastDay = isoDay(dayOf(endAt));
    const run = async (name: string, params: Record<string, string>) =>
      (await runNamedQuery(clients.clickhouse, { dir: QUERIES_DIR, name, params, database: db() })).rows;
    const sortRows = <T extends Record<string, unknown>>(rows: T[]) =>
      [...rows].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
    const count = <K extends string>(keys: K[]) => {
      const m = new Map<K, number>();
      for (const k of keys) m.set(k, (m.get(k) ?? 0) + 1);
      return m;
    };

    it('tier_distribution_daily', async () => {
      const rows = await run('tier_distribution_daily', { dimension: 'lifecycle', from: lastDay, to: lastDay });
      const expected = [...oracle.distribution]
        .filter(([k]) => k.startsWith(`${lastDay}|lifecycle|`))
        .map(([k, n]) => ({ day: lastDay, tier: k.split('|')[2], customers: n }));
      expect(sortRows(rows)).toEqual(sortRows(expected));
    });

    it('migration_matrix', async () => {
      const from = isoDay(dayOf(endAt) - 30);
      const rows = await run('migration_matrix', { dimension: 'value_tier', from, to: lastDay });
      const a = oracle.snapshots.get(from)!;
      const b = oracle.snapshots.get(lastDay)!;
      const ids = new Set([...a.keys(), ...b.keys()]);
      const pairs = count(
        [...ids].map((id) => `${a.get(id)?.value_tier ?? '(none)'}|${b.get(id)?.value_tier ?? '(none)'}`),
      );
      const expected = [...pairs].map(([k, n]) => ({
        from_tier: k.split('|')[0],
        to_tier: k.split('|')[1],
        customers: n,
      }));
      expect(sortRows(rows)).toEqual(sortRows(expected));
      expect(expected.length).toBeGreaterThan(3);
    });

    it('revenue_share', async () => {
      const rows = await run('revenue_share', { day: lastDay });
      const tiers = oracle.snapshots.get(lastDay)!;
      const metrics = oracle.metrics.get(lastDay)!;
      const per = new Map<string, { customers: number; revenue: number }>();
      for (const [id, t] of tiers) {
        const e = per.get(t.value_tier!) ?? { customers: 0, revenue: 0 };
        e.customers++;
        e.revenue += metrics.get(id)!.revenue_365d ?? 0;
        per.set(t.value_tier!, e);
      }
      expect(
        rows
          .map((r) => ({ tier: r.tier, customers: Number(r.customers), revenue: Number(r.revenue) }))
          .sort((x, y) => String(x.tier).localeCompare(String(y.tier))),
      ).toEqual([...per].map(([tier, e]) => ({ tier, ...e })).sort((x, y) => x.tier.localeCompare(y.tier)));
    });

    it('high_value_at_risk', async () => {
      const rows = await run('high_value_at_risk', { limit: '1000' });
      const expected = [...oracle.states]
        .filter(([, s]) => ['PLATINUM', 'GOLD'].includes(s.tiers.value_tier!) && s.tiers.lifecycle === 'AT_RISK')
        .map(([id]) => id)
        .sort();
      expect(rows.map((r) => String(r.customer_id)).sort()).toEqual(expected);
    });

    it('transitions_by_reason', async () => {
      const first = isoDay(dayOf(Math.min(...events.map((e) => e.event.occurred_at))));
      const rows = await run('transitions_by_reason', { from: first, to: lastDay });
      const groups = new Map<string, typeof oracle.transitions>();
      for (const t of oracle.transitions) {
        const k = `${isoDay(dayOf(t.occurred_at))}|${t.dimension}|${t.reason}`;
        groups.set(k, [...(groups.get(k) ?? []), t]);
      }
      const expected = [...groups].map(([k, list]) => {
        const [day, dimension, reason] = k.split('|');
        const dir = (d: string) => list.filter((t) => t.direction === d).length;
        return {
          day,
          dimension,
          reason,
          transitions: list.length,
          up: dir('UP'),
          down: dir('DOWN'),
          enter: dir('ENTER'),
          lateral: dir('LATERAL'),
          customers: new Set(list.map((t) => t.customer_id)).size,
        };
      });
      expect(sortRows(rows)).toEqual(sortRows(expected));
    });

    it('cohort_by_first_order_month', async () => {
      const rows = await run('cohort_by_first_order_month', { dimension: 'value_tier' });
      const finalMetrics = oracle.metrics.get(lastDay)!;
      const cohorts = count(
        [...oracle.states].map(([id, s]) => {
          const first = finalMetrics.get(id)?.first_order_at ?? null;
          return `${first === null ? '(no order)' : new Date(first).toISOString().slice(0, 7)}|${s.tiers.value_tier}`;
        }),
      );
      const expected = [...cohorts].map(([k, n]) => ({
        first_order_month: k.split('|')[0],
        tier: k.split('|')[1],
        customers: n,
      }));
      expect(sortRows(rows)).toEqual(sortRows(expected));
    });
  });

  return { clients, events, oracle, endAt };
}
