import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  bootstrapPipeline,
  Clients,
  GROUPS,
  OUTPUT_TOPICS,
  REPO_ROOT,
  resetPipelineData,
  type ServiceProcess,
  startService,
  stopService,
  waitForPipeline,
} from '@tierstream/cli';
import { isLocalStackEndpoint, stackEndpoints } from '@tierstream/config';
import { DLQ_TOPICS, INPUT_TOPICS, TOPICS } from '@tierstream/contracts';
import { parseRules } from '@tierstream/tiering';
import { TierStateStore } from '@tierstream/tierstate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { limited, type RunningPipeline, readTopic, startPipeline, tierctl, waitForGroupLag } from '../support/journeys';

/**
 * tierctl as an operator or analyst runs it: a new Node process per command (node --import tsx), the stack's
 * endpoints from the environment, asserting exit codes and what it prints.
 */

const CDNOW_SAMPLE = path.join(REPO_ROOT, 'data', 'cdnow', 'CDNOW_sample.txt');
const TINY_END = '2026-06-30T23:59:59.999Z';
const DAY_MS = 86_400_000;

interface CdnowOrder {
  customer: string;
  day: number;
  cents: number;
}

/** The CDNOW sample, read independently of the product's parser: every row one order at 12:00 UTC, in cents. */
function readCdnowSample(file: string): CdnowOrder[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((line) => {
      const [customer, , date, , dollars] = line.trim().split(/\s+/) as [string, string, string, string, string];
      const noon = Date.UTC(Number(date.slice(0, 4)), Number(date.slice(4, 6)) - 1, Number(date.slice(6, 8)), 12);
      return { customer, day: Math.floor(noon / DAY_MS), cents: Math.round(Number(dollars) * 100) };
    });
}

/** Order counts, revenue and recency of one customer as of the end of day `asOfDay` (windows: D − n < day ≤ D). */
function expectedMetrics(orders: CdnowOrder[], asOfDay: number) {
  const upTo = orders.filter((o) => o.day <= asOfDay);
  const within = (n: number) => upTo.filter((o) => o.day > asOfDay - n);
  const sum = (list: CdnowOrder[]) => list.reduce((s, o) => s + o.cents, 0);
  return {
    orders_lifetime: upTo.length,
    revenue_lifetime: sum(upTo),
    orders_30d: within(30).length,
    revenue_30d: sum(within(30)),
    orders_90d: within(90).length,
    revenue_90d: sum(within(90)),
    orders_365d: within(365).length,
    revenue_365d: sum(within(365)),
    recency_days: asOfDay - Math.max(...upTo.map((o) => o.day)),
  };
}

/**
 * gen and replay cdnow write only to the local stack unless told (item 5 of issue 21): under TIERSTREAM_STACK=testcontainers
 * the brokers are this run's own containers on mapped ports, and the test says so explicitly.
 */
const wipeFlags = (): string[] => {
  const brokers = stackEndpoints().kafkaBrokers.join(',');
  return isLocalStackEndpoint('kafka', brokers) ? [] : ['--i-know-this-wipes', brokers];
};

const parseJson = <T>(r: { stdout: string; stderr: string; code: number | null }): T => {
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as T;
};

