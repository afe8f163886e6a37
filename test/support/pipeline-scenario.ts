import {
  bootstrapPipeline,
  Clients,
  feedEvents,
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
import type { InputEvent } from '@tierstream/contracts';
import { generateWorkload, resolveOptions } from '@tierstream/generator';
import { dayOf, endOfDay, isoDay } from '@tierstream/tierstate';
import { QUERIES_DIR, runNamedQuery } from '@tierstream/warehouse';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aggregateMismatches, tierStateMismatches } from './oracle-checks';
import { type OracleResult, runPipelineOracle } from './pipeline-oracle';
import { historyDistribution, historyMetric, warehouseTransitionIds } from './warehouse-reads';

/**
 * The e2e pipeline scenario, shared by test/e2e/pipeline.e2e.test.ts (single Redis) and test/e2e/cluster.e2e.test.ts
 * (Redis Cluster): the whole pipeline (aggregator → tier engine → warehouse writer) as real processes over the real
 * stack, in replay mode, on the `tiny` profile, with kill -9 of the aggregator (twice) and of the writer mid-run.
 * Everything that comes out — Redis aggregates, tier state, the set of transition ids, the ClickHouse history (tiers
 * per customer per day from tier_history, revenue metrics per customer per day from metric_history), and every query
 * of the analyst SQL pack, day by day — must equal the batch oracle computed from the generator's events.
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
  /** Every output line of the services (stdout and stderr), e.g. to search them for secrets; default: dropped. */
  onLine?: (service: string, line: string) => void;
  /** LOG_LEVEL of the services; default warn. */
  logLevel?: string;
}

/**
 * Call inside a `describe`: computes the oracle at once, runs the pipeline in `beforeAll`, stops the services in
 * `afterAll`, and registers the checks of the pipeline's outputs against the oracle. Further checks may use the
 * returned scenario (the data stays in place after the services stop).
 */
