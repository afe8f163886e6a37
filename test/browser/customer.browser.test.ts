import { AggregateStore, metricsAt } from '@tierstream/aggregates';
import { dayOf, isoDay, TierStateStore } from '@tierstream/tierstate';
import { QUERIES_DIR, runNamedQuery } from '@tierstream/warehouse';
import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/free-port';
import { consoleFixture } from './support/console-fixture';

/**
 * The Customer page on the scripted journey of the browser run (test/browser/support/journey.ts): what it shows must
 * be what ClickHouse and Redis hold, read by the test itself.
 */
describe('Customer page (headless Chromium)', () => {
  const fx = consoleFixture();
  const id = fx.run.journeyCustomer;

  /** The rows of the timeline as the page shows them. */
  const timeline = (page: Page) =>
    page.getByTestId('transition').evaluateAll((rows) =>
      rows.map((r) => {
        const cell = (t: string) => r.querySelector(`[data-testid="${t}"]`)?.getAttribute('data-value') ?? null;
        return {
          id: r.getAttribute('data-transition-id'),
          day: cell('transition-day'),
          dimension: cell('transition-dimension'),
          move: cell('transition-move'),
          reason: cell('transition-reason'),
          rule: cell('transition-rule'),
          numbers: JSON.parse(cell('transition-numbers') ?? '{}') as Record<string, number>,
        };
      }),
    );
  /** dimension → [tier, rule] as the Tiers card shows them. */
  const shownTiers = async (page: Page) => {
    const rows = await page
      .getByTestId('tiers')
      .locator('tbody tr')
      .evaluateAll((trs) =>
        trs.map((tr) => {
          const dim = (tr.getAttribute('data-testid') ?? '').replace('tier-row-', '');
          const v = (t: string) => tr.querySelector(`[data-testid="${t}-${dim}"]`)?.getAttribute('data-value') ?? null;
          return [dim, { tier: v('tier'), rule: v('rule') }] as const;
        }),
      );
    return Object.fromEntries(rows) as Record<string, { tier: string | null; rule: string | null }>;
  };
  /** The tiers of the customer on `day` from ClickHouse tier_history (the SQL pack's customer_on_day). */
  const historyTiers = async (day: string) => {
    const { rows } = await runNamedQuery(fx.ch, {
      dir: QUERIES_DIR,
      name: 'customer_on_day',
      params: { customer_id: id, day },
      database: fx.database,
    });
    return Object.fromEntries(rows.filter((r) => r.kind === 'tier').map((r) => [r.name, r.value]));
  };

  it('after the login page, shows the journey: its transitions in order with reasons, rules and numbers as in ClickHouse', async () => {
    const page = await fx.newPage(null);
    await page.goto(`${fx.url}/login.html#/customer/${id}`);
    await fx.login(page, fx.viewerToken);
    await page.getByTestId('timeline').waitFor();
    const shown = await timeline(page);

    const rs = await fx.ch.query({
      query: `SELECT transition_id, toString(occurred_day) AS day, dimension, from_tier, to_tier, reason, rule_id,
                     metric_names, metric_values
              FROM ${fx.database}.tier_transitions FINAL
              WHERE customer_id = '${id.replace(/[\\']/g, (c) => `\\${c}`)}'
              ORDER BY occurred_at, dimension, transition_id`,
      format: 'JSONEachRow',
    });
    const rows = await rs.json<{
      transition_id: string;
      day: string;
      dimension: string;
      from_tier: string | null;
      to_tier: string;
      reason: string;
      rule_id: string;
      metric_names: string[];
      metric_values: number[];
    }>();
    expect(rows.length).toBeGreaterThanOrEqual(fx.run.journeyLifecycle.length);
    expect(shown).toEqual(
      rows.map((r) => ({
        id: r.transition_id,
        day: r.day,
        dimension: r.dimension,
        move: `${r.from_tier ?? ''}>${r.to_tier}`,
        reason: r.reason,
        rule: r.rule_id,
        numbers: Object.fromEntries(r.metric_names.map((n, i) => [n, r.metric_values[i]])),
      })),
    );
    // The lifecycle part is the script's journey, in order, with the reasons the rules give.
    expect(shown.filter((t) => t.dimension === 'lifecycle').map((t) => [t.day, t.move, t.reason])).toEqual(
      fx.run.journeyLifecycle.map((s) => [isoDay(s.day), `${s.from ?? ''}>${s.to}`, s.reason]),
    );
    await fx.screenshot(page, 'customer-journey');
  });

  it('shows the current tiers with their deciding rule, and the metrics, as Redis holds them', async () => {
    const page = await fx.newPage('viewer');
    await page.goto(`${fx.url}/#/customer/${id}`);
    await page.getByTestId('metrics').waitFor();
    const state = (await new TierStateStore(fx.redis, fx.prefix).readStates([id])).get(id);
    expect(state).toBeDefined();
    expect(await shownTiers(page)).toEqual(
      Object.fromEntries(Object.entries(state!.tiers).map(([d, t]) => [d, { tier: t, rule: state!.decided_by[d] }])),
    );
    const aggregates = await new AggregateStore(fx.redis, {
      prefix: fx.prefix,
      config: fx.clients.aggregateConfig,
    }).readState(id);
    const metrics = metricsAt(aggregates!, Date.now(), fx.clients.aggregateConfig);
    // Metrics that do not move with the clock between the page's read and ours.
    for (const name of ['revenue_lifetime', 'orders_lifetime', 'aov_lifetime', 'last_order_at', 'web_page_view_365d']) {
      const cell = page.getByTestId(`metric-${name}`);
      expect(Number(await cell.getAttribute('data-value')), name).toBe(metrics[name]);
    }
    // Money in the reporting currency, formatted for the browser's locale (en-US here).
    const currency = fx.clients.aggregateConfig.reportingCurrency;
    const money = new Intl.NumberFormat('en-US', { style: 'currency', currency });
    const digits = money.resolvedOptions().maximumFractionDigits ?? 2;
    expect(await page.getByTestId('metric-revenue_lifetime').textContent()).toBe(
      money.format(metrics.revenue_lifetime! / 10 ** digits),
    );
    expect(fx.externalRequests).toEqual([]);
    await fx.screenshot(page, 'customer-current');
  });

  it('travels back in time: the tiers shown for a past day are those of tier_history on that day', async () => {
    const page = await fx.newPage('viewer');
    await page.goto(`${fx.url}/#/customer/${id}`);
    await page.getByTestId('tiers').waitFor();
    const steps = fx.run.journeyLifecycle;
    // A day while ACTIVE (between the second order and AT_RISK), then the day of the first order (NEW).
    for (const [day, lifecycle, rule] of [
      [isoDay(steps[2]!.day + 5), 'ACTIVE', 'active_repeat_buyer'],
      [isoDay(steps[1]!.day), 'NEW', 'new_first_order'],
    ] as const) {
      await page.getByTestId('as-of').fill(day);
      await page.getByTestId('as-of-apply').click();
      await expect.poll(() => page.getByTestId('customer-header').getAttribute('data-day')).toBe(day);
      await page.getByTestId('tiers').waitFor();
      expect(await page.getByTestId('tiers-source').getAttribute('data-value')).toBe('tier_history');
      const shown = await shownTiers(page);
      const history = await historyTiers(day);
      expect(Object.fromEntries(Object.entries(shown).map(([d, v]) => [d, v.tier]))).toEqual(history);
      expect(shown.lifecycle).toEqual({ tier: lifecycle, rule });
      expect(page.url()).toContain(`as_of=${day}`);
    }
    await fx.screenshot(page, 'customer-as-of');
    // Back to now: the current state again.
    await page.getByTestId('as-of-now').click();
    await expect.poll(() => page.getByTestId('tiers-source').getAttribute('data-value')).toBe('tier_state');
    expect(dayOf(Date.now())).toBeGreaterThan(steps[3]!.day);
  });

  it('says so for an unknown customer (404) without breaking the page', async () => {
    const page = await fx.newPage('viewer');
    await page.goto(`${fx.url}/#/customer/no-such-customer-anywhere`);
    await expect.poll(() => page.getByTestId('customer-error').getAttribute('data-status')).toBe('404');
    await page.getByTestId('customer-search').fill(id);
    await page.getByTestId('customer-go').click();
    await page.getByTestId('timeline').waitFor();
  });
});

/**
 * ClickHouse down (a console pointed at a port nobody listens on): the current tiers and metrics come from Redis and are
 * still shown; the timeline (from ClickHouse) gives way to the 503's message naming ClickHouse.
 */
describe('Customer page with ClickHouse down (headless Chromium)', () => {
  let deadPort = 0;
  beforeAll(async () => {
    deadPort = await freePort();
  });
  const fx = consoleFixture({ settings: () => ({ CLICKHOUSE_URL: `http://127.0.0.1:${deadPort}` }) });

  it('shows the current tiers from Redis and says why the transitions are missing', async () => {
    const id = fx.run.journeyCustomer;
    const page = await fx.newPage('viewer');
    await page.goto(`${fx.url}/#/customer/${id}`);
    await page.getByTestId('metrics').waitFor();
    const state = (await new TierStateStore(fx.redis, fx.prefix).readStates([id])).get(id);
    expect(await page.getByTestId('tiers').locator('tbody tr').count()).toBe(Object.keys(state!.tiers).length);
    expect(await page.getByTestId('transitions-error').textContent()).toMatch(/^unavailable: clickhouse: /);
    await fx.screenshot(page, 'customer-clickhouse-down');
  });
});
