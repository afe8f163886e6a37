import { engineClosedDays } from '@tierstream/cli';
import { type HealthChecks, startHealthServer } from '@tierstream/observability';
import { isoDay, TierStateStore } from '@tierstream/tierstate';
import { QUERIES_DIR, runNamedQuery } from '@tierstream/warehouse';
import type { Page } from 'playwright-core';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/free-port';
import { consoleFixture } from './support/console-fixture';

/** Opens the Operations page (optionally on `#/operations?day=…`) and waits until it has rendered. */
async function openOperations(page: Page, url: string, day?: string): Promise<void> {
  await page.goto(`${url}/#/operations${day ? `?day=${day}` : ''}`);
  await expect.poll(() => page.getByTestId('page').getAttribute('aria-busy')).toBe('false');
  await page.getByTestId('cutpoints-day').waitFor();
}

/** `data-testid` → `data-value` of every element whose test id starts with `prefix`. */
async function shown(page: Page, prefix: string): Promise<Record<string, string>> {
  const pairs = await page
    .locator(`[data-testid^="${prefix}"]`)
    .evaluateAll((els) => els.map((e) => [e.getAttribute('data-testid'), e.getAttribute('data-value')]));
  return Object.fromEntries(pairs as Array<[string, string]>);
}

/**
 * The Operations page in Chromium over the browser run's data: lag per consumer group and dead-letter sizes equal
 * what the Kafka admin API says (with records the test adds, so they are not all zero), the services' readiness as
 * their health endpoints answer, and the cut points in force equal to the stored ones (ClickHouse, Redis).
 */