export function pipelineScenario(opts: PipelineScenarioOptions = {}): PipelineScenario {
  const endpoints = stackEndpoints(process.env);
  const redisUrl = opts.redisUrl ?? endpoints.redisUrl;
  const clients = new Clients(loadCliConfig({ ...process.env, REDIS_URL: redisUrl }));
  const events: InputEvent[] = [...generateWorkload('tiny')];
  const options = resolveOptions('tiny');
  const endAt = endOfDay(dayOf(typeof options.end === 'number' ? options.end : Date.parse(options.end)));
  const oracle = runPipelineOracle({
    events,
    cutPointsEveryDays: CUTPOINTS_EVERY_DAYS,
    endAt,
  });
  const procs = new Map<ServiceName, ServiceProcess>();
  const env = {
    CLOCK_MODE: 'replay',
    HTTP_PORT: '0',
    CUTPOINTS_EVERY_DAYS: String(CUTPOINTS_EVERY_DAYS),
    LOG_LEVEL: opts.logLevel ?? 'warn',
    REDIS_URL: redisUrl,
  };
  const start = (name: ServiceName) => procs.set(name, startService(name, env, opts.onLine ?? (() => undefined)));

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

  const lastDay = isoDay(dayOf(endAt));
  /** Every day of the oracle, from the first event day to the last closed day. */
  const days = [...oracle.snapshots.keys()];

  it('ClickHouse tier history gives the oracle counts per tier, for every dimension and every day', async () => {
    expect(await historyDistribution(clients, lastDay)).toEqual(oracle.distribution);
  });

  it('ClickHouse metric history gives the oracle revenue_365d and revenue_lifetime, for every customer and day', async () => {
    for (const metric of ['revenue_365d', 'revenue_lifetime'] as const) {
      const actual = await historyMetric(clients, metric, lastDay);
      const mismatches: string[] = [];
      for (const day of days) {
        const expected = oracle.metrics.get(day)!;
        const got = actual.get(day) ?? new Map<string, number>();
        for (const id of new Set([...expected.keys(), ...got.keys()])) {
          const want = expected.get(id)?.[metric] ?? undefined;
          if (got.get(id) !== want) mismatches.push(`${day} ${id} ${metric}: ${got.get(id)} != ${want}`);
        }
      }
      expect(mismatches.slice(0, 20), `${mismatches.length} mismatches`).toEqual([]);
    }
  });

  describe('every query of the analyst SQL pack, against the oracle', () => {
    const db = () => clients.endpoints.clickhouseDatabase;
    const run = async (name: string, params: Record<string, string>) =>
      (await runNamedQuery(clients.clickhouse, { dir: QUERIES_DIR, name, params, database: db() })).rows;
    const sortRows = <T extends Record<string, unknown>>(rows: T[]) =>
      [...rows].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
    const count = <K extends string>(keys: K[]) => {
      const m = new Map<K, number>();
      for (const k of keys) m.set(k, (m.get(k) ?? 0) + 1);
      return m;
    };

    it('tier_distribution_daily, every dimension over the whole range', async () => {
      const dimensions = new Set([...oracle.distribution.keys()].map((k) => k.split('|')[1]!));
      expect(dimensions.size).toBeGreaterThan(2);
      for (const dimension of dimensions) {
        const rows = await run('tier_distribution_daily', { dimension, from: days[0]!, to: lastDay });
        const expected = [...oracle.distribution]
          .filter(([k]) => k.split('|')[1] === dimension)
          .map(([k, n]) => ({ day: k.split('|')[0], tier: k.split('|')[2], customers: n }));
        expect(sortRows(rows), dimension).toEqual(sortRows(expected));
      }
    });

    it('migration_matrix, for several pairs of days', async () => {
      const at = (i: number) => days[Math.max(0, Math.min(days.length - 1, i))]!;
      const n = days.length;
      const pairs = [
        [at(n - 31), lastDay],
        [at(0), lastDay],
        [at(Math.floor(n / 3)), at(Math.floor(n / 3) + 7)],
        [at(Math.floor(n / 2)), at(Math.floor(n / 2))],
        [lastDay, at(n - 60)], // backwards: the from day after the to day
      ] as const;
      for (const [from, to] of pairs) {
        const rows = await run('migration_matrix', { dimension: 'value_tier', from, to });
        const a = oracle.snapshots.get(from)!;
        const b = oracle.snapshots.get(to)!;
        const ids = new Set([...a.keys(), ...b.keys()]);
        const pairsCount = count(
          [...ids]
            .map((id) => `${a.get(id)?.value_tier ?? '(none)'}|${b.get(id)?.value_tier ?? '(none)'}`)
            .filter((k) => k !== '(none)|(none)'),
        );
        const expected = [...pairsCount].map(([k, c]) => ({
          from_tier: k.split('|')[0],
          to_tier: k.split('|')[1],
          customers: c,
        }));
        expect(sortRows(rows), `${from} -> ${to}`).toEqual(sortRows(expected));
        if (from === at(n - 31)) expect(expected.length).toBeGreaterThan(3);
      }
    });

    it('revenue_share, on every 7th day and the last day', async () => {
      const checked = days.filter((_, i) => i % 7 === 0);
      if (!checked.includes(lastDay)) checked.push(lastDay);
      for (const day of checked) {
        const rows = await run('revenue_share', { day });
        const tiers = oracle.snapshots.get(day)!;
        const metrics = oracle.metrics.get(day)!;
        const per = new Map<string, { customers: number; revenue: number }>();
        for (const [id, t] of tiers) {
          if (!t.value_tier) continue;
          const e = per.get(t.value_tier) ?? { customers: 0, revenue: 0 };
          e.customers++;
          e.revenue += metrics.get(id)!.revenue_365d ?? 0;
          per.set(t.value_tier, e);
        }
        expect(
          rows
            .map((r) => ({ tier: r.tier, customers: Number(r.customers), revenue: Number(r.revenue) }))
            .sort((x, y) => String(x.tier).localeCompare(String(y.tier))),
          day,
        ).toEqual([...per].map(([tier, e]) => ({ tier, ...e })).sort((x, y) => x.tier.localeCompare(y.tier)));
      }
    });

    it('customer_on_day, for a few customers and days', async () => {
      const ids = [...oracle.states.keys()].sort();
      const picks = [ids[0]!, ids[Math.floor(ids.length / 2)]!, ids[ids.length - 1]!];
      for (const id of picks) {
        for (const day of [days[Math.floor(days.length / 2)]!, lastDay]) {
          const rows = await run('customer_on_day', { customer_id: id, day });
          const tiers = oracle.snapshots.get(day)!.get(id);
          expect(
            Object.fromEntries(rows.filter((r) => r.kind === 'tier').map((r) => [r.name, r.value])),
            `${id} ${day}`,
          ).toEqual(tiers ?? {});
          const metrics = oracle.metrics.get(day)!.get(id);
          const value = (name: string) => rows.find((r) => r.kind === 'metric' && r.name === name)?.value;
          for (const name of ['revenue_365d', 'revenue_lifetime', 'orders_lifetime'] as const) {
            expect(value(name) === undefined ? undefined : Number(value(name)), `${id} ${day} ${name}`).toBe(
              metrics?.[name] ?? undefined,
            );
          }
        }
      }
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
