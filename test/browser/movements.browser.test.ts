import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { chartSeries, heatmapCellPoint } from './support/charts';
import { consoleFixture } from './support/console-fixture';
import { matrixOf, NONE, plusDays, rowsOf, tierHistory } from './support/history-oracle';

async function loaded(page: Page): Promise<void> {
  await expect.poll(() => page.getByTestId('page').getAttribute('aria-busy')).toBe('false');
}

/** The customer ids listed for the selected cell. */
async function listed(page: Page): Promise<string[]> {
  return page.getByTestId('cell-customer').evaluateAll((es) => es.map((e) => e.getAttribute('data-value') as string));
}

/**
 * The Movements page on the tiny workload: the matrix cells, the customers of a clicked cell and the transitions by
 * reason equal what the test works out from ClickHouse's raw rows.
 */
describe('Movements page (headless Chromium)', () => {
  const fx = consoleFixture();
  const db = () => fx.database;

  /** Two days 60 days apart ending on the history's last day: customers both stay and move. */
  const days = async () => {
    const [{ d }] = (await rowsOf<{ d: string }>(
      fx.ch,
      `SELECT toString(max(valid_from)) AS d FROM ${db()}.tier_history`,
    )) as [{ d: string }];
    return { from: plusDays(d, -60), to: d };
  };

  it('shows the migration matrix, lists the customers of a clicked cell and links them to their page', async () => {
    const { from, to } = await days();
    const history = await tierHistory(fx.ch, db(), 'value_tier');
    const expected = matrixOf(history, from, to);
    const page = await fx.newPage('viewer');
    await page.goto(`${fx.url}/#/movements?dimension=value_tier&from=${from}&to=${to}`);
    await loaded(page);

    // Every cell of the table, with its count and its share of the row; nothing more.
    const cells = await page.locator('[data-testid^="cell-"][data-share]').evaluateAll((es) =>
      es.map((e) => ({
        id: (e.getAttribute('data-testid') as string).slice('cell-'.length),
        n: Number(e.getAttribute('data-value')),
        share: Number(e.getAttribute('data-share')),
      })),
    );
    const want = [...expected].map(([key, list]) => ({ id: key.replace('→', '-'), n: list.length }));
    expect(cells.map(({ id, n }) => ({ id, n })).sort((a, b) => a.id.localeCompare(b.id))).toEqual(
      want.sort((a, b) => a.id.localeCompare(b.id)),
    );
    const rowTotal = (fromTier: string) =>
      [...expected].filter(([k]) => k.startsWith(`${fromTier}→`)).reduce((n, [, l]) => n + l.length, 0);
    for (const c of cells) expect(c.share).toBeCloseTo(c.n / rowTotal(c.id.split('-')[0]!), 12);
    const total = [...expected.values()].reduce((n, l) => n + l.length, 0);
    expect(Number(await page.getByTestId('matrix-total').getAttribute('data-value'))).toBe(total);
    const moved = [...expected].filter(([k]) => k.split('→')[0] !== k.split('→')[1]);
    expect(Number(await page.getByTestId('matrix-moved').getAttribute('data-value'))).toBe(
      moved.reduce((n, [, l]) => n + l.length, 0),
    );

    // The largest cell of customers who changed between two tiers: click it in the table.
    const [key, customers] = moved
      .filter(([k]) => !k.includes(NONE))
      .sort((a, b) => b[1].length - a[1].length || a[0].localeCompare(b[0]))[0]!;
    expect(customers.length).toBeGreaterThan(0);
    await page.getByTestId(`cell-${key.replace('→', '-')}`).click();
    await expect.poll(() => decodeURIComponent(page.url())).toContain(`cell=${key.replace('→', '~')}`);
    await expect.poll(() => listed(page)).toEqual(customers);
    expect(Number(await page.getByTestId('cell-customers-count').getAttribute('data-value'))).toBe(customers.length);
    await fx.screenshot(page, 'movements');

    // A click on a heatmap cell (another one: the customers who arrived from no tier) lists that cell.
    const [arrivedKey, arrived] = [...expected]
      .filter(([k]) => k.startsWith(`${NONE}→`))
      .sort((a, b) => b[1].length - a[1].length)[0]!;
    const [fromTier, toTier] = arrivedKey.split('→') as [string, string];
    const point = await heatmapCellPoint(page, 'matrix-chart', toTier, fromTier);
    await page.mouse.click(point.x, point.y);
    await expect.poll(() => decodeURIComponent(page.url())).toContain(`cell=${fromTier}~${toTier}`);
    await expect.poll(() => listed(page)).toEqual(arrived);

    // Each customer links to its Customer page.
    await page.getByTestId('cell-customer').first().click();
    await expect.poll(() => decodeURIComponent(page.url())).toContain(`#/customer/${arrived[0]}`);
    await expect.poll(() => page.getByTestId('page').getAttribute('data-page')).toBe('customer');
    expect(fx.pageErrors).toEqual([]);
  });

  it('shows the transitions per day by reason between the two days', async () => {
    const { from, to } = await days();
    const page = await fx.newPage('viewer');
    await page.goto(`${fx.url}/#/movements?dimension=lifecycle&from=${from}&to=${to}`);
    await loaded(page);
    const byReason = await rowsOf<{ reason: string; n: string }>(
      fx.ch,
      `SELECT reason, count() AS n FROM (SELECT transition_id, any(reason) AS reason FROM ${db()}.tier_transitions WHERE dimension = 'lifecycle' AND occurred_day >= '${from}' AND occurred_day <= '${to}' GROUP BY transition_id) GROUP BY reason`,
    );
    expect(byReason.length).toBeGreaterThanOrEqual(2);
    const series = await chartSeries(page, 'reasons-chart');
    const shown = Object.fromEntries(series.map((s) => [s.name, s.data.reduce((a, b) => a + b, 0)]));
    expect(shown).toEqual(Object.fromEntries(byReason.map((r) => [r.reason, Number(r.n)])));
    for (const s of series) expect(s.data).toHaveLength(61);
    expect(Number(await page.getByTestId('reasons-total').getAttribute('data-value'))).toBe(
      byReason.reduce((n, r) => n + Number(r.n), 0),
    );
    expect(fx.pageErrors).toEqual([]);
    await fx.screenshot(page, 'movements-reasons');
  });

  it('refuses bad parameters with a 400 that names them', async () => {
    const bad = await fx.api<{ error: string }>('/api/v1/movements/matrix?dimension=tiers');
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatch(/^dimension: unknown dimension 'tiers' \(known: value_tier, .*lifecycle/);
    const backwards = await fx.api<{ error: string }>('/api/v1/movements/matrix?from=2026-06-30&to=2026-06-01');
    expect(backwards).toEqual({ status: 400, body: { error: 'from: 2026-06-30 is after to (2026-06-01)' } });
    const overview = await fx.api<{ error: string }>('/api/v1/overview/distribution?dimension=nope');
    expect(overview.status).toBe(400);
  });
});