describe('console Operations page (headless Chromium)', () => {
  const healthServers: Array<{ close: () => Promise<void> }> = [];
  const ports = { ready: 0, busy: 0, gone: 0 };

  beforeAll(async () => {
    // Two services' health endpoints (the shared health server every service runs) and a port nobody listens on.
    const server = async (failing: string[]) => {
      const checks: HealthChecks = { live: () => true, ready: async () => failing };
      const s = await startHealthServer({ port: 0, registry: new Registry(), checks });
      healthServers.push(s);
      return s.port;
    };
    ports.ready = await server([]);
    ports.busy = await server(['kafka: not a member of the consumer group']);
    ports.gone = await freePort();
  });

  const fx = consoleFixture({
    settings: () => ({
      CONSOLE_SERVICE_HEALTH_URLS: [
        `ready-svc=http://127.0.0.1:${ports.ready}/health/ready`,
        `busy-svc=http://127.0.0.1:${ports.busy}/health/ready`,
        `gone-svc=http://127.0.0.1:${ports.gone}/health/ready`,
      ].join(','),
    }),
  });

  afterAll(async () => {
    for (const s of healthServers) await s.close();
  });

  it('shows lag per group and dead-letter sizes equal to what the Kafka admin API says', async () => {
    const s = fx.run.settings;
    // Records nobody consumes (the run's services have stopped): 2 on the engine's input, 3 dead letters of orders.
    const producer = fx.clients.kafka.producer();
    await producer.connect();
    await producer.send({ topic: s.SIGNALS_TOPIC!, messages: [{ value: 'x' }, { value: 'y' }] });
    await producer.send({ topic: `${s.ORDERS_TOPIC}.dlq`, messages: [{ value: 'a' }, { value: 'b' }, { value: 'c' }] });
    await producer.disconnect();

    const admin = await fx.clients.admin();
    const existing = new Set(await admin.listTopics());
    const groups: Record<string, string[]> = {
      [s.AGGREGATOR_GROUP_ID!]: [s.ORDERS_TOPIC!, s.WEB_BEHAVIOR_TOPIC!, s.TICKETS_TOPIC!],
      [s.ENGINE_GROUP_ID!]: [s.SIGNALS_TOPIC!],
      [s.WRITER_GROUP_ID!]: [s.CHANGES_TOPIC!, s.TRANSITIONS_TOPIC!, s.SNAPSHOTS_TOPIC!, s.CUTPOINTS_TOPIC!],
    };
    const expectedLag: Record<string, string> = {};
    for (const [group, topics] of Object.entries(groups)) {
      let lag = 0n;
      for (const t of await admin.fetchOffsets({ groupId: group, topics: topics.filter((x) => existing.has(x)) })) {
        const ends = await admin.fetchTopicOffsets(t.topic);
        for (const p of t.partitions) {
          const end = ends.find((e) => e.partition === p.partition)!;
          const done = p.offset === '-1' ? BigInt(end.low) : BigInt(p.offset);
          if (BigInt(end.high) > done) lag += BigInt(end.high) - done;
        }
      }
      expectedLag[`lag-${group}`] = String(lag);
    }
    expect(Number(expectedLag[`lag-${s.ENGINE_GROUP_ID}`])).toBeGreaterThanOrEqual(2);
    const expectedDlq: Record<string, string> = {};
    // Every dead-letter topic of the configuration (the groups' inputs and outputs, identities, erasure requests).
    for (const topic of fx.clients.dlqTopics) {
      if (!existing.has(topic)) continue;
      const offsets = await admin.fetchTopicOffsets(topic);
      expectedDlq[`dlq-${topic}`] = String(offsets.reduce((n, p) => n + Number(BigInt(p.high) - BigInt(p.low)), 0));
    }
    expect(Number(expectedDlq[`dlq-${s.ORDERS_TOPIC}.dlq`])).toBeGreaterThanOrEqual(3);

    const page = await fx.newPage('viewer');
    await openOperations(page, fx.url);
    const lag = await shown(page, 'lag-');
    // Per group (the partition rows' ids are longer: `lag-<group>-<topic>-<partition>`).
    expect(Object.fromEntries(Object.keys(expectedLag).map((k) => [k, lag[k]]))).toEqual(expectedLag);
    expect(await shown(page, 'dlq-')).toEqual(expectedDlq);
    expect(await shown(page, 'health-')).toEqual({
      'health-kafka': 'ok',
      'health-schema-registry': 'ok',
      'health-redis': 'ok',
      'health-clickhouse': 'ok',
    });
    await fx.screenshot(page, 'operations');
  });

  it("shows each service's readiness as its health endpoint answers", async () => {
    const page = await fx.newPage('viewer');
    await openOperations(page, fx.url);
    expect(await shown(page, 'service-')).toEqual({
      'service-ready-svc': 'ready',
      'service-busy-svc': 'not ready',
      'service-gone-svc': 'down',
    });
    const busyRow = page.getByTestId('service-busy-svc').locator('xpath=ancestor::tr');
    expect(await busyRow.textContent()).toContain('kafka: not a member of the consumer group');
  });

  it('shows the cut points in force equal to the stored ones (ClickHouse cutpoint_history, Redis)', async () => {
    const { measured } = await engineClosedDays(fx.clients);
    expect(measured).not.toBeNull();
    const day = isoDay(measured! + 1); // the next day the engines evaluate
    const redis = await new TierStateStore(fx.redis, fx.prefix).getCutPoints();
    expect(redis).not.toBeNull();
    const stored = async (d: string) =>
      (
        await runNamedQuery(fx.ch, {
          dir: QUERIES_DIR,
          name: 'cutpoints_on_day',
          params: { day: d },
          database: fx.database,
          format: 'json',
        })
      ).rows as Array<{ version: string; cut_key: string; cuts_on_day: number[] }>;
    const rows = await stored(day);
    expect(rows.length).toBeGreaterThan(0);
    // The warehouse has the version the engines hold.
    expect(new Set(rows.map((r) => r.version))).toEqual(new Set([redis!.version]));

    const page = await fx.newPage('viewer');
    await openOperations(page, fx.url);
    expect(await page.getByTestId('cutpoints-day').getAttribute('data-value')).toBe(day);
    expect(await page.getByTestId('cutpoints-redis-version').getAttribute('data-value')).toBe(redis!.version);
    const cuts = await shown(page, 'cuts-');
    expect(Object.fromEntries(Object.entries(cuts).map(([k, v]) => [k, JSON.parse(v)]))).toEqual(
      Object.fromEntries(rows.map((r) => [`cuts-${r.cut_key}`, r.cuts_on_day])),
    );
    await fx.screenshot(page, 'operations-cutpoints');

    // An earlier day: the version in force then (or none), and anchored cuts as they applied that day.
    const earlier = isoDay(fx.run.firstDay + 20);
    const before = await stored(earlier);
    await openOperations(page, fx.url, earlier);
    expect(await page.getByTestId('cutpoints-day').getAttribute('data-value')).toBe(earlier);
    const cutsBefore = await shown(page, 'cuts-');
    expect(Object.fromEntries(Object.entries(cutsBefore).map(([k, v]) => [k, JSON.parse(v)]))).toEqual(
      Object.fromEntries(before.map((r) => [`cuts-${r.cut_key}`, r.cuts_on_day])),
    );
    const versions = await page
      .locator('[data-testid^="cut-"]')
      .evaluateAll((els) => [...new Set(els.map((e) => e.getAttribute('data-version')))]);
    expect(versions).toEqual([...new Set(before.map((r) => r.version))]);
  });
});

/**
 * The page an operator opens when something is wrong: with ClickHouse not answering (a console pointed at a port
 * nobody listens on), the health table, lag and dead letters are still shown, ClickHouse marked down, and the cut
 * points (read from ClickHouse) give way to the 503's message naming ClickHouse.
 */
describe('console Operations page with ClickHouse down (headless Chromium)', () => {
  let deadPort = 0;
  beforeAll(async () => {
    deadPort = await freePort();
  });
  const fx = consoleFixture({
    settings: () => ({ CLICKHOUSE_URL: `http://127.0.0.1:${deadPort}`, CONSOLE_SERVICE_HEALTH_URLS: '' }),
  });

  it('still shows health, lag and dead letters, and says why the cut points are missing', async () => {
    const page = await fx.newPage('viewer');
    await page.goto(`${fx.url}/#/operations`);
    await expect.poll(() => page.getByTestId('page').getAttribute('aria-busy')).toBe('false');
    const health = await shown(page, 'health-');
    expect(health['health-clickhouse']).toBe('down');
    expect(health['health-redis']).toBe('ok');
    expect(Object.keys(await shown(page, 'dlq-')).length).toBeGreaterThan(0);
    expect(await page.getByTestId('cutpoints-error').textContent()).toMatch(/^unavailable: clickhouse: /);
    await fx.screenshot(page, 'operations-clickhouse-down');
  });
});
