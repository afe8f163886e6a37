import { QUERIES_DIR, runNamedQuery } from '@tierstream/warehouse';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { chartSeries } from './support/charts';
import { consoleFixture } from './support/console-fixture';
import { countsOn, plusDays, rowsOf, tierHistory } from './support/history-oracle';

/** `data-value` of every element whose data-testid starts with `prefix`, by the rest of the test id. */
async function valuesByTestId(page: Page, prefix: string): Promise<Record<string, number>> {
  const pairs = await page
    .locator(`[data-testid^="${prefix}"]`)
    .evaluateAll((es) => es.map((e) => [e.getAttribute('data-testid') as string, e.getAttribute('data-value')]));
  return Object.fromEntries(pairs.map(([id, v]) => [(id as string).slice(prefix.length), Number(v)]));
}

async function loaded(page: Page): Promise<void> {
  await expect.poll(() => page.getByTestId('page').getAttribute('aria-busy')).toBe('false');
}

/** The Overview page on the tiny workload: every number shown equals what the test reads from ClickHouse and Redis. */
describe('Overview page (headless Chromium)', () => {
  const fx = consoleFixture();
  const db = () => fx.database;

  /** The data's last day as the page defaults to it: the latest of the history, transitions and current state. */
  const lastDay = async () =>
    (
      await rowsOf<{ d: string }>(
        fx.ch,
        `SELECT toString(greatest(greatest((SELECT max(valid_from) FROM ${db()}.tier_history), (SELECT max(occurred_day) FROM ${db()}.tier_transitions)), (SELECT max(metrics_day) FROM ${db()}.tier_current))) AS d`,
      )
    )[0]!.d;

  /** Customers per tier of `dimension` in the current state (tier_current, highest state_version per customer). */
  const currentCounts = async (dimension: string) => {
    const rows = await rowsOf<{ tier: string; n: string }>(
      fx.ch,
      `SELECT tier, count() AS n FROM (SELECT argMax(tiers[indexOf(dims, '${dimension}')], state_version) AS tier FROM ${db()}.tier_current GROUP BY customer_id) WHERE tier != '' GROUP BY tier`,
    );
    return Object.fromEntries(rows.map((r) => [r.tier, Number(r.n)]));
  };

  it("shows today's counts per tier, the Redis cross-check, the revenue shares and the latest transitions", async () => {
    const page = await fx.newPage('viewer');
    await page.goto(`${fx.url}/#/overview`);
    await loaded(page);

    // Today's counts: tier_current. Each tier once, nothing else.
    const counts = await valuesByTestId(page, 'count-');
    const shown = Object.fromEntries(Object.entries(counts).filter(([k]) => !k.startsWith('share-') && k !== 'none'));
    const expected = await currentCounts('value_tier');
    expect(Object.keys(expected).length).toBeGreaterThanOrEqual(3);
    expect(shown).toEqual(expected);

    // The cross-check: customers in tier_current and the tier engine's tier states in Redis (counted here by key).
    const [{ n: inClickHouse }] = await rowsOf<{ n: string }>(
      fx.ch,
      `SELECT uniqExact(customer_id) AS n FROM ${db()}.tier_current`,
    ).then((r) => r as [{ n: string }]);
    let stateKeys = 0;
    let cursor = '0';
    do {
      const [next, keys] = await fx.redis.scan(cursor, 'MATCH', `${fx.prefix}:{*}:tier`, 'COUNT', 1000);
      cursor = next;
      stateKeys += keys.length;
    } while (cursor !== '0');
    expect(Number(await page.getByTestId('clickhouse-customers').getAttribute('data-value'))).toBe(
      Number(inClickHouse),
    );
    expect(Number(await page.getByTestId('redis-customers').getAttribute('data-value'))).toBe(stateKeys);
    expect(await page.getByTestId('crosscheck').getAttribute('data-agree')).toBe('true');

    // Revenue share per value tier on the last day (the SQL pack's revenue_share, the analysts' definition).
    const day = await lastDay();
    const revenue = await runNamedQuery(fx.ch, {
      dir: QUERIES_DIR,
      name: 'revenue_share',
      params: { day },
      database: db(),
      format: 'json',
    });
    expect(revenue.rows.length).toBeGreaterThanOrEqual(3);
    const shares = await valuesByTestId(page, 'revenue-share-');
    const revenues = await valuesByTestId(page, 'revenue-');
    expect(shares).toEqual(Object.fromEntries(revenue.rows.map((r) => [r.tier, Number(r.revenue_share)])));
    for (const r of revenue.rows) expect(revenues[String(r.tier)]).toBe(Number(r.revenue));
    // Money in the browser's locale (en-US, USD).
    const top = revenue.rows[0]!;
    expect(await page.getByTestId(`revenue-${top.tier}`).textContent()).toBe(
      new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD' }).format(Number(top.revenue) / 100),
    );

    // The latest value_tier transitions, newest first, each with its reason.
    const latest = await rowsOf<{ transition_id: string; reason: string }>(
      fx.ch,
      `SELECT transition_id, any(reason) AS reason, max(occurred_at) AS at FROM ${db()}.tier_transitions WHERE dimension = 'value_tier' GROUP BY transition_id ORDER BY at DESC, transition_id LIMIT 20`,
    );
    const rows = page.getByTestId('transition');
    expect(await rows.evaluateAll((es) => es.map((e) => e.getAttribute('data-value')))).toEqual(
      latest.map((t) => t.transition_id),
    );
    expect(await page.getByTestId('transition-reason').allTextContents()).toEqual(latest.map((t) => t.reason));
    expect(fx.pageErrors).toEqual([]);
    await fx.screenshot(page, 'overview');
  });

  it('follows the dimension and the date range: the stacked areas are the customers per tier per day', async () => {
    const page = await fx.newPage('viewer');
    await page.goto(`${fx.url}/#/overview`);
    await loaded(page);
    await page.getByTestId('dimension').selectOption('lifecycle');
    await expect.poll(() => page.getByTestId('distribution-chart').getAttribute('data-series')).toContain('NEW');
    await loaded(page);
    const to = await lastDay();
    const from = plusDays(to, -29);
    await page.getByTestId('range-from').fill(from);
    await page.getByTestId('range-to').fill(to);
    await page.getByTestId('range-apply').click();
    await expect.poll(() => page.getByTestId('distribution-chart').getAttribute('data-from')).toBe(from);
    await loaded(page);

    // Counts of the chosen dimension.
    const counts = Object.fromEntries(
      Object.entries(await valuesByTestId(page, 'count-')).filter(([k]) => !k.startsWith('share-') && k !== 'none'),
    );
    expect(counts).toEqual(await currentCounts('lifecycle'));

    // The chart's data, read from the ECharts instance: per tier, one value per day of the range.
    const series = await chartSeries(page, 'distribution-chart');
    const history = await tierHistory(fx.ch, db(), 'lifecycle');
    const days = Array.from({ length: 30 }, (_, i) => plusDays(from, i));
    const expected = new Map<string, number[]>();
    days.forEach((d, i) => {
      for (const [tier, n] of Object.entries(countsOn(history, d))) {
        if (!expected.has(tier)) expected.set(tier, new Array(days.length).fill(0));
        expected.get(tier)![i] = n;
      }
    });
    expect(Object.fromEntries(series.map((s) => [s.name, s.data]))).toEqual(Object.fromEntries(expected));
    expect(expected.size).toBeGreaterThanOrEqual(3);

    // Only transitions of the range are listed.
    const ids = await page.getByTestId('transition').evaluateAll((es) => es.map((e) => e.getAttribute('data-value')));
    expect(ids.length).toBeGreaterThan(0);
    const [{ outside }] = (await rowsOf<{ outside: string }>(
      fx.ch,
      `SELECT countIf(occurred_day < '${from}' OR occurred_day > '${to}' OR dimension != 'lifecycle') AS outside FROM ${db()}.tier_transitions WHERE transition_id IN (${ids.map((i) => `'${i}'`).join(',')})`,
    )) as [{ outside: string }];
    expect(Number(outside)).toBe(0);
    expect(fx.pageErrors).toEqual([]);
    await fx.screenshot(page, 'overview-lifecycle');
  });
});