describe('tierctl end to end', () => {
  const clients = new Clients();
  let tmp = '';
  let pipeline: RunningPipeline | null = null;
  let aggregator: ServiceProcess | null = null;

  beforeAll(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'tierstream-cli-'));
    await resetPipelineData(clients);
  });

  afterAll(async () => {
    await pipeline?.stop();
    if (aggregator) await stopService(aggregator);
    await clients.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('bootstraps the stack: schemas register, topics apply, warehouse migrate', async () => {
    // Topics first: registering and migrating do not need them, but the order is what an operator follows.
    const topics = parseJson<{ created: string[] }>(await tierctl(['topics', 'apply', '--json']));
    expect(topics.created).toEqual(expect.arrayContaining([...INPUT_TOPICS, 'customer-tier-transitions.v1']));
    const [schemas, migrations] = await Promise.all([
      tierctl(['schemas', 'register', '--json']).then((r) => parseJson<Record<string, number>>(r)),
      tierctl(['warehouse', 'migrate', '--json']).then((r) => parseJson<{ applied: string[] }>(r)),
    ]);
    expect(Object.keys(schemas)).toEqual(expect.arrayContaining(INPUT_TOPICS.map((t) => `${t}-value`)));
    expect(migrations.applied.length).toBeGreaterThan(0);
    // Idempotent: a second migrate applies nothing.
    expect(parseJson<{ applied: string[] }>(await tierctl(['warehouse', 'migrate', '--json'])).applied).toEqual([]);
  });

  it('gen --profile tiny fills the input topics with exactly the numbers it prints', async () => {
    const out = parseJson<{
      options: { customers: number; days: number; seed: number };
      summary: { events: number; byTopic: Record<string, number> };
      produced: Record<string, number>;
    }>(await tierctl(['gen', '--profile', 'tiny', '--end-at', TINY_END, '--json', ...wipeFlags()]));
    expect(out.options).toMatchObject({ customers: 200, days: 120, seed: 7 });
    expect(out.produced).toEqual(out.summary.byTopic);
    expect(Object.values(out.produced).reduce((a, b) => a + b, 0)).toBe(out.summary.events);
    for (const topic of INPUT_TOPICS) {
      const records = await readTopic(clients, topic);
      const data = records.filter((r) => !r.control);
      const control = records.filter((r) => r.control);
      expect(data.length, topic).toBe(out.produced[topic]);
      // --end-at closes the replay: one watermark record per partition, after the data, carrying the instant.
      const partitions = new Set(records.map((r) => r.partition));
      expect(control.length, topic).toBe(partitions.size);
      for (const c of control) expect(c.value?.toString(), topic).toBe(String(Date.parse(TINY_END)));
    }
  });

  it('after a pipeline run, sql tier_distribution_daily answers from the tier history, and status shows no lag', async () => {
    pipeline = startPipeline({ SWEEP_INTERVAL_MS: '20' });
    await waitForPipeline(clients, Date.parse(TINY_END), { timeoutMs: 180_000, isAlive: pipeline.isAlive });
    const day = TINY_END.slice(0, 10);
    const rows = parseJson<Array<{ day: string; tier: string; customers: string | number }>>(
      await tierctl([
        'sql',
        'tier_distribution_daily',
        '--param',
        'dimension=lifecycle',
        '--param',
        `from=${day}`,
        '--param',
        `to=${day}`,
        '--json',
      ]),
    );
    const db = clients.endpoints.clickhouseDatabase;
    const rs = await clients.clickhouse.query({
      // Each customer's latest tier_history row on or before the day.
      query: `SELECT tier, count() AS n FROM (
                SELECT customer_id, argMax(tiers[indexOf(dims, 'lifecycle')], valid_from) AS tier
                FROM (SELECT customer_id, valid_from, dims, tiers FROM ${db}.tier_history FINAL WHERE valid_from <= toDate('${day}'))
                GROUP BY customer_id)
              WHERE tier != '' GROUP BY tier`,
      format: 'JSONEachRow',
    });
    const direct = Object.fromEntries((await rs.json<{ tier: string; n: string }>()).map((r) => [r.tier, Number(r.n)]));
    expect(Object.keys(direct).length).toBeGreaterThan(2);
    expect(rows.every((r) => String(r.day).startsWith(day))).toBe(true);
    expect(Object.fromEntries(rows.map((r) => [r.tier, Number(r.customers)]))).toEqual(direct);

    const status = parseJson<{
      health: Record<string, string>;
      lag: Array<{ group: string; topic: string; partition: number; lag: number }>;
      dlq: Record<string, number>;
    }>(await tierctl(['status', '--json']));
    expect(status.health).toEqual({ kafka: 'ok', 'schema-registry': 'ok', redis: 'ok', clickhouse: 'ok' });
    for (const group of [GROUPS.aggregator, GROUPS.writer]) {
      const lags = status.lag.filter((l) => l.group === group);
      expect(lags.length, group).toBeGreaterThan(0);
      for (const l of lags) expect(l.lag, `${l.group} ${l.topic}`).toBe(0);
    }
    // One row per partition (the runbook's "lag per group and partition"): every signal partition of the engine.
    const engineRows = status.lag.filter((l) => l.group === GROUPS.engine);
    expect(engineRows.map((l) => l.partition).sort()).toEqual([0, 1, 2]);
    expect(Object.keys(status.dlq).sort()).toEqual([...DLQ_TOPICS].sort());
    await pipeline.stop();
    pipeline = null;
  });

  it('customer --as-of: the tiers of that day from tier_history; without it the current tiers and pending demotions', async () => {
    // Runs on the tiny pipeline's data of the test before (tier_history read directly as the oracle).
    const db = clients.endpoints.clickhouseDatabase;
    const rs = await clients.clickhouse.query({
      query: `SELECT customer_id, toString(valid_from) AS day, dims, tiers
              FROM ${db}.tier_history FINAL ORDER BY customer_id, valid_from`,
      format: 'JSONEachRow',
    });
    const rows = await rs.json<{ customer_id: string; day: string; dims: string[]; tiers: string[] }>();
    const byCustomer = new Map<string, Array<{ day: string; tiers: Record<string, string> }>>();
    for (const r of rows) {
      const list = byCustomer.get(r.customer_id) ?? [];
      list.push({ day: r.day, tiers: Object.fromEntries(r.dims.map((d, i) => [d, r.tiers[i]!])) });
      byCustomer.set(r.customer_id, list);
    }
    // A customer whose value tier today differs from its first one: the old command showed today's tiers.
    const tierState = new TierStateStore(clients.redis, clients.redisPrefix);
    const candidates = [...byCustomer].filter(
      ([, h]) => h.length >= 2 && h[0]!.tiers.value_tier !== h.at(-1)!.tiers.value_tier,
    );
    expect(candidates.length).toBeGreaterThan(0);
    const [id, history] = candidates[0]!;
    const current = (await tierState.readStates([id])).get(id)!;
    expect(current.tiers.value_tier).toBe(history.at(-1)!.tiers.value_tier);
    const first = history[0]!;
    const earlier = parseJson<{
      tiers: Record<string, string>;
      tiers_from: string;
      tiers_source: string;
      metrics: Record<string, number> | null;
      day: string;
    }>(await tierctl(['customer', id, '--as-of', `${first.day}T18:00:00Z`, '--json']));
    expect(earlier.tiers).toEqual(first.tiers);
    expect(earlier.tiers.value_tier).not.toBe(current.tiers.value_tier);
    expect(earlier).toMatchObject({ tiers_from: first.day, tiers_source: 'tier_history', day: first.day });
    expect(earlier.metrics).not.toBeNull();
    // The day before the customer's first row: history has none, and says so.
    const dayBefore = new Date(Date.parse(first.day) - DAY_MS).toISOString().slice(0, 10);
    const none = await tierctl(['customer', id, '--as-of', `${dayBefore}T12:00:00Z`]);
    expect(none.code, none.stderr).toBe(0);
    expect(none.stdout).toContain(`no tier_history row for ${id} on or before ${dayBefore}`);

    // Default: now. The current tiers (tier state) with pending demotions held by grace (target, since, until).
    const meta = await (await clients.admin()).fetchTopicMetadata({ topics: [TOPICS.signals] });
    let held: { id: string; dimension: string; tier: string; since: number } | null = null;
    for (let p = 0; p < (meta.topics[0]?.partitions.length ?? 0) && !held; p++) {
      for await (const ids of tierState.customers(p)) {
        for (const [cid, st] of await tierState.readStates(ids)) {
          const [dimension, pend] = Object.entries(st.pending)[0] ?? [];
          if (dimension && pend) held = { id: cid, dimension, tier: pend.tier, since: pend.since_day };
        }
        if (held) break;
      }
    }
    expect(held, 'a customer with a demotion held by grace at the end of the tiny replay').not.toBeNull();
    const grace = parseRules(
      readFileSync(path.join(REPO_ROOT, 'rules/default.yaml'), 'utf8'),
      'default',
    ).dimensions.find((d) => d.id === held!.dimension)!.grace_days;
    const iso = (day: number) => new Date(day * DAY_MS).toISOString().slice(0, 10);
    const before = Date.now();
    const now = parseJson<{ as_of: string; tiers_source: string; pending: Record<string, unknown> }>(
      await tierctl(['customer', held!.id, '--json']),
    );
    expect(now.tiers_source).toBe('tier_state');
    expect(Date.parse(now.as_of)).toBeGreaterThanOrEqual(before);
    expect(Date.parse(now.as_of)).toBeLessThanOrEqual(Date.now());
    expect(now.pending[held!.dimension]).toEqual({
      tier: held!.tier,
      since_day: iso(held!.since),
      until_day: iso(held!.since + grace),
    });
    const text = await tierctl(['customer', held!.id]);
    expect(text.stdout).toContain(`→ ${held!.tier} since ${iso(held!.since)} until ${iso(held!.since + grace)}`);
    const help = await tierctl(['customer', '--help']);
    expect(help.stdout.replace(/\s+/g, ' ')).toContain(
      '(default: now: the current tiers from the tier state and metrics as of now)',
    );
  });

  it('replay offsets resets the topics the group consumes, and refuses a topic it never consumed', async () => {
    // The warehouse writer's re-drive (the runbook's): its own four topics, not the input topics.
    const done = parseJson<Array<{ topic: string }>>(
      await tierctl(['replay', 'offsets', '--group', GROUPS.writer, '--from-offsets', 'latest', '--json']),
    );
    expect([...new Set(done.map((d) => d.topic))].sort()).toEqual([...OUTPUT_TOPICS].sort());
    const refused = await tierctl([
      'replay',
      'offsets',
      '--group',
      GROUPS.writer,
      '--topic',
      INPUT_TOPICS[0],
      '--from-offsets',
      'earliest',
    ]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`group ${GROUPS.writer} never consumed ${INPUT_TOPICS[0]}`);
    const unknown = await tierctl(['replay', 'offsets', '--group', 'no-such-group', '--from-offsets', 'latest']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('has no committed offsets');
  });

  it('replay cdnow + the aggregator: customer metrics as of 1998-06-30 equal the file', async () => {
    await resetPipelineData(clients);
    await bootstrapPipeline(clients);
    const orders = readCdnowSample(CDNOW_SAMPLE);
    const replay = parseJson<{ events: number; customers: number; produced: Record<string, number> }>(
      await tierctl(['replay', 'cdnow', CDNOW_SAMPLE, '--json', ...wipeFlags()]),
    );
    expect(replay.events).toBe(orders.length);
    expect(replay.customers).toBe(new Set(orders.map((o) => o.customer)).size);
    expect(replay.produced).toEqual({ 'orders.v1': orders.length });

    aggregator = startService('aggregator', { HTTP_PORT: '0', LOG_LEVEL: 'warn' }, () => undefined);
    const a = aggregator;
    await waitForGroupLag(clients, GROUPS.aggregator, INPUT_TOPICS, {
      timeoutMs: 120_000,
      isAlive: () => (a.child.exitCode !== null ? `aggregator exited with ${a.child.exitCode}` : null),
    });

    const asOfDay = Math.floor(Date.parse('1998-06-30T00:00:00Z') / DAY_MS);
    const byCustomer = new Map<string, CdnowOrder[]>();
    for (const o of orders) byCustomer.set(o.customer, [...(byCustomer.get(o.customer) ?? []), o]);
    const ids = [...byCustomer.keys()].sort();
    const lastDay = (id: string) => Math.max(...byCustomer.get(id)!.map((o) => o.day));
    // A few customers that exercise every window: the most frequent buyers, recent buyers, a one-time buyer.
    const byCount = [...ids].sort(
      (x, y) => byCustomer.get(y)!.length - byCustomer.get(x)!.length || x.localeCompare(y),
    );
    const recent = ids.filter((id) => lastDay(id) > asOfDay - 30);
    const quarter = ids.filter((id) => lastDay(id) > asOfDay - 90 && lastDay(id) <= asOfDay - 30);
    const once = ids.filter((id) => byCustomer.get(id)!.length === 1);
    const chosen = [...new Set([byCount[0]!, byCount[1]!, recent[0]!, recent.at(-1)!, quarter[0]!, once[0]!])];
    expect(chosen.length).toBeGreaterThanOrEqual(5);

    const results = await limited(chosen, 2, (id) =>
      tierctl(['customer', id, '--as-of', '1998-06-30T23:59:59Z', '--json']),
    );
    chosen.forEach((id, i) => {
      const out = parseJson<{ customer_id: string; metrics: Record<string, number | null> }>(results[i]!);
      expect(out.customer_id).toBe(id);
      const expected = expectedMetrics(byCustomer.get(id)!, asOfDay);
      const actual = Object.fromEntries(Object.keys(expected).map((k) => [k, out.metrics[k]]));
      expect(actual, id).toEqual(expected);
    });

    const unknown = await tierctl(['customer', 'no-such-customer', '--json']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('customer no-such-customer has no aggregates');
  });

  it('rules validate: a good file is valid, a broken one exits 1 naming the file and the path', async () => {
    const good = await tierctl(['rules', 'validate', 'rules/default.yaml']);
    expect(good.code, good.stderr).toBe(0);
    expect(good.stdout).toMatch(
      /^rules\/default\.yaml: valid \(version .+; dimensions value_tier, rfm_segment, lifecycle/,
    );

    const broken = path.join(tmp, 'broken.yaml');
    writeFileSync(
      broken,
      readFileSync(path.join(REPO_ROOT, 'rules/default.yaml'), 'utf8')
        .replace('grace_days: 14', 'grace_dayz: 14')
        .replace('- { tier: GOLD, share: 0.3 }', '- { tier: GOLD, share: "x" }'),
    );
    const bad = await tierctl(['rules', 'validate', broken]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toContain(`${broken}: dimensions[0].grace_dayz: unknown key`);
    expect(bad.stderr).toContain(`${broken}: dimensions[0].scoring.tiers[1].share:`);

    const missing = await tierctl(['rules', 'validate', path.join(tmp, 'nope.yaml')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('nope.yaml');
  });

  it('sql: --list, an unknown query and a missing parameter', async () => {
    const [list, nope, noParam, badParam] = await limited(
      [
        ['sql', '--list', '--json'],
        ['sql', 'nope'],
        ['sql', 'tier_distribution_daily', '--param', 'dimension=lifecycle', '--param', 'to=2026-06-30'],
        ['sql', 'tier_distribution_daily', '--param', 'from'],
      ],
      2,
      (args) => tierctl(args),
    );
    const queries = parseJson<Array<{ name: string; params: string }>>(list!);
    expect(queries.map((q) => q.name)).toEqual(
      expect.arrayContaining(['tier_distribution_daily', 'migration_matrix', 'transitions_by_reason']),
    );
    expect(queries.find((q) => q.name === 'tier_distribution_daily')?.params).toBe(
      'dimension:String=value_tier from:Date to:Date',
    );
    expect(nope!.code).toBe(1);
    expect(nope!.stderr).toContain("unknown query 'nope' (available: ");
    expect(noParam!.code).toBe(1);
    expect(noParam!.stderr).toContain("missing required parameter 'from' (Date)");
    expect(badParam!.code).toBe(2); // a malformed argument is a usage error
    expect(badParam!.stderr).toContain('expected --param name=value, got "from"');
  });

  it('--help of every command exits 0 and shows its usage', async () => {
    const commands = [
      [],
      ['schemas', 'register'],
      ['topics', 'apply'],
      ['warehouse', 'migrate'],
      ['gen'],
      ['replay', 'cdnow'],
      ['replay', 'offsets'],
      ['dlq', 'inspect'],
      ['dlq', 'replay'],
      ['customer'],
      ['rules', 'validate'],
      ['rules', 'diff'],
      ['rules', 'apply'],
      ['rules', 'show'],
      ['rules', 'history'],
      ['rules', 'rollback'],
      ['sql'],
      ['status'],
      ['cutpoints'],
    ];
    const results = await limited(commands, 3, (cmd) => tierctl([...cmd, '--help']));
    commands.forEach((cmd, i) => {
      const r = results[i]!;
      expect(r.code, `${cmd.join(' ')} --help: ${r.stderr}`).toBe(0);
      expect(r.stdout, cmd.join(' ')).toContain(`Usage: tierctl ${cmd.join(' ')}`.trim());
    });
  });
});
