/**
 * The README's console screenshots: `npm run console:screenshots [-- --out docs/img]`. Reads the demo's data (the
 * default settings, or the environment's: run `npm run demo -- --no-console` first), starts a console on it (in this
 * process, loopback, a token made for the run), opens the Overview and the Customer page of the customer with the most
 * transitions (as of the last day of the data) in headless Chromium (Debian's chromium, scripts/install-chromium.sh) and saves
 * `<out>/console-overview.png` and `<out>/console-customer.png`. Exits 1 with one line when there is no demo data.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Clients, REPO_ROOT } from '@tierstream/cli';
import { consoleLogger, loadConsoleConfig, type RunningConsole, startConsole } from '@tierstream/console';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../test/browser/support/chromium';

const { values } = parseArgs({
  options: { out: { type: 'string', default: path.join(REPO_ROOT, 'docs', 'img') } },
});

/** Waits until the page module finished rendering and the charts had time to draw. */
async function settled(page: Page): Promise<void> {
  await page.locator('#page[aria-busy="false"]').waitFor({ timeout: 60_000 });
  await page.waitForTimeout(1_500);
}

async function main(): Promise<void> {
  const token = randomBytes(18).toString('base64url');
  const config = loadConsoleConfig({ ...process.env, CONSOLE_PORT: '0', CONSOLE_VIEWER_TOKEN: token });
  const logger = consoleLogger();
  logger.level = 'warn';
  let server: RunningConsole | null = null;
  let browser: Browser | null = null;
  try {
    server = await startConsole(config, logger);
    const db = config.CLICKHOUSE_DATABASE;
    const res = await fetch(`${server.url}/api/v1/session`, { headers: { authorization: `Bearer ${token}` } });
    if (!res.ok) throw new Error(`the console did not answer (${res.status})`);
    const clients = new Clients(config);
    let customer: string | undefined;
    let lastDay: string | undefined;
    try {
      const rs = await clients.clickhouse.query({
        query: `SELECT customer_id, count() AS n FROM ${db}.tier_transitions FINAL GROUP BY customer_id ORDER BY n DESC, customer_id LIMIT 1`,
        format: 'JSONEachRow',
      });
      customer = (await rs.json<{ customer_id: string }>())[0]?.customer_id;
      // The demo replays a history that ends before today: show the customer as of its last day.
      const last = await clients.clickhouse.query({
        query: `SELECT toString(max(occurred_day)) AS day FROM ${db}.tier_transitions`,
        format: 'JSONEachRow',
      });
      lastDay = (await last.json<{ day: string }>())[0]?.day;
    } catch {
      customer = undefined;
    } finally {
      await clients.close();
    }
    if (!customer) {
      process.stderr.write(
        `console:screenshots: no transitions in ClickHouse database ${db}: run \`npm run demo -- --no-console\` first\n`,
      );
      process.exitCode = 1;
      return;
    }
    mkdirSync(values.out!, { recursive: true });
    browser = await launchChromium();
    const base = new URL(server.url);
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: 'en-US' });
    await context.addCookies([
      {
        name: 'tierstream_console',
        value: token,
        domain: base.hostname,
        path: '/',
        httpOnly: true,
        sameSite: 'Strict',
      },
    ]);
    const page = await context.newPage();
    await page.goto(`${server.url}/#/overview`);
    await settled(page);
    const overview = path.join(values.out!, 'console-overview.png');
    await page.screenshot({ path: overview });
    await page.goto(`${server.url}/#/customer/${encodeURIComponent(customer)}${lastDay ? `?as_of=${lastDay}` : ''}`);
    await settled(page);
    const customerShot = path.join(values.out!, 'console-customer.png');
    await page.screenshot({ path: customerShot });
    process.stdout.write(
      `saved ${path.relative(REPO_ROOT, overview)} and ${path.relative(REPO_ROOT, customerShot)} (customer ${customer})\n`,
    );
  } finally {
    await browser?.close();
    await server?.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`console:screenshots: ${(err as Error).message}\n`);
  process.exit(1);
});
